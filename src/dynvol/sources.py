"""Turn a :class:`MountSpec` into a detached mount on the host.

Planning (``plan``) only looks: it checks that the source exists and what it
is, and touches nothing. ``build`` makes the detached mount (and, for a named
volume that does not exist yet, the volume, as ``docker run`` does), with
read-only and propagation applied before the mount is visible anywhere.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from dynvol.errors import DynvolError, NotFound, UsageError
from dynvol.linux import consts as C
from dynvol.linux import syscalls as sc
from dynvol.spec import MountSpec

PROPAGATION_FLAGS = {"private": C.MS_PRIVATE, "shared": C.MS_SHARED, "slave": C.MS_SLAVE}


@dataclass
class Source:
    spec: MountSpec
    host_path: str | None  # None until a volume to be created exists
    kind: str  # "dir" or "file"
    create_volume: bool = False
    undo: list = field(default_factory=list)  # callables that revert what build() did

    @property
    def display(self) -> str:
        return self.spec.source or os.path.basename(self.host_path or "") or "(anonymous)"


def _kind(path: str, what: str) -> str:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise NotFound(f"{what} does not exist: {path}",
                       hint="create it first; dynvol does not create host paths") from None
    except PermissionError as e:
        raise DynvolError(f"cannot read {what} {path}: {e.strerror}") from e
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    if stat.S_ISREG(st.st_mode) or stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode) \
            or stat.S_ISSOCK(st.st_mode) or stat.S_ISBLK(st.st_mode):
        return "file"
    raise UsageError(f"{what} {path} is neither a directory nor a file")


def plan(spec: MountSpec, engine) -> Source:
    """Validate the source of ``spec`` without changing anything."""
    if spec.type == "bind":
        return Source(spec, spec.source, _kind(spec.source, "bind source path"))
    if spec.type == "volume":
        if spec.source is None:
            return Source(spec, None, "dir", create_volume=True)
        try:
            vol = engine.volume(spec.source)
        except NotFound:
            return Source(spec, None, "dir", create_volume=True)
        if spec.volume_driver and spec.volume_driver != vol.driver:
            raise UsageError(f"volume {vol.name} exists with driver {vol.driver}, not {spec.volume_driver}")
        if vol.driver != "local" or not os.path.isdir(vol.mountpoint):
            raise DynvolError(f"volume {vol.name} (driver {vol.driver}) is not mounted on this host",
                              hint="volumes of other drivers are not supported yet")
        return Source(spec, vol.mountpoint, "dir")
    raise UsageError(f"mount type {spec.type} is not supported by attach")


def build(src: Source, engine) -> int:
    """Create the detached mount for ``src`` and return its fd. Reverts itself on failure."""
    spec = src.spec
    if src.create_volume:
        vol = engine.create_volume(spec.source, driver=spec.volume_driver,
                                   options=dict(spec.volume_options), labels=dict(spec.volume_labels))
        if spec.source:  # an anonymous volume stays, as Docker keeps them
            src.undo.append(lambda: engine.remove_volume(vol.name))
        src.host_path = vol.mountpoint
        src.spec = MountSpec(**{**spec.__dict__, "source": vol.name})
    fd = sc.open_tree(src.host_path, recursive=spec.recursive, step="clone the source")
    try:
        # Docker's default is rprivate. shared/slave keep the clone in the source's peer
        # group (open_tree clones join it), so host mount events reach the container.
        prop = spec.propagation or "rprivate"
        sc.mount_setattr(fd, propagation=PROPAGATION_FLAGS[prop.removeprefix("r")],
                         recursive=prop.startswith("r"), step=f"set propagation {prop}")
        if spec.readonly:
            sc.mount_setattr(fd, attr_set=C.MOUNT_ATTR_RDONLY, recursive=True, step="make read-only")
    except BaseException:
        os.close(fd)
        raise
    return fd


def rollback(sources: list[Source]) -> None:
    for s in sources:
        for fn in reversed(s.undo):
            try:
                fn()
            except DynvolError:
                pass
        s.undo.clear()
