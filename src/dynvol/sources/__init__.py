"""Turn a :class:`MountSpec` into a detached mount on the host.

Each mount type has a planner, registered in ``PLANNERS``. Planning only looks:
it checks that the source exists and what it is, and changes nothing. A
planned :class:`Source` then ``build``\\ s the detached mount (creating what
``docker run`` would create, such as a missing named volume), with read-only
and propagation applied before the mount is visible anywhere. Whatever build
did is reverted by :func:`rollback` if the attach fails later.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field

from dynvol.errors import DynvolError, UsageError
from dynvol.linux import consts as C
from dynvol.linux import syscalls as sc
from dynvol.spec import MountSpec

PROPAGATION_FLAGS = {"private": C.MS_PRIVATE, "shared": C.MS_SHARED, "slave": C.MS_SLAVE}


@dataclass
class Source:
    """A validated source, ready to build. Subclasses override :meth:`make_tree`."""

    spec: MountSpec
    host_path: str | None  # what ls shows as the host side; None until build() knows it
    kind: str  # "dir" or "file": what the target must be
    undo: list = field(default_factory=list)  # callables that revert what build() did
    extra: dict = field(default_factory=dict)  # recorded in state (e.g. loop device)

    @property
    def display(self) -> str:
        return self.spec.source or self.host_path or "(anonymous)"

    def check(self, *, force: bool = False) -> None:
        """Refuse a source that is in use in a way that makes attaching it unsafe (unless ``force``)."""

    def for_container(self, info, engine) -> None:
        """Check what depends on the target container (e.g. a holder's image). Changes nothing."""

    def make_tree(self, engine) -> int:
        """Return an fd for a new detached mount tree of this source."""
        return sc.open_tree(self.host_path, recursive=self.spec.recursive, step="clone the source")

    def build(self, engine) -> int:
        fd = self.make_tree(engine)
        try:
            apply_attributes(fd, self.spec)
        except BaseException:
            os.close(fd)
            raise
        return fd


def apply_attributes(fd: int, spec: MountSpec) -> None:
    """Propagation, then read-only (recursive), on a detached tree that nobody can see yet."""
    # Docker's default is rprivate. shared/slave keep the clone in the source's peer
    # group (open_tree clones join it), so host mount events reach the container.
    prop = spec.propagation or "rprivate"
    sc.mount_setattr(fd, propagation=PROPAGATION_FLAGS[prop.removeprefix("r")],
                     recursive=prop.startswith("r"), step=f"set propagation {prop}")
    attrs = mount_attrs(spec)
    if attrs:
        sc.mount_setattr(fd, attr_set=attrs, recursive=True,
                         step="make read-only" if attrs == C.MOUNT_ATTR_RDONLY else "set mount flags")


def mount_attrs(spec: MountSpec) -> int:
    """MOUNT_ATTR_* for ro, nosuid, nodev and noexec; applied to every mount of the tree."""
    return ((C.MOUNT_ATTR_RDONLY if spec.readonly else 0) | (C.MOUNT_ATTR_NOSUID if spec.nosuid else 0)
            | (C.MOUNT_ATTR_NODEV if spec.nodev else 0) | (C.MOUNT_ATTR_NOEXEC if spec.noexec else 0))


def plan(spec: MountSpec, engine, *, force: bool = False) -> Source:
    """Validate the source of ``spec`` without changing anything."""
    planner = _planner(spec.type)
    if planner is None:
        raise UsageError(f"mount type {spec.type} is not supported by attach")
    src = planner(spec, engine)
    src.check(force=force)
    return src


def rollback(sources: list[Source]) -> None:
    for s in sources:
        for fn in reversed(s.undo):
            try:
                fn()
            except DynvolError:
                pass
        s.undo.clear()


# mount type -> "module:function" under dynvol.sources, imported only when that type is
# attached: `dynvol attach` of a bind should not pay for loop devices and libblkid.
PLANNERS = {
    "bind": "host:plan_bind",
    "volume": "host:plan_volume",
    "block": "block:plan_block",
    "image": "block:plan_image",
    "tmpfs": "tmpfs:plan_tmpfs",
    "from": "containers:plan_from",
}


def _planner(kind: str):
    if kind not in PLANNERS:
        return None
    module, fn = PLANNERS[kind].split(":")
    return getattr(importlib.import_module(f"dynvol.sources.{module}"), fn)
