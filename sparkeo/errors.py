"""The two roots of every sparkeo error, and the exit codes the command line maps them to.

``UserError``: the input is wrong (graph, catalog, options): exit 2.
``RunError``: the run failed after the input was accepted (unreadable asset, S3 down, Spark): exit 1.

Each package defines its own family deriving from one of these roots. Errors carry the fields
a user needs to act (node id, argument, href, job id) and format their own message.
"""
from __future__ import annotations


class SparkeoError(Exception):
    """Base of all sparkeo errors; never raised directly."""

    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UserError(SparkeoError):
    """Raised when the caller's input is wrong: exit code 2."""

    exit_code = 2


class RunError(SparkeoError):
    """Raised when a run fails after its input was accepted: exit code 1."""

    exit_code = 1


class ConfigError(UserError):
    """Raised when a setting or option has a bad value."""

    def __init__(self, setting: str, value: object, reason: str):
        self.setting, self.value, self.reason = setting, value, reason
        super().__init__(f"invalid {setting} {value!r}: {reason}")


class StorageError(RunError, OSError):
    """Raised when object storage (a folder or S3) cannot be read or written."""

    def __init__(self, uri: str, reason: str):
        self.uri, self.reason = uri, reason
        RunError.__init__(self, f"{uri}: {reason}")


class NotFoundInStorage(UserError, FileNotFoundError):
    """Raised when a URI the user named does not exist."""

    def __init__(self, uri: str):
        self.uri = uri
        UserError.__init__(self, f"{uri}: no such file or object")


class NotText(UserError, ValueError):
    """Raised when a document the user named (graph, catalog, options file) is not UTF-8 text."""

    def __init__(self, uri: str, offset: int):
        self.uri, self.offset = uri, offset
        UserError.__init__(self, f"{uri}: not UTF-8 text (invalid byte at offset {offset})")
