"""Holder containers: let the engine mount a volume that dynvol cannot open on the host.

A volume whose driver is not ``local``, a local volume with driver options
(``type=tmpfs``, ``o=bind``, nfs, ...; the local driver mounts those only while
a container uses them), or one whose mountpoint is not visible here, is made
available by a tiny container that dynvol creates: it mounts the volume at
``/volume`` and sleeps. dynvol clones that mount out of the holder's namespace
and attaches the clone. The holder keeps the engine's reference on the volume
(``docker volume rm`` refuses while it exists), and is removed when the last
attachment using it is detached or found stale.

The holder's image must already be present: ``DYNVOL_HOLDER_IMAGE`` if set,
else the target container's own image. Its command is ``DYNVOL_HOLDER_CMD``
(default ``sleep 2147483647``, run directly, no shell). For an image without
``sleep`` (distroless, scratch), set e.g. ``DYNVOL_HOLDER_IMAGE=busybox`` or a
pause image with ``DYNVOL_HOLDER_CMD=/pause``.
"""

from __future__ import annotations

import dataclasses
import os
import shlex

from dynvol.errors import DynvolError, NotFound, Unsupported, UsageError
from dynvol.sources import Source
from dynvol.spec import MountSpec

LABEL = "dynvol.holder"  # value: the volume name
MOUNT_POINT = "/volume"
DEFAULT_COMMAND = ("sleep", "2147483647")


def command() -> list[str]:
    cmd = shlex.split(os.environ.get("DYNVOL_HOLDER_CMD", ""))
    return cmd or list(DEFAULT_COMMAND)


def needs_holder(vol) -> str | None:
    """Why ``vol`` cannot be cloned from its host mountpoint, or None if it can."""
    if vol.driver != "local":
        return f"its driver is {vol.driver}"
    if vol.options.get("type") or vol.options.get("device"):
        return "the local driver mounts it only while a container uses it"
    if not os.path.isdir(vol.mountpoint):
        return "its mountpoint is not visible on this host"
    return None


def new_volume_needs_holder(spec: MountSpec) -> bool:
    return bool((spec.volume_driver and spec.volume_driver != "local") or dict(spec.volume_options))


def running_holder(engine, volume: str):
    """A running holder of ``volume`` to share, or None."""
    for cid in engine.find_containers(f"{LABEL}={volume}"):
        try:
            info = engine.container(cid)
        except NotFound:
            continue
        if info.running:
            return info
    return None


@dataclasses.dataclass
class Held(Source):
    """A volume attached through a holder container (created at build if none is running)."""

    volume: object = None  # VolumeInfo; None: the volume does not exist yet and is created at build
    reason: str = ""
    image: str | None = None

    @property
    def display(self) -> str:
        return self.spec.source or "(anonymous)"

    def for_container(self, info, engine) -> None:
        """Pick the holder image (needs the target container) and check it is present. Changes nothing."""
        self.image = os.environ.get("DYNVOL_HOLDER_IMAGE") or info.image
        if not engine.image_exists(self.image):
            raise NotFound(f"holder image {self.image} is not present on the engine",
                           hint="load or build it, or set DYNVOL_HOLDER_IMAGE to an image that is")

    def make_tree(self, engine) -> int:
        from dynvol.sources.containers import clone_mount

        spec = self.spec
        if self.volume is None:
            self.volume = engine.create_volume(spec.source, driver=spec.volume_driver,
                                               options=dict(spec.volume_options),
                                               labels=dict(spec.volume_labels))
            if spec.source:
                self.undo.append(lambda name=self.volume.name: engine.remove_volume(name))
            self.spec = spec = dataclasses.replace(spec, source=self.volume.name)
        name = self.volume.name
        holder = running_holder(engine, name)
        if holder is None:
            if self.image is None:
                raise DynvolError(f"volume {name} needs a holder container, and no image was chosen")
            try:
                holder = engine.run_holder(name, image=self.image, command=command(), target=MOUNT_POINT,
                                           labels={LABEL: name})
            except DynvolError as e:
                e.hint = e.hint or (f"the holder runs `{shlex.join(command())}` in image {self.image}; "
                                    "set DYNVOL_HOLDER_IMAGE (and DYNVOL_HOLDER_CMD) to an image that has it")
                raise
            self.undo.append(lambda cid=holder.id: release_holder(engine, cid))
        self.extra["holder"] = holder.id
        self.host_path = self.volume.mountpoint
        fd, self.kind = clone_mount(holder, MOUNT_POINT, what=f"cannot clone volume {name} from its holder")
        return fd


def plan_held(spec: MountSpec, vol, reason: str) -> Source:
    if getattr(spec, "subpath", None):
        raise Unsupported(f"volume {vol.name}: volume-subpath is not supported when {reason}",
                          hint="attach the whole volume")
    return Held(spec, vol.mountpoint, "dir", volume=vol, reason=reason)


def plan_new_held(spec: MountSpec) -> Source:
    if getattr(spec, "subpath", None):
        raise UsageError("volume-subpath needs a named volume that exists")
    return Held(spec, None, "dir", volume=None, reason="it is created with driver options")


def release_holder(engine, holder_id: str) -> None:
    engine.remove_container(holder_id)


def release_unused(store, engine, removed: list) -> list[str]:
    """Remove holders that ``removed`` attachments used and no remaining attachment uses."""
    ids = {a.extra.get("holder") for a in removed if a.extra.get("holder")}
    if not ids:
        return []
    in_use = {a.extra.get("holder") for a in store.list()}
    gone = []
    for hid in sorted(ids - in_use):
        try:
            engine.remove_container(hid)
            gone.append(hid)
        except DynvolError:
            pass  # an engine hiccup: `docker ps -a --filter label=dynvol.holder` finds it
    return gone
