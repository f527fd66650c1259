"""tmpfs (type=tmpfs), with Docker's tmpfs-size and tmpfs-mode, plus uid= and gid=.

A fresh tmpfs instance made with fsopen/fsmount: it exists only in the
container, and its memory is freed when it is detached or the container dies.
"""

from __future__ import annotations

import dataclasses

from dynvol.errors import UsageError
from dynvol.linux import procs
from dynvol.sources import Source, mount_attrs
from dynvol.sources import filesystem as fs
from dynvol.spec import MountSpec


@dataclasses.dataclass
class TmpfsSource(Source):
    owner: tuple[int, int] | None = None  # host uid/gid of the root directory, once the container is known

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
        for i, k in enumerate(("uid", "gid")):
            if self.owner is not None:
                out.append((k, str(self.owner[i])))
            elif getattr(s, k) is not None:
                out.append((k, str(getattr(s, k))))
        return out

    def for_container(self, info, engine) -> None:
        """uid= and gid= are the container's ids, as with Docker: map them for a user-namespaced container."""
        if not procs.in_user_namespace(info.pid):
            return
        owner = []
        for k in ("uid", "gid"):
            inside = getattr(self.spec, k) or 0
            host = procs.host_id(info.pid, inside, kind=k)
            if host == 65534 and inside != 65534:
                raise UsageError(f"cannot attach tmpfs at {self.spec.target}: {k} {inside} is not mapped "
                                 f"in {info.name}'s user namespace",
                                 hint=f"give a {k} the container maps (see /proc/{info.pid}/{k}_map)")
            owner.append(host)
        self.owner = (owner[0], owner[1])

    def make_tree(self, engine) -> int:
        return fs.new_mount("tmpfs", self.params(), self.spec.fs_options, attrs=mount_attrs(self.spec),
                            what=f"tmpfs at {self.spec.target}")


def plan_tmpfs(spec: MountSpec, engine) -> Source:
    src = TmpfsSource(spec, "", "dir")
    fs.check_options("tmpfs", src.params(), spec.fs_options, what=f"tmpfs at {spec.target}")
    return src
