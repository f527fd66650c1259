"""Loop devices through the LOOP_CTL_* and LOOP_CONFIGURE ioctls (linux/loop.h).

:func:`attach_file` binds a file to a free loop device with LO_FLAGS_AUTOCLEAR:
the kernel releases the device when its last opener goes away. Once a
filesystem is mounted from it, that is when the last mount of the filesystem
is gone (an umount, or the death of the mount namespace holding it). Before
that, the caller's own fd is the last opener, so closing it on an error path
releases the device too.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os

from dynvol.errors import KernelError

LOOP_CONTROL = "/dev/loop-control"
LOOP_CTL_GET_FREE = 0x4C82
LOOP_CONFIGURE = 0x4C0A
LOOP_GET_STATUS64 = 0x4C05
LO_FLAGS_READ_ONLY = 1
LO_FLAGS_AUTOCLEAR = 4
LO_NAME_SIZE = 64
LO_KEY_SIZE = 32


class LoopInfo64(ctypes.Structure):
    _fields_ = [
        ("lo_device", ctypes.c_uint64), ("lo_inode", ctypes.c_uint64),
        ("lo_rdevice", ctypes.c_uint64), ("lo_offset", ctypes.c_uint64),
        ("lo_sizelimit", ctypes.c_uint64), ("lo_number", ctypes.c_uint32),
        ("lo_encrypt_type", ctypes.c_uint32), ("lo_encrypt_key_size", ctypes.c_uint32),
        ("lo_flags", ctypes.c_uint32), ("lo_file_name", ctypes.c_uint8 * LO_NAME_SIZE),
        ("lo_crypt_name", ctypes.c_uint8 * LO_NAME_SIZE),
        ("lo_encrypt_key", ctypes.c_uint8 * LO_KEY_SIZE), ("lo_init", ctypes.c_uint64 * 2),
    ]


class LoopConfig(ctypes.Structure):
    _fields_ = [("fd", ctypes.c_uint32), ("block_size", ctypes.c_uint32),
                ("info", LoopInfo64), ("_reserved", ctypes.c_uint64 * 8)]


def _ioctl(fd: int, request: int, arg, *, name: str, step: str, path: str | None = None) -> int:
    try:
        return fcntl.ioctl(fd, request, arg)
    except OSError as e:
        raise KernelError(name, e.errno, step=step, path=path) from e


def attach_file(path: str, *, readonly: bool, step: str = "set up a loop device",
                attempts: int = 16) -> tuple[str, int]:
    """Bind ``path`` to a free loop device with autoclear; return (device path, open fd on it).

    The caller must keep the fd open until the filesystem is mounted, then close it.
    """
    mode = os.O_RDONLY if readonly else os.O_RDWR
    try:
        backing = os.open(path, mode | os.O_CLOEXEC)
    except OSError as e:
        raise KernelError("open", e.errno, step=step, path=path) from e
    try:
        try:
            ctl = os.open(LOOP_CONTROL, os.O_RDWR | os.O_CLOEXEC)
        except OSError as e:
            raise KernelError("open", e.errno, step=step, path=LOOP_CONTROL) from e
        try:
            for _ in range(attempts):
                n = _ioctl(ctl, LOOP_CTL_GET_FREE, 0, name="ioctl(LOOP_CTL_GET_FREE)", step=step)
                dev = f"/dev/loop{n}"
                try:
                    lfd = os.open(dev, mode | os.O_CLOEXEC)
                except OSError as e:
                    raise KernelError("open", e.errno, step=step, path=dev) from e
                cfg = LoopConfig(fd=backing, block_size=0)
                cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | (LO_FLAGS_READ_ONLY if readonly else 0)
                name = os.fsencode(path)[:LO_NAME_SIZE - 1]
                ctypes.memmove(cfg.info.lo_file_name, name, len(name))
                try:
                    _ioctl(lfd, LOOP_CONFIGURE, cfg, name="ioctl(LOOP_CONFIGURE)", step=step, path=dev)
                except KernelError as e:
                    os.close(lfd)
                    if e.errno == errno.EBUSY:  # another process took it between GET_FREE and here
                        continue
                    raise
                return dev, lfd
            raise KernelError("ioctl(LOOP_CONFIGURE)", errno.EBUSY, step=step)
        finally:
            os.close(ctl)
    finally:
        os.close(backing)


def backing_file(dev: str) -> str | None:
    """The file bound to loop device ``dev`` (e.g. /dev/loop3), or None if it is free."""
    name = os.path.basename(dev)
    try:
        with open(f"/sys/block/{name}/loop/backing_file") as f:
            return f.read().rstrip("\n")
    except OSError:
        return None


def devices_of(path: str) -> list[str]:
    """Loop devices whose backing file is ``path`` (same inode), as /dev/loopN."""
    try:
        st = os.stat(path)
    except OSError:
        return []
    out = []
    try:
        names = os.listdir("/sys/block")
    except OSError:
        return []
    for name in names:
        if not name.startswith("loop"):
            continue
        try:
            fd = os.open(f"/dev/{name}", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            info = LoopInfo64()
            fcntl.ioctl(fd, LOOP_GET_STATUS64, info)
        except OSError:
            continue  # ENXIO: not bound
        finally:
            os.close(fd)
        if info.lo_inode == st.st_ino and info.lo_device == st.st_dev:
            out.append(f"/dev/{name}")
    return out
