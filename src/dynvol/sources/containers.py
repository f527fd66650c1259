"""Mounts taken from another container: live ``--from`` (volumes-from) and clone-from-namespace.

``--from dbdata`` expands into one spec per volume and bind of ``dbdata``, as
``docker run --volumes-from`` would at create time. If ``dbdata`` runs, each
mount is cloned out of its mount namespace (what it really has mounted there,
whatever the driver); if it is only created or stopped, the mounts come from
its configuration (volume name or host path) and are planned like any ``-v``.
"""

from __future__ import annotations

import dataclasses
import os
import posixpath

from dynvol.errors import Conflict, DynvolError, KernelError, NotFound, UsageError
from dynvol.helper.request import Request
from dynvol.helper.runner import run
from dynvol.linux import procs
from dynvol.linux import syscalls as sc
from dynvol.sources import Source
from dynvol.spec import MountSpec, parse_from

FROM_KEY = "from-container"  # MountSpec.extra key: the source container's ID
TAKEN = ("volume", "bind")  # what --volumes-from shares; tmpfs and the like are per container


def clone_mount(info, path: str, *, what: str) -> tuple[int, str]:
    """A detached recursive clone of the mount at ``path`` inside running ``info``: (fd, kind)."""
    pidfd = sc.pidfd_open(info.pid, step=f"open {info.name}'s init process")
    try:
        if not procs.belongs_to(info.pid, info.id):
            raise Conflict(f"{what}: container {info.name} changed meanwhile (pid {info.pid} is gone)")
        resp = run(Request(op="clone", pid=info.pid, pidfd=pidfd, sources=[path]))
    finally:
        os.close(pidfd)
    if not resp["ok"]:
        err = resp["error"]
        if err.get("kind") == "kernel":
            e: DynvolError = KernelError.from_dict(err)
            e.message = f"{what}: {e.message}"
            e.args = (e.message,)
            raise e
        if err.get("kind") == "target":
            raise Conflict(f"{what}: {err['message']} in container {info.name}")
        raise DynvolError(f"{what}: {err['message']}")
    res = resp["results"][0]
    fds = resp["fds"]
    for i, fd in enumerate(fds):
        if i != res["fd"]:
            os.close(fd)
    return fds[res["fd"]], res["kind"]


def _propagation(m) -> str | None:
    p = m.propagation if m.type == "bind" else ""
    return p if p in ("private", "shared", "rshared", "slave", "rslave") else None


def expand(refs: list[str], engine, *, into: str | None = None) -> list[MountSpec]:
    """MountSpecs for every ``--from`` reference. Only looks; NotFound for a missing container."""
    into_id = engine.container(into).id if into else None
    out: list[MountSpec] = []
    for ref in refs:
        f = parse_from(ref)
        info = engine.container(f.container)
        if info.id == into_id:
            raise UsageError(f"invalid --from '{ref}': {info.name} is the container being attached to")
        mounts = [m for m in info.mounts if m.type in TAKEN]
        if f.target:
            mounts = [m for m in mounts if posixpath.normpath(m.target) == f.target]
            if not mounts:
                raise NotFound(f"container {info.name} has no volume or bind mount at {f.target}",
                               hint=f"see `docker inspect -f '{{{{json .Mounts}}}}' {info.name}`")
        if not mounts:
            raise NotFound(f"container {info.name} has no volumes or bind mounts to take",
                           hint="--from shares what --volumes-from would: volumes and binds")
        for m in mounts:
            # as Docker: each mount keeps its own mode; :ro makes all read-only, :rw never upgrades
            ro = not m.rw or f.mode == "ro"
            if info.running:
                out.append(MountSpec(type="from", source=f"{info.name}:{m.target}", target=m.target,
                                     readonly=ro, propagation=_propagation(m),
                                     extra=((FROM_KEY, info.id),)))
            elif m.type == "volume":
                out.append(MountSpec(type="volume", source=m.name, target=m.target, readonly=ro,
                                     volume_driver=m.driver or None, nocopy=True))
            else:
                out.append(MountSpec(type="bind", source=m.source, target=m.target, readonly=ro,
                                     propagation=_propagation(m)))
    return out


@dataclasses.dataclass
class Cloned(Source):
    """A mount of another running container, cloned out of its mount namespace at build."""

    container: object = None  # ContainerInfo of the source container
    path: str = ""

    @property
    def display(self) -> str:
        return self.spec.source or ""

    def make_tree(self, engine) -> int:
        fd, self.kind = clone_mount(self.container, self.path, what=f"cannot take {self.spec.source}")
        return fd


def plan_from(spec: MountSpec, engine) -> Source:
    cid = dict(spec.extra).get(FROM_KEY)
    name, _, path = (spec.source or "").partition(":")
    info = engine.container(cid or name)
    if not info.running:
        raise Conflict(f"cannot take {spec.source}: container {info.name} stopped meanwhile ({info.status})",
                       hint="run the attach again: a stopped container's mounts come from its configuration")
    m = next((m for m in info.mounts if m.target == path), None)
    if m is None:
        raise NotFound(f"container {info.name} has no mount at {path}")
    return Cloned(spec, m.source or None, "dir", extra={"from": info.name}, container=info, path=path)
