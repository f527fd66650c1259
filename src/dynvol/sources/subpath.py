"""volume-subpath: mount a directory (or file) below a volume's root, never outside it.

The subpath is resolved with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
from an fd on the volume root, both when planning and again when building, so
neither .. nor a symlink planted in the volume can lead outside the volume.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import stat

from dynvol.errors import DynvolError, KernelError, NotFound, UsageError
from dynvol.linux import consts as C
from dynvol.linux import syscalls as sc
from dynvol.sources import Source
from dynvol.spec import MountSpec

BENEATH = C.RESOLVE_BENEATH | C.RESOLVE_NO_MAGICLINKS


def resolve(root: str, subpath: str, *, volume: str) -> int:
    """An O_PATH fd on ``subpath`` below ``root``; refuses any escape."""
    rfd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return sc.openat2(rfd, subpath, resolve=BENEATH, step="resolve volume-subpath")
    except KernelError as e:
        if e.errno in (errno.EXDEV, errno.ELOOP):
            raise UsageError(f"volume-subpath {subpath} escapes the root of volume {volume} "
                             "(through .. or a symlink)",
                             hint="give a path that stays inside the volume") from e
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            raise NotFound(f"volume-subpath {subpath} does not exist in volume {volume}",
                           hint="create it in the volume first; dynvol does not create subpaths") from e
        raise
    finally:
        os.close(rfd)


@dataclasses.dataclass
class SubpathSource(Source):
    root: str = ""

    def make_tree(self, engine) -> int:
        fd = resolve(self.root, self.spec.subpath, volume=self.spec.source)
        try:
            return sc.open_tree("", dirfd=fd, recursive=self.spec.recursive, step="clone the volume subpath")
        finally:
            os.close(fd)


def plan_subpath(spec: MountSpec, root: str) -> Source:
    fd = resolve(root, spec.subpath, volume=spec.source)
    try:
        mode = sc.statx(fd, step="stat volume-subpath").mode
    finally:
        os.close(fd)
    if stat.S_ISDIR(mode):
        kind = "dir"
    elif stat.S_ISLNK(mode) or not (stat.S_ISREG(mode) or stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)
                                    or stat.S_ISSOCK(mode) or stat.S_ISBLK(mode)):
        raise DynvolError(f"volume-subpath {spec.subpath} of volume {spec.source} is neither a directory "
                          "nor a file")
    else:
        kind = "file"
    return SubpathSource(spec, os.path.join(root, spec.subpath), kind, root=root)
