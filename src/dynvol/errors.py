"""One error tree for all of dynvol.

Callers catch :class:`DynvolError`. Each subclass carries an ``exit_code``; the
CLI maps errors to exit codes in one place (``dynvol.cli.main``). Messages name
the object, the step and the cause; ``hint`` says what a person can do next.
"""

from __future__ import annotations

import errno as _errno
import os
from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    NOT_FOUND = 3
    PERMISSION = 4
    UNSUPPORTED = 5
    ENGINE = 6
    INTERRUPTED = 130


class DynvolError(Exception):
    """Base class for every error dynvol raises on purpose."""

    exit_code: int = ExitStatus.FAILED

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(DynvolError):
    """The request itself is malformed (bad spec, bad option, bad path)."""

    exit_code = ExitStatus.USAGE


class NotFound(DynvolError):
    """A container, volume, source path or attachment does not exist."""

    exit_code = ExitStatus.NOT_FOUND


class PermissionDenied(DynvolError):
    exit_code = ExitStatus.PERMISSION


class Unsupported(DynvolError):
    """The kernel (or engine) lacks a feature dynvol needs."""

    exit_code = ExitStatus.UNSUPPORTED


class EngineUnreachable(DynvolError):
    exit_code = ExitStatus.ENGINE


class Conflict(DynvolError):
    """The request collides with existing state (a mount already there, a busy mount)."""


class Busy(Conflict):
    def __init__(self, message: str, *, holders: list[dict] | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.holders = holders or []


class KernelError(DynvolError):
    """A system call failed. Carries the syscall, the errno and dynvol's step."""

    def __init__(self, syscall: str, err: int, *, step: str = "", path: str | None = None,
                 hint: str | None = None):
        self.syscall = syscall
        self.errno = err
        self.step = step
        self.path = path
        name = _errno.errorcode.get(err, str(err))
        where = f" {path}" if path else ""
        prefix = f"{step}: " if step and step != syscall else ""
        super().__init__(f"{prefix}{syscall}{where}: {os.strerror(err)} ({name})", hint=hint)

    @property
    def exit_code(self) -> int:  # type: ignore[override]
        if self.errno in (_errno.EPERM, _errno.EACCES):
            return ExitStatus.PERMISSION
        if self.errno in (_errno.ENOSYS, _errno.EOPNOTSUPP):
            return ExitStatus.UNSUPPORTED
        if self.errno == _errno.ENOENT:
            return ExitStatus.NOT_FOUND
        return ExitStatus.FAILED

    def to_dict(self) -> dict:
        return {"syscall": self.syscall, "errno": self.errno, "step": self.step, "path": self.path}

    @classmethod
    def from_dict(cls, d: dict) -> "KernelError":
        return cls(d["syscall"], d["errno"], step=d.get("step", ""), path=d.get("path"))


def with_context(err: DynvolError, context: str) -> DynvolError:
    """Prefix an error's message with what dynvol was doing, keeping its class and data."""
    err.message = f"{context}: {err.message}"
    err.args = (err.message,)
    return err
