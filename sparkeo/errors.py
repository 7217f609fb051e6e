"""The two roots of every sparkeo error, and the exit codes the command line maps them to.

``UserError``: the input is wrong (graph, catalog, options): exit 2.
``RunError``: the run failed after the input was accepted (unreadable asset, S3 down, Spark): exit 1.

Each package defines its own family deriving from one of these roots. Errors carry the fields
a user needs to act (node id, argument, href, job id) and format their own message (pystac's
``STACTypeError(bad_dict, expected)`` idea). Most declare it: ``template = "{uri}: {reason}"`` makes
``StorageError(uri, reason)`` take the template's fields, in order, and store each as an attribute.
An error whose message needs a decision (a plural, an optional part) writes ``__init__`` instead:
one call, ``super().__init__(f"...", href=href, reason=reason)``.
"""
from __future__ import annotations

import inspect
import string
from typing import ClassVar


class SparkeoError(Exception):
    """Base of all sparkeo errors; never raised directly."""

    exit_code = 1
    template: ClassVar[str | None] = None

    def __init__(self, message: str, **fields: object):
        super().__init__(message)
        self.message = message
        for name, value in fields.items():
            setattr(self, name, value)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "template" in cls.__dict__ and "__init__" not in cls.__dict__:
            cls.__init__ = _init_from_template(cls.template)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):
        # Errors travel pickled from Spark executors to the driver. Subclasses' __init__ take their
        # fields, not the message, so unpickling must not call __init__ again: rebuild the instance
        # from its message and restore every field (BaseException.__setstate__ sets the attributes).
        return (_rebuild, (type(self), self.message), dict(self.__dict__))


def _init_from_template(template: str):
    """An ``__init__`` whose parameters are the template's fields, in the order the message names them."""
    names = tuple(dict.fromkeys(field for _, field, _, _ in string.Formatter().parse(template) if field))

    def __init__(self, *args: object, **kwargs: object) -> None:
        bound = signature.bind(self, *args, **kwargs).arguments   # a wrong call fails like a def would
        fields = {name: bound[name] for name in names}
        SparkeoError.__init__(self, template.format(**fields), **fields)

    signature = inspect.Signature([inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)] +
                                  [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names])
    __init__.__signature__ = signature
    return __init__


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

    template = "invalid {setting} {value!r}: {reason}"


class StorageError(RunError, OSError):
    """Raised when object storage (a folder or S3) cannot be read or written."""

    template = "{uri}: {reason}"


class NotFoundInStorage(UserError, FileNotFoundError):
    """Raised when a URI the user named does not exist."""

    template = "{uri}: no such file or object"


class NotText(UserError, ValueError):
    """Raised when a document the user named (graph, catalog, options file) is not UTF-8 text."""

    template = "{uri}: not UTF-8 text (invalid byte at offset {offset})"
