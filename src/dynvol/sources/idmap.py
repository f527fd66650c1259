"""Idmapped mounts (``-v SRC:DST:idmap``), following Podman's convention.

Plain ``idmap`` maps the mount through the container's own user namespace:
in a container of an engine run with ``--userns-remap``, root inside then owns
what host root owns, and files created inside are stored with the host IDs they
would have outside. ``idmap=uids=FROM-TO-COUNT[#...];gids=...`` takes an
explicit mapping instead (a side left out keeps the container's mapping): the
IDs stored on disk (FROM) appear as host IDs TO, which the container sees
through its own user namespace. The mapping lives in a user namespace dynvol
creates for the purpose; the mount keeps a reference to it.
"""

from __future__ import annotations

import errno
import os

from dynvol.errors import Conflict, KernelError, Unsupported
from dynvol.linux import consts as C
from dynvol.linux import features, procs, userns
from dynvol.linux import syscalls as sc
from dynvol.spec import MountSpec, idmap_ranges


def _userns_fd(value: str, pid: int, pidfd: int) -> int | None:
    """An fd of the user namespace to idmap with; None when the mapping is the identity."""
    if value == "":
        if not procs.in_user_namespace(pid):
            return None  # the container's mapping is the identity: idmap changes nothing
        fd = userns.open_userns(pid)
        if not sc.pidfd_alive(pidfd):  # the pid was verified through pidfd: it must still be that process
            os.close(fd)
            raise Conflict("the container's init process exited while attaching")
        return fd
    ranges = idmap_ranges(value)
    uids = ranges.get("uids") or userns.read_map(pid, "uid")
    gids = ranges.get("gids") or userns.read_map(pid, "gid")
    return userns.mapped_userns(uids, gids)


def apply(fd: int, spec: MountSpec, *, pid: int, pidfd: int) -> None:
    """Idmap the detached tree ``fd`` as ``spec`` asks (no-op without the idmap option)."""
    value = getattr(spec, "idmap", None)
    if value is None:
        return
    ns = _userns_fd(value, pid, pidfd)
    if ns is None:
        return
    try:
        sc.mount_setattr(fd, attr_set=C.MOUNT_ATTR_IDMAP, userns_fd=ns, recursive=True,
                         step="idmap the mount")
    except KernelError as e:
        if e.errno in (errno.EINVAL, errno.EOPNOTSUPP):
            fs = features.fs_name(fd)
            raise Unsupported(f"cannot idmap {spec.describe()}: the {fs} filesystem does not support "
                              f"idmapped mounts (mount_setattr: {os.strerror(e.errno)})",
                              hint="attach it without idmap, or see `dynvol doctor`") from e
        raise
    finally:
        os.close(ns)


def hint(rows, engine=None) -> str | None:
    """A one-line hint when attachments without idmap went into a container in a user namespace."""
    plain = [r for r in rows if not any(o.startswith("idmap") for o in r.options)]
    if not plain:
        return None
    if engine is None:
        from dynvol.engine import get_engine

        engine = get_engine()
    info = engine.container(plain[0].container_id)
    try:
        if not info.running or not procs.in_user_namespace(info.pid):
            return None
        root = procs.host_id(info.pid, 0)
    except OSError:
        return None
    return (f"hint: {info.name} runs in a user namespace (its root is host uid {root}): files owned by "
            f"IDs outside its range show as nobody; add :idmap to map ownership")
