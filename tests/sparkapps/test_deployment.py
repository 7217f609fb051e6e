"""Deployment settings load from YAML and the environment and reject what a manifest cannot honour."""
from __future__ import annotations

import pytest

from sparkapps import deployment
from sparkapps.deployment import DeploymentSettings, PodResources
from sparkeo.errors import ConfigError

YAML = """
image: registry.example/sparkeo:1.2.3
namespace: eo-jobs
driver: {cores: 2, memory: 3g, memory-overhead: 1g}
executor: {cores: 4, memory: 8g}
instances: 3
restart_policy: {type: Never}
node_selector: {pool: spark}
tolerations: [{key: spark, operator: Equal, value: "yes", effect: NoSchedule}]
bounds: {executor_memory: [1g, 64g], max_executors: [1, 50]}
spark_conf: {spark.sql.shuffle.partitions: 64}
"""


def test_yaml_settings_load(tmp_path):
    path = tmp_path / "deploy.yaml"
    path.write_text(YAML)
    s = deployment.load(str(path), env={})
    assert s.image == "registry.example/sparkeo:1.2.3" and s.namespace == "eo-jobs"
    assert s.driver == PodResources(2, "3g", "1g") and s.executor == PodResources(4, "8g", None)
    assert s.instances == 3 and s.restart_policy.type == "Never"
    assert dict(s.node_selector) == {"pool": "spark"}
    assert s.tolerations[0]["effect"] == "NoSchedule"
    assert s.bounds.executor_memory == ("1g", "64g") and s.bounds.max_executors == (1, 50)
    assert dict(s.spark_conf) == {"spark.sql.shuffle.partitions": "64"}
    # untouched settings keep their defaults
    assert s.service_account == DeploymentSettings().service_account


def test_environment_overrides_the_file(tmp_path):
    path = tmp_path / "deploy.yaml"
    path.write_text(YAML)
    env = {"SPARKEO_DEPLOYMENT": str(path), "SPARKEO_NAMESPACE": "other", "AWS_ENDPOINT_URL": "http://s3:9000"}
    s = deployment.load(None, env=env)
    assert (s.namespace, s.s3_endpoint, s.image) == ("other", "http://s3:9000", "registry.example/sparkeo:1.2.3")


def test_defaults_without_a_file():
    assert deployment.load(None, env={}) == DeploymentSettings()


@pytest.mark.parametrize("data, where", [
    ({"imgae": "x"}, "imgae"),
    ({"driver": {"cpus": 2}}, "driver.cpus"),
    ({"driver": {"memory": "lots"}}, "driver.memory"),
    ({"executor": {"cores": 0}}, "executor.cores"),
    ({"restart_policy": {"type": "Sometimes"}}, "restart_policy.type"),
    ({"dynamic_min_executors": 5, "dynamic_max_executors": 2}, "dynamic_"),
    ({"metrics_port": 80}, "metrics_port"),
    ({"driver": "big"}, "driver"),
    ({"bounds": {"executor_memory": "32g"}}, "bounds.executor_memory"),
    ({"bounds": {"executor_memory": ["8g", "1g"]}}, "bounds.executor_memory"),
    ({"bounds": {"max_executors": [1, "many"]}}, "bounds.max_executors"),
])
def test_bad_settings_name_the_setting(data, where):
    with pytest.raises(ConfigError) as err:
        deployment.from_mapping(data, source="deploy.yaml")
    assert where in str(err.value) and "deploy.yaml" in str(err.value)


def test_bad_yaml_is_a_config_error(tmp_path):
    path = tmp_path / "deploy.yaml"
    path.write_text("image: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        deployment.load(str(path), env={})
