"""Typed wrappers for the system calls dynvol needs, bound declaratively.

Each raw call is described once in ``SYSCALLS`` (number, argument types) or
``LIBC`` (libc symbol, argument types). Every wrapper raises
:class:`dynvol.errors.KernelError` carrying the syscall name, errno and step.
The new mount API syscalls (424 and up) share one number across architectures.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass

from dynvol.errors import KernelError
from dynvol.linux import consts as C

_libc = ctypes.CDLL(None, use_errno=True)

c_int, c_uint, c_char_p, c_void_p = ctypes.c_int, ctypes.c_uint, ctypes.c_char_p, ctypes.c_void_p
c_size_t, c_ulong, c_long = ctypes.c_size_t, ctypes.c_ulong, ctypes.c_long


class OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


class MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


class StatxTimestamp(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_int64), ("tv_nsec", ctypes.c_uint32), ("_reserved", ctypes.c_int32)]


class Statx(ctypes.Structure):
    _fields_ = [
        ("stx_mask", ctypes.c_uint32), ("stx_blksize", ctypes.c_uint32),
        ("stx_attributes", ctypes.c_uint64), ("stx_nlink", ctypes.c_uint32),
        ("stx_uid", ctypes.c_uint32), ("stx_gid", ctypes.c_uint32), ("stx_mode", ctypes.c_uint16),
        ("_spare0", ctypes.c_uint16), ("stx_ino", ctypes.c_uint64), ("stx_size", ctypes.c_uint64),
        ("stx_blocks", ctypes.c_uint64), ("stx_attributes_mask", ctypes.c_uint64),
        ("stx_atime", StatxTimestamp), ("stx_btime", StatxTimestamp),
        ("stx_ctime", StatxTimestamp), ("stx_mtime", StatxTimestamp),
        ("stx_rdev_major", ctypes.c_uint32), ("stx_rdev_minor", ctypes.c_uint32),
        ("stx_dev_major", ctypes.c_uint32), ("stx_dev_minor", ctypes.c_uint32),
        ("stx_mnt_id", ctypes.c_uint64), ("_spare", ctypes.c_uint64 * 13),
    ]


# name: (number, [argtypes]) -- invoked through syscall(2)
SYSCALLS: dict[str, tuple[int, list]] = {
    "open_tree": (428, [c_int, c_char_p, c_uint]),
    "move_mount": (429, [c_int, c_char_p, c_int, c_char_p, c_uint]),
    "fsopen": (430, [c_char_p, c_uint]),
    "fsconfig": (431, [c_int, c_uint, c_char_p, c_void_p, c_int]),
    "fsmount": (432, [c_int, c_uint, c_uint]),
    "pidfd_open": (434, [c_int, c_uint]),
    "pidfd_send_signal": (424, [c_int, c_int, c_void_p, c_uint]),
    "openat2": (437, [c_int, c_char_p, ctypes.POINTER(OpenHow), c_size_t]),
    "mount_setattr": (442, [c_int, c_char_p, c_uint, ctypes.POINTER(MountAttr), c_size_t]),
}

# name: ([argtypes], restype) -- plain libc functions
LIBC: dict[str, tuple[list, type]] = {
    "setns": ([c_int, c_int], c_int),
    "umount2": ([c_char_p, c_int], c_int),
    "statx": ([c_int, c_char_p, c_int, c_uint, ctypes.POINTER(Statx)], c_int),
    "unshare": ([c_int], c_int),
    "mount": ([c_char_p, c_char_p, c_char_p, c_ulong, c_void_p], c_int),
}

_syscall = _libc.syscall
_syscall.restype = c_long


def _bind_syscall(name: str):
    """Make a caller for ``syscall(number, ...)`` that converts each argument to its declared type.

    syscall(2) is variadic, so ctypes cannot convert for us: integers must be
    wrapped explicitly, while bytes, None and byref() pointers pass through.
    """
    number, argtypes = SYSCALLS[name]
    scalar = (c_int, c_uint, c_size_t)

    def call(*args):
        return _syscall(c_long(number), *(t(a) if t in scalar and a is not None else a
                                          for t, a in zip(argtypes, args)))

    call.__name__ = name
    return call


def _bind_libc(name: str):
    argtypes, restype = LIBC[name]
    fn = getattr(_libc, name)
    fn.argtypes, fn.restype = argtypes, restype
    return fn


_raw = {name: _bind_syscall(name) for name in SYSCALLS}
_raw.update({name: _bind_libc(name) for name in LIBC})


def _check(name: str, ret: int, *, step: str, path: str | None = None) -> int:
    if ret < 0:
        raise KernelError(name, ctypes.get_errno(), step=step, path=path)
    return ret


def _b(path: str | bytes | None) -> bytes | None:
    if path is None:
        return None
    return os.fsencode(path)


# ---------------------------------------------------------------- processes & namespaces

def pidfd_open(pid: int, *, step: str = "pidfd_open") -> int:
    return _check("pidfd_open", _raw["pidfd_open"](pid, 0), step=step)


def pidfd_alive(pidfd: int) -> bool:
    """True while the process behind ``pidfd`` has not exited (signal 0 probe)."""
    ret = _raw["pidfd_send_signal"](pidfd, 0, None, 0)
    return ret == 0 or ctypes.get_errno() == 1  # EPERM still means it exists


def setns(fd: int, nstype: int, *, step: str = "setns") -> None:
    _check("setns", _raw["setns"](fd, nstype), step=step)


def unshare(flags: int, *, step: str = "unshare") -> None:
    _check("unshare", _raw["unshare"](flags), step=step)


# ---------------------------------------------------------------- the new mount API

def open_tree(path: str, *, dirfd: int = C.AT_FDCWD, clone: bool = True, recursive: bool = True,
              follow: bool = True, step: str = "open_tree") -> int:
    flags = C.OPEN_TREE_CLOEXEC
    if clone:
        flags |= C.OPEN_TREE_CLONE
    if recursive:
        flags |= C.AT_RECURSIVE
    if not follow:
        flags |= C.AT_SYMLINK_NOFOLLOW
    if path == "":
        flags |= C.AT_EMPTY_PATH
    return _check("open_tree", _raw["open_tree"](dirfd, _b(path), flags), step=step, path=path or None)


def move_mount(from_fd: int, to_fd: int, *, step: str = "move_mount") -> None:
    """Move the mount at ``from_fd`` onto the object ``to_fd`` refers to (both as fds)."""
    flags = C.MOVE_MOUNT_F_EMPTY_PATH | C.MOVE_MOUNT_T_EMPTY_PATH
    _check("move_mount", _raw["move_mount"](from_fd, b"", to_fd, b"", flags), step=step)


def mount_setattr(fd: int, *, attr_set: int = 0, attr_clr: int = 0, propagation: int = 0,
                  userns_fd: int = 0, recursive: bool = True, step: str = "mount_setattr") -> None:
    attr = MountAttr(attr_set, attr_clr, propagation, userns_fd)
    flags = C.AT_EMPTY_PATH | (C.AT_RECURSIVE if recursive else 0)
    _check("mount_setattr",
           _raw["mount_setattr"](fd, b"", flags, ctypes.byref(attr), ctypes.sizeof(attr)), step=step)


def fsopen(fstype: str, *, step: str = "fsopen") -> int:
    return _check("fsopen", _raw["fsopen"](_b(fstype), C.FSOPEN_CLOEXEC), step=step)


def fsconfig(fsfd: int, cmd: int, key: str | None = None, value: str | bytes | None = None,
             aux: int = 0, *, step: str = "fsconfig") -> None:
    v = _b(value) if isinstance(value, str) else value
    ret = _raw["fsconfig"](fsfd, cmd, _b(key), ctypes.c_char_p(v) if v is not None else None, aux)
    _check("fsconfig", ret, step=step, path=key)


def fs_log(fsfd: int) -> list[str]:
    """Drain the messages the filesystem left in the context's log ("e ext4: Unknown parameter 'x'")."""
    out = []
    while True:
        try:
            msg = os.read(fsfd, 1024)
        except OSError:  # ENODATA: the log is empty
            return out
        if not msg:
            return out
        out.append(msg.decode(errors="replace").rstrip("\n"))


def fsmount(fsfd: int, *, attrs: int = 0, step: str = "fsmount") -> int:
    return _check("fsmount", _raw["fsmount"](fsfd, C.FSMOUNT_CLOEXEC, attrs), step=step)


def umount2(path: str, flags: int = 0, *, step: str = "umount2") -> None:
    _check("umount2", _raw["umount2"](_b(path), flags), step=step, path=path)


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0,
          data: str | None = None, *, step: str = "mount") -> None:
    """Classic mount(2); used only for tests and propagation changes on the host."""
    d = _b(data)
    _check("mount", _raw["mount"](_b(source), _b(target), _b(fstype), flags,
                                   ctypes.c_char_p(d) if d else None), step=step, path=target)


# ---------------------------------------------------------------- path resolution

def openat2(dirfd: int, path: str, *, flags: int = C.O_PATH, resolve: int = 0, mode: int = 0,
            step: str = "openat2") -> int:
    how = OpenHow(flags | C.O_CLOEXEC, mode, resolve)
    return _check("openat2", _raw["openat2"](dirfd, _b(path), ctypes.byref(how), ctypes.sizeof(how)),
                  step=step, path=path)


@dataclass(frozen=True)
class StatxResult:
    mode: int
    uid: int
    gid: int
    ino: int
    dev: tuple[int, int]
    mnt_id: int | None
    mount_root: bool


def statx(fd: int, path: str = "", *, mask: int = C.STATX_BASIC_STATS | C.STATX_MNT_ID,
          follow: bool = True, step: str = "statx") -> StatxResult:
    buf = Statx()
    flags = (C.AT_EMPTY_PATH if path == "" else 0) | (0 if follow else C.AT_SYMLINK_NOFOLLOW)
    flags |= C.AT_NO_AUTOMOUNT
    _check("statx", _raw["statx"](fd, _b(path), flags, mask, ctypes.byref(buf)), step=step,
           path=path or None)
    want_id = mask & (C.STATX_MNT_ID | C.STATX_MNT_ID_UNIQUE)
    mnt_id = buf.stx_mnt_id if buf.stx_mask & want_id else None
    mount_root = bool(buf.stx_attributes & buf.stx_attributes_mask & C.STATX_ATTR_MOUNT_ROOT)
    return StatxResult(buf.stx_mode, buf.stx_uid, buf.stx_gid, buf.stx_ino,
                       (buf.stx_dev_major, buf.stx_dev_minor), mnt_id, mount_root)


def mount_ids(fd: int, path: str = "", *, step: str = "statx") -> tuple[int, int | None]:
    """Return (mnt_id as in mountinfo, unique 64-bit mount id or None on older kernels)."""
    plain = statx(fd, path, mask=C.STATX_MNT_ID, step=step).mnt_id
    unique = statx(fd, path, mask=C.STATX_MNT_ID_UNIQUE, step=step).mnt_id
    if plain is None:
        raise KernelError("statx", 95, step=step)  # EOPNOTSUPP: kernel older than 5.8
    return plain, unique


class _Statfs(ctypes.Structure):
    _fields_ = [("f_type", ctypes.c_long), ("f_bsize", ctypes.c_long), ("_rest", ctypes.c_uint64 * 14)]


_libc.fstatfs.argtypes = [c_int, ctypes.POINTER(_Statfs)]
_libc.fstatfs.restype = c_int


def fstatfs_type(fd: int, *, step: str = "fstatfs") -> int:
    buf = _Statfs()
    _check("fstatfs", _libc.fstatfs(fd, ctypes.byref(buf)), step=step)
    return buf.f_type & 0xFFFFFFFF
