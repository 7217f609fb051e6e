"""openEO job options map onto SparkApplication resources within the configured bounds."""
from __future__ import annotations

import pytest

from sparkapps.deployment import DeploymentSettings, OptionBounds, PodResources
from sparkapps.errors import JobOptionError
from sparkapps.options import resolve
from sparkapps.quantities import memory_mib, memory_text
from sparkeo.errors import UserError

BASE = DeploymentSettings(
    driver=PodResources(1, "2g", "512m"), executor=PodResources(2, "4g", "1g"),
    dynamic_min_executors=1, dynamic_initial_executors=2, dynamic_max_executors=10,
    bounds=OptionBounds(executor_memory=("1g", "16g"), max_executors=(1, 20), executor_cores=(1, 4)),
)


@pytest.mark.parametrize("text, mib", [
    ("512m", 512), ("2g", 2048), ("2G", 2048), ("1.5g", 1536), ("2048", 2048), (1024, 1024),
    ("4gb", 4096), ("1t", 1024 * 1024), ("2048k", 2), ("1tb", 1024 * 1024),
])
def test_memory_sizes_parse_to_mib(text, mib):
    assert memory_mib(text) == mib


@pytest.mark.parametrize("bad", ["", "lots", "2x", "-1g", "3Gi", True, None, [1]])
def test_bad_memory_sizes_are_rejected(bad):
    with pytest.raises(ValueError):
        memory_mib(bad)


@pytest.mark.parametrize("mib", [1, 512, 1024, 1536, 4096, 16384])
def test_memory_text_round_trips(mib):
    assert memory_mib(memory_text(mib)) == mib


def test_resource_options_change_the_pods_and_the_rest_goes_to_the_engine():
    r = resolve(BASE, {"driver-memory": "4g", "executor-memory": "8192m", "executor-cores": 3,
                       "executor-memoryOverhead": "2g", "driver-cores": "2",
                       "soft_errors": 0.1, "max_input_pixels": 10**9})
    d = r.deployment
    assert (d.driver.memory, d.driver.cores, d.driver.memory_overhead) == ("4g", 2, "512m")
    assert (d.executor.memory, d.executor.cores, d.executor.memory_overhead) == ("8g", 3, "2g")
    assert dict(r.engine_options) == {"soft_errors": 0.1, "max_input_pixels": 10**9}
    # the input settings are untouched (frozen values)
    assert BASE.executor.memory == "4g"


def test_aliases_of_other_backends_are_accepted():
    r = resolve(BASE, {"executor_memory": "2g", "soft-errors": True})
    assert r.deployment.executor.memory == "2g"
    assert dict(r.engine_options) == {"soft_errors": True}


def test_max_executors_caps_dynamic_allocation():
    d = resolve(BASE, {"max-executors": 1}).deployment
    assert (d.dynamic_min_executors, d.dynamic_initial_executors, d.dynamic_max_executors) == (1, 1, 1)
    d = resolve(BASE, {"max-executors": 15}).deployment
    assert (d.dynamic_min_executors, d.dynamic_initial_executors, d.dynamic_max_executors) == (1, 2, 15)


def test_max_executors_caps_static_instances():
    static = BASE.replace(instances=6)
    assert resolve(static, {"max-executors": 4}).deployment.instances == 4
    assert resolve(static, {"max-executors": 8}).deployment.instances == 6


@pytest.mark.parametrize("option, value, message", [
    ("executor-memory", "64g", "exceeds the maximum 16g"),
    ("executor-memory", "512m", "below the minimum 1g"),
    ("max-executors", 21, "exceeds the maximum 20"),
    ("max-executors", 0, "below the minimum 1"),
    ("executor-cores", 5, "exceeds the maximum 4"),
    ("executor-cores", "many", "expected an integer"),
    ("executor-cores", 2.5, "expected an integer"),
    ("driver-memory", "much", "not a memory size"),
    ("soft_errors", 1.5, "fraction between 0 and 1"),
    ("soft_errors", "yes", "true/false"),
])
def test_out_of_bounds_options_name_option_value_and_bound(option, value, message):
    with pytest.raises(JobOptionError) as err:
        resolve(BASE, {option: value})
    assert isinstance(err.value, UserError) and err.value.exit_code == 2
    text = str(err.value)
    assert repr(option) in text and repr(value) in text and message in text
    assert err.value.option == option and err.value.value == value


def test_job_options_must_be_an_object():
    with pytest.raises(JobOptionError, match="JSON object"):
        resolve(BASE, ["executor-memory", "2g"])
    assert resolve(BASE, None).deployment == BASE
