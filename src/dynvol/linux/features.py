"""Kernel feature probes for ``dynvol doctor``: harmless calls whose errno says what works.

Every probe creates at most a detached mount that nobody can see and that
vanishes when its fd is closed.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass

from dynvol.errors import KernelError
from dynvol.linux import consts as C
from dynvol.linux import syscalls as sc

# statfs f_type -> name (linux/magic.h), to name a filesystem in messages
FS_MAGICS = {
    0xEF53: "ext4", 0x58465342: "xfs", 0x9123683E: "btrfs", 0x01021994: "tmpfs",
    0x794C7630: "overlay", 0x858458F6: "ramfs", 0x6969: "nfs", 0x65735546: "fuse",
    0x4D44: "vfat", 0xF2F52010: "f2fs", 0xE0F5E1E2: "erofs", 0x73717368: "squashfs",
    0x01021997: "9p", 0x2FC12FC1: "zfs", 0xFF534D42: "cifs", 0x53464846: "wslfs",
    0x5346544E: "ntfs", 0x9660: "iso9660", 0x62656572: "sysfs", 0x9FA0: "proc",
}


def fs_name(fd: int) -> str:
    try:
        magic = sc.fstatfs_type(fd)
    except KernelError:
        return "unknown"
    return FS_MAGICS.get(magic) or C.PSEUDO_FS_MAGICS.get(magic) or f"unknown (magic {magic:#x})"


@dataclass
class Probe:
    name: str
    ok: bool
    detail: str

    def to_dict(self) -> dict:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


def _why(e: KernelError, since: str) -> str:
    if e.errno == errno.ENOSYS:
        return f"{e.syscall} is missing: the kernel is older than {since}"
    if e.errno in (errno.EPERM, errno.EACCES):
        return f"{e.syscall}: permission denied (run as root)"
    return str(e)


def _try(name: str, since: str, fn) -> Probe:
    try:
        detail = fn() or "works"
        return Probe(name, True, detail)
    except KernelError as e:
        return Probe(name, False, _why(e, since))
    except OSError as e:
        return Probe(name, False, f"{e.strerror}")


def _tmpfs() -> int:
    fs = sc.fsopen("tmpfs")
    try:
        sc.fsconfig(fs, C.FSCONFIG_CMD_CREATE)
        return sc.fsmount(fs)
    finally:
        os.close(fs)


def _close(fd: int) -> None:
    os.close(fd)


def new_mount_api() -> Probe:
    def go():
        _close(_tmpfs())
        _close(sc.open_tree("/", recursive=False))
        return "fsopen, fsmount, open_tree and move_mount (Linux 5.2)"
    return _try("new mount API", "5.2", go)


def mount_setattr() -> Probe:
    def go():
        fd = _tmpfs()
        try:
            sc.mount_setattr(fd, attr_set=C.MOUNT_ATTR_RDONLY)
        finally:
            os.close(fd)
        return "read-only and propagation on detached mounts (Linux 5.12)"
    return _try("mount_setattr", "5.12", go)


def openat2() -> Probe:
    def go():
        _close(sc.openat2(C.AT_FDCWD, "/", resolve=C.RESOLVE_IN_ROOT | C.RESOLVE_NO_MAGICLINKS))
        return "RESOLVE_IN_ROOT path resolution inside the container (Linux 5.6)"
    return _try("openat2", "5.6", go)


def pidfd() -> Probe:
    def go():
        _close(sc.pidfd_open(os.getpid()))
        return "pidfd_open (Linux 5.3)"
    return _try("pidfd", "5.3", go)


def idmap_on(fd: int) -> Probe:
    """Try MOUNT_ATTR_IDMAP on the detached mount ``fd`` (consumed)."""
    from dynvol.linux.userns import mapped_userns

    name = fs_name(fd)
    try:
        ns = mapped_userns(((0, 0, 65536),), ((0, 0, 65536),))
        try:
            sc.mount_setattr(fd, attr_set=C.MOUNT_ATTR_IDMAP, userns_fd=ns, recursive=False)
        finally:
            os.close(ns)
        return Probe(f"idmapped mounts on {name}", True, f"{name} can be idmapped (Linux 5.12)")
    except KernelError as e:
        if e.errno == errno.EINVAL:
            return Probe(f"idmapped mounts on {name}", False, f"{name} does not support idmapped mounts")
        return Probe(f"idmapped mounts on {name}", False, _why(e, "5.12"))
    finally:
        os.close(fd)


def idmapped_mounts() -> Probe:
    try:
        fd = _tmpfs()
    except KernelError as e:
        return Probe("idmapped mounts", False, _why(e, "5.2"))
    p = idmap_on(fd)
    p.name = "idmapped mounts"
    return p


def idmap_path(path: str) -> Probe:
    """Can the filesystem holding ``path`` be idmapped? (a detached, non-recursive clone is tried)"""
    try:
        fd = sc.open_tree(path, recursive=False)
    except KernelError as e:
        return Probe(f"idmapped mounts at {path}", False, _why(e, "5.2"))
    return idmap_on(fd)


def kernel_release() -> str:
    return os.uname().release


def all_probes() -> list[Probe]:
    return [new_mount_api(), mount_setattr(), openat2(), pidfd(), idmapped_mounts()]
