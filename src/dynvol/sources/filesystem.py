"""New filesystem instances (block devices, images, tmpfs) through fsopen/fsconfig/fsmount.

The filesystem is created as a detached mount: it never appears in the host's
mount table. Options are checked against the filesystem itself at planning
time, in a throwaway context that is never created, so an unknown fstype or an
option the filesystem rejects is refused before anything changes.
"""

from __future__ import annotations

import errno
import os

from dynvol.errors import DynvolError, KernelError, UsageError
from dynvol.linux import consts as C
from dynvol.linux import syscalls as sc

# Options that are per-mount attributes rather than filesystem parameters.
ATTR_OPTIONS = {
    "noatime": C.MOUNT_ATTR_NOATIME, "relatime": C.MOUNT_ATTR_RELATIME,
    "strictatime": C.MOUNT_ATTR_STRICTATIME, "nodiratime": C.MOUNT_ATTR_NODIRATIME,
    "nosymfollow": C.MOUNT_ATTR_NOSYMFOLLOW,
}
ATIME_OPTIONS = ("noatime", "relatime", "strictatime")
# Options that only restate a default.
DEFAULT_OPTIONS = ("suid", "dev", "exec", "atime", "diratime", "async", "defaults", "rw")
# Options that dynvol sets itself, or that make no sense for a detached mount.
RESERVED_OPTIONS = ("source", "loop", "bind", "rbind", "remount", "move", "shared", "private",
                    "slave", "unbindable", "rshared", "rprivate", "rslave", "runbindable")


def _log(fsfd: int) -> str:
    msgs = [m[2:] if m[:2] in ("e ", "w ", "i ") else m for m in sc.fs_log(fsfd)]
    return "; ".join(msgs)


def open_context(fstype: str, *, what: str) -> int:
    """fsopen(fstype), with an unknown type reported as a usage error."""
    try:
        return sc.fsopen(fstype, step=f"open a {fstype} filesystem context")
    except KernelError as e:
        if e.errno == errno.ENODEV:
            raise UsageError(f"cannot attach {what}: unknown filesystem type '{fstype}'",
                             hint="the kernel lists the types it knows in /proc/filesystems") from e
        raise


def configure(fsfd: int, fstype: str, params: list[tuple[str, str | None]], options: tuple[str, ...],
              *, what: str) -> int:
    """Hand ``params`` (dynvol's own) and ``options`` (the user's) to the context.

    Returns the MOUNT_ATTR_* bits of the options that are mount attributes.
    A rejected option raises a usage error that names it, with the filesystem's own words.
    """
    attrs = 0
    todo: list[tuple[str, str | None, bool]] = [(k, v, False) for k, v in params]
    for o in options:
        key, sep, value = o.partition("=")
        if key in RESERVED_OPTIONS:
            raise UsageError(f"cannot attach {what}: mount option '{key}' is not allowed here",
                             hint="dynvol sets the source and propagation itself")
        if not sep and key in ATTR_OPTIONS:
            if key in ATIME_OPTIONS:  # one atime mode at a time: the last one given wins
                attrs &= ~C.MOUNT_ATTR__ATIME
            attrs |= ATTR_OPTIONS[key]
        elif not sep and key in DEFAULT_OPTIONS:
            continue
        else:
            todo.append((key, value if sep else None, True))
    for key, value, users in todo:
        cmd = C.FSCONFIG_SET_FLAG if value is None else C.FSCONFIG_SET_STRING
        try:
            sc.fsconfig(fsfd, cmd, key, value, step=f"set {fstype} option {key}")
        except KernelError as e:
            said = _log(fsfd) or e.message
            shown = key if value is None else f"{key}={value}"
            if users and e.errno in (errno.EINVAL, errno.EOPNOTSUPP):
                raise UsageError(f"cannot attach {what}: {fstype} rejects mount option '{shown}': {said}",
                                 hint=f"see the {fstype} documentation for the options it takes") from e
            raise DynvolError(f"cannot attach {what}: {fstype} option '{shown}': {said}") from e
    return attrs


def check_options(fstype: str, params: list[tuple[str, str | None]], options: tuple[str, ...],
                  *, what: str) -> None:
    """Check fstype and options in a context that is closed without creating anything."""
    fsfd = open_context(fstype, what=what)
    try:
        configure(fsfd, fstype, params, options, what=what)
    finally:
        os.close(fsfd)


def nodev_types() -> set[str]:
    """Filesystem types that do not live on a block device (tmpfs, proc, ...)."""
    try:
        with open("/proc/filesystems") as f:
            return {line.split()[1] for line in f if line.startswith("nodev")}
    except OSError:
        return set()


def new_mount(fstype: str, params: list[tuple[str, str | None]], options: tuple[str, ...], *,
              attrs: int, what: str, hint: str | None = None) -> int:
    """Create the filesystem and return a detached mount of it (attributes set at fsmount)."""
    fsfd = open_context(fstype, what=what)
    try:
        attrs |= configure(fsfd, fstype, params, options, what=what)
        try:
            sc.fsconfig(fsfd, C.FSCONFIG_CMD_CREATE, step=f"create the {fstype} filesystem")
        except KernelError as e:
            said = _log(fsfd) or f"{os.strerror(e.errno)} ({errno.errorcode.get(e.errno, e.errno)})"
            if e.errno == errno.EBUSY:
                raise DynvolError(f"cannot attach {what}: the device is busy: {said}",
                                  hint="something else holds it exclusively (device-mapper, md, "
                                       "swap, or a filesystem of another type)") from e
            raise DynvolError(f"cannot attach {what}: mounting it as {fstype} failed: {said}",
                              hint=hint) from e
        return sc.fsmount(fsfd, attrs=attrs, step=f"mount the {fstype} filesystem")
    finally:
        os.close(fsfd)
