"""The errors of ``sparkapps``: bad job ids and job options (user errors), and what the
Kubernetes API answered (the ``SubmitError`` family).

HTTP statuses become these classes in one place, ``sparkapps.client.check_response``.
"""
from __future__ import annotations

from sparkeo.errors import RunError, UserError
from sparkeo.names import InvalidJobId  # noqa: F401  (re-exported: the family of sparkapps errors)


class JobOptionError(UserError, ValueError):
    """Raised when an openEO job option is unknown-typed or outside the configured bounds."""

    def __init__(self, option: str, value: object, bound: str):
        super().__init__(f"job option {option!r} = {value!r}: {bound}", option=option, value=value, bound=bound)


class SubmitError(RunError):
    """Raised when the Kubernetes API refuses or fails a SparkApplication call."""

    def __init__(self, name: str, namespace: str, reason: str, **fields: object):
        super().__init__(f"SparkApplication {namespace}/{name}: {reason}",
                         name=name, namespace=namespace, reason=reason, **fields)


class SparkAppNotFound(SubmitError, UserError):
    """Raised when the named job has no SparkApplication (HTTP 404); the caller named it: exit 2."""

    exit_code = 2

    def __init__(self, name: str, namespace: str):
        super().__init__(name, namespace, "not found")


class SparkAppConflict(SubmitError):
    """Raised when a SparkApplication of that name exists already or changed meanwhile (HTTP 409)."""


class SparkAppInvalid(SubmitError):
    """Raised when a manifest fails the CRD schema, locally or on the API server (HTTP 422).

    ``problems`` lists one ``path: reason`` line per violation or pruned field.
    """

    def __init__(self, name: str, namespace: str, problems: list[str]):
        problems = list(problems)
        super().__init__(name, namespace, "invalid manifest: " + "; ".join(problems), problems=problems)


class KubernetesUnreachable(SubmitError):
    """Raised when no Kubernetes configuration is found or the API server cannot be reached."""
