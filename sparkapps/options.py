"""openEO job options -> SparkApplication resources, within the deployment's bounds.

Resource options (``driver-memory``, ``executor-cores``, ``max-executors``, ...) change the
deployment settings for one job; every other option (``soft_errors``, ``max_input_pixels``, ...)
is the engine's business and is passed through to the driver unchanged. A value outside the
configured bounds raises ``JobOptionError`` naming option, value and bound.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from sparkapps.deployment import DeploymentSettings
from sparkapps.errors import JobOptionError
from sparkapps.quantities import memory_mib, memory_text


@dataclass(frozen=True)
class ResourceOption:
    """One resource option: which pod (or ``None`` for executor counts), which field, which bound."""

    role: str | None
    attr: str
    bound: str
    kind: str  # "memory" or "int"


RESOURCE_OPTIONS = {
    "driver-memory": ResourceOption("driver", "memory", "driver_memory", "memory"),
    "driver-memoryOverhead": ResourceOption("driver", "memory_overhead", "driver_memory_overhead", "memory"),
    "driver-cores": ResourceOption("driver", "cores", "driver_cores", "int"),
    "executor-memory": ResourceOption("executor", "memory", "executor_memory", "memory"),
    "executor-memoryOverhead": ResourceOption("executor", "memory_overhead", "executor_memory_overhead", "memory"),
    "executor-cores": ResourceOption("executor", "cores", "executor_cores", "int"),
    "max-executors": ResourceOption(None, "max_executors", "max_executors", "int"),
}
# spellings other openEO back-ends accept for the same options
ALIASES = {
    "driver_memory": "driver-memory",
    "driver_memory_overhead": "driver-memoryOverhead",
    "driver-memory-overhead": "driver-memoryOverhead",
    "driver_cores": "driver-cores",
    "executor_memory": "executor-memory",
    "executor_memory_overhead": "executor-memoryOverhead",
    "executor-memory-overhead": "executor-memoryOverhead",
    "executor_cores": "executor-cores",
    "max_executors": "max-executors",
    "soft-errors": "soft_errors",
}


@dataclass(frozen=True)
class ResolvedOptions:
    """The deployment with the job's resource options applied, and the options left for the engine."""

    deployment: DeploymentSettings
    engine_options: Mapping[str, Any]


def resolve(deployment: DeploymentSettings, job_options: Mapping[str, Any] | None) -> ResolvedOptions:
    """Apply ``job_options`` to ``deployment``; raises ``JobOptionError`` on a bad or out-of-bounds value."""
    if job_options is None:
        job_options = {}
    if not isinstance(job_options, Mapping):
        raise JobOptionError("job_options", job_options, "must be a JSON object")
    pods = {"driver": deployment.driver, "executor": deployment.executor}
    changes: dict[str, Any] = {}
    engine: dict[str, Any] = {}
    for raw_name, value in job_options.items():
        name = ALIASES.get(raw_name, raw_name)
        option = RESOURCE_OPTIONS.get(name)
        if option is None:
            if name == "soft_errors":
                value = _soft_errors(raw_name, value)
            engine[name] = value
            continue
        checked = _within(raw_name, value, option, getattr(deployment.bounds, option.bound))
        if option.role is None:
            changes.update(_executor_count(deployment, checked))
        else:
            pods[option.role] = dataclasses.replace(pods[option.role], **{option.attr: checked})
    resolved = dataclasses.replace(deployment, driver=pods["driver"], executor=pods["executor"], **changes)
    return ResolvedOptions(resolved, engine)


def _within(name: str, value: Any, option: ResourceOption, bound: tuple) -> Any:
    low, high = bound
    if option.kind == "memory":
        try:
            mib = memory_mib(value)
        except ValueError as exc:
            raise JobOptionError(name, value, str(exc)) from None
        if mib < memory_mib(low):
            raise JobOptionError(name, value, f"below the minimum {low}")
        if mib > memory_mib(high):
            raise JobOptionError(name, value, f"exceeds the maximum {high}")
        return memory_text(mib)
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        else:
            raise JobOptionError(name, value, "expected an integer")
    if value < low:
        raise JobOptionError(name, value, f"below the minimum {low}")
    if value > high:
        raise JobOptionError(name, value, f"exceeds the maximum {high}")
    return value


def _executor_count(deployment: DeploymentSettings, maximum: int) -> dict[str, int]:
    """``max-executors`` caps dynamic allocation, or the static executor count when there is one."""
    if deployment.instances is not None:
        return {"instances": min(deployment.instances, maximum)}
    return {
        "dynamic_max_executors": maximum,
        "dynamic_initial_executors": min(deployment.dynamic_initial_executors, maximum),
        "dynamic_min_executors": min(deployment.dynamic_min_executors, maximum),
    }


def _soft_errors(name: str, value: Any) -> Any:
    """``soft_errors``: a boolean, or the fraction of unreadable assets allowed (openEO convention)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and 0 <= value <= 1:
        return value
    raise JobOptionError(name, value, "expected true/false or a fraction between 0 and 1")

