"""Host paths (type=bind) and named volumes (type=volume)."""

from __future__ import annotations

import dataclasses
import os
import stat

from dynvol.errors import DynvolError, NotFound, UsageError
from dynvol.sources import Source
from dynvol.spec import MountSpec


def path_kind(path: str, what: str) -> str:
    """"dir" or "file" for an existing host path; NotFound if it is missing."""
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


def plan_bind(spec: MountSpec, engine) -> Source:
    kind = path_kind(spec.source, "bind source path")
    if kind == "file" and stat.S_ISBLK(os.stat(spec.source).st_mode):
        # /dev/sdb1:/data mounts the filesystem on the device; a device node is of no use in
        # a container that may not open it, and targets under /dev are refused anyway.
        from dynvol.sources.block import plan_block

        return plan_block(dataclasses.replace(spec, type="block"), engine)
    return Source(spec, spec.source, kind)


@dataclasses.dataclass
class NewVolume(Source):
    """A named (or anonymous) volume that does not exist yet: created at build, as docker run does."""

    def make_tree(self, engine) -> int:
        spec = self.spec
        vol = engine.create_volume(spec.source, driver=spec.volume_driver,
                                   options=dict(spec.volume_options), labels=dict(spec.volume_labels))
        if spec.source:  # an anonymous volume stays, as Docker keeps them
            self.undo.append(lambda: engine.remove_volume(vol.name))
        self.host_path = vol.mountpoint
        self.spec = dataclasses.replace(spec, source=vol.name)
        return super().make_tree(engine)


def _new_volume(spec: MountSpec) -> Source:
    # a driver other than local, or local with options (tmpfs, nfs, o=bind): only a
    # container using the volume makes the engine mount it
    from dynvol.sources import holders

    if holders.new_volume_needs_holder(spec):
        return holders.plan_new_held(spec)
    return NewVolume(spec, None, "dir")


def plan_volume(spec: MountSpec, engine) -> Source:
    if spec.source is None:
        if spec.subpath:
            raise UsageError("volume-subpath needs a named volume that exists")
        return _new_volume(spec)
    try:
        vol = engine.volume(spec.source)
    except NotFound:
        if spec.subpath:
            raise NotFound(f"no such volume: {spec.source}",
                           hint="volume-subpath needs a volume that exists and holds that path") from None
        return _new_volume(spec)
    if spec.volume_driver and spec.volume_driver != vol.driver:
        raise UsageError(f"volume {vol.name} exists with driver {vol.driver}, not {spec.volume_driver}")
    from dynvol.sources import holders

    why = holders.needs_holder(vol)
    if why:  # let the engine mount it, in a holder container
        return holders.plan_held(spec, vol, why)
    if spec.subpath:
        from dynvol.sources.subpath import plan_subpath

        return plan_subpath(spec, vol.mountpoint)
    return Source(spec, vol.mountpoint, "dir")
