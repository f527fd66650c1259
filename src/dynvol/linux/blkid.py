"""What a device or image file holds, from libblkid in-process (the `blkid -p` probe, no fork).

:func:`probe` returns the low-level probe's values (TYPE, USAGE, PTTYPE, ...),
``{}`` when nothing is found, or raises :class:`Ambivalent` when several
signatures match. Raises :class:`Unavailable` when libblkid cannot be loaded,
so the caller can fall back to the blkid program.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

from dynvol.errors import KernelError

BLKID_SUBLKS_LABEL = 1 << 1
BLKID_SUBLKS_UUID = 1 << 3
BLKID_SUBLKS_TYPE = 1 << 5
BLKID_SUBLKS_USAGE = 1 << 7
BLKID_SUBLKS_VERSION = 1 << 8
KEYS = ("TYPE", "USAGE", "PTTYPE", "LABEL", "UUID", "VERSION")

# name: ([argtypes], restype)
SIGNATURES: dict[str, tuple[list, type]] = {
    "blkid_new_probe_from_filename": ([ctypes.c_char_p], ctypes.c_void_p),
    "blkid_free_probe": ([ctypes.c_void_p], None),
    "blkid_probe_enable_superblocks": ([ctypes.c_void_p, ctypes.c_int], ctypes.c_int),
    "blkid_probe_set_superblocks_flags": ([ctypes.c_void_p, ctypes.c_int], ctypes.c_int),
    "blkid_probe_enable_partitions": ([ctypes.c_void_p, ctypes.c_int], ctypes.c_int),
    "blkid_do_safeprobe": ([ctypes.c_void_p], ctypes.c_int),
    "blkid_probe_lookup_value": ([ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p),
                                  ctypes.POINTER(ctypes.c_size_t)], ctypes.c_int),
}


class Unavailable(Exception):
    """libblkid is not installed or lacks a symbol."""


class Ambivalent(Exception):
    """More than one signature matches (e.g. leftovers of an older filesystem)."""


_lib = None


def _load():
    global _lib
    if _lib is None:
        name = ctypes.util.find_library("blkid") or "libblkid.so.1"
        try:
            lib = ctypes.CDLL(name, use_errno=True)
            for fn, (argtypes, restype) in SIGNATURES.items():
                f = getattr(lib, fn)
                f.argtypes, f.restype = argtypes, restype
        except (OSError, AttributeError) as e:
            raise Unavailable(str(e)) from e
        _lib = lib
    return _lib


def probe(path: str) -> dict[str, str]:
    lib = _load()
    pr = lib.blkid_new_probe_from_filename(os.fsencode(path))
    if not pr:
        raise KernelError("blkid_new_probe_from_filename", ctypes.get_errno() or 5, step="probe", path=path)
    try:
        lib.blkid_probe_enable_superblocks(pr, 1)
        lib.blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE
                                              | BLKID_SUBLKS_LABEL | BLKID_SUBLKS_UUID | BLKID_SUBLKS_VERSION)
        lib.blkid_probe_enable_partitions(pr, 1)
        rc = lib.blkid_do_safeprobe(pr)
        if rc == -2:
            raise Ambivalent(path)
        if rc < 0:
            raise KernelError("blkid_do_safeprobe", ctypes.get_errno() or 5, step="probe", path=path)
        if rc == 1:
            return {}
        out = {}
        for key in KEYS:
            data, size = ctypes.c_char_p(), ctypes.c_size_t()
            if lib.blkid_probe_lookup_value(pr, key.encode(), ctypes.byref(data), ctypes.byref(size)) == 0:
                out[key] = (data.value or b"").decode(errors="replace")
        return out
    finally:
        lib.blkid_free_probe(pr)
