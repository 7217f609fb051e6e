"""The two roots of every sparkeo error, and the exit codes the command line maps them to.

``UserError``: the input is wrong (graph, catalog, options): exit 2.
``RunError``: the run failed after the input was accepted (unreadable asset, S3 down, Spark): exit 1.

Each package defines its own family deriving from one of these roots. Errors carry the fields
a user needs to act (node id, argument, href, job id) and format their own message: a subclass's
``__init__`` is one call, ``super().__init__(f"...", href=href, reason=reason)``, and the root stores
the fields as attributes (pystac's ``STACTypeError(bad_dict, expected)`` idea).
"""
from __future__ import annotations


class SparkeoError(Exception):
    """Base of all sparkeo errors; never raised directly."""

    exit_code = 1

    def __init__(self, message: str, **fields: object):
        super().__init__(message)
        self.message = message
        for name, value in fields.items():
            setattr(self, name, value)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):
        # Errors travel pickled from Spark executors to the driver. Subclasses' __init__ take their
        # fields, not the message, so unpickling must not call __init__ again: rebuild the instance
        # from its message and restore every field (BaseException.__setstate__ sets the attributes).
        return (_rebuild, (type(self), self.message), dict(self.__dict__))


def _rebuild(cls: type[SparkeoError], message: str) -> SparkeoError:
    """An instance of ``cls`` whose only argument is ``message``, the subclass ``__init__`` skipped (unpickling)."""
    exc = cls.__new__(cls, message)
    super(SparkeoError, exc).__init__(message)      # the builtin's own __init__ (OSError sets args there)
    return exc


class UserError(SparkeoError):
    """Raised when the caller's input is wrong: exit code 2."""

    exit_code = 2


class RunError(SparkeoError):
    """Raised when a run fails after its input was accepted: exit code 1."""

    exit_code = 1


class ConfigError(UserError):
    """Raised when a setting or option has a bad value."""

    def __init__(self, setting: str, value: object, reason: str):
        super().__init__(f"invalid {setting} {value!r}: {reason}", setting=setting, value=value, reason=reason)


class StorageError(RunError, OSError):
    """Raised when object storage (a folder or S3) cannot be read or written."""

    def __init__(self, uri: str, reason: str):
        super().__init__(f"{uri}: {reason}", uri=uri, reason=reason)


class NotFoundInStorage(UserError, FileNotFoundError):
    """Raised when a URI the user named does not exist."""

    def __init__(self, uri: str):
        super().__init__(f"{uri}: no such file or object", uri=uri)


class NotText(UserError, ValueError):
    """Raised when a document the user named (graph, catalog, options file) is not UTF-8 text."""

    def __init__(self, uri: str, offset: int):
        super().__init__(f"{uri}: not UTF-8 text (invalid byte at offset {offset})", uri=uri, offset=offset)
