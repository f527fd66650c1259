"""tmpfs (type=tmpfs), with Docker's tmpfs-size and tmpfs-mode, plus uid= and gid=.

A fresh tmpfs instance made with fsopen/fsmount: it exists only in the
container, and its memory is freed when it is detached or the container dies.
"""

from __future__ import annotations

import dataclasses

from dynvol.sources import Source, mount_attrs
from dynvol.sources import filesystem as fs
from dynvol.spec import MountSpec


@dataclasses.dataclass
class TmpfsSource(Source):
    @property
    def display(self) -> str:
        return "tmpfs"

    def params(self) -> list[tuple[str, str | None]]:
        s = self.spec
        out: list[tuple[str, str | None]] = [("source", "tmpfs")]
        if s.tmpfs_size is not None:
            out.append(("size", str(s.tmpfs_size)))
        if s.tmpfs_mode is not None:
            out.append(("mode", f"{s.tmpfs_mode:o}"))
        for k in ("uid", "gid"):
            if getattr(s, k) is not None:
                out.append((k, str(getattr(s, k))))
        return out

    def make_tree(self, engine) -> int:
        return fs.new_mount("tmpfs", self.params(), self.spec.fs_options, attrs=mount_attrs(self.spec),
                            what=f"tmpfs at {self.spec.target}")


def plan_tmpfs(spec: MountSpec, engine) -> Source:
    src = TmpfsSource(spec, "", "dir")
    fs.check_options("tmpfs", src.params(), spec.fs_options, what=f"tmpfs at {spec.target}")
    return src
