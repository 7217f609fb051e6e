"""openEO process implementations, registered by id in ``jobs.processes.registry``.

Importing this package registers every process (each module registers its own on import).
"""
from jobs.processes.registry import REGISTRY, ProcessSpec, Param, lookup, process  # noqa: F401
