"""Parse /proc/PID/mountinfo (proc(5)) into plain records."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _unescape(s: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo octal
    if "\\" not in s:
        return s
    out, i = bytearray(), 0
    raw = s.encode("utf-8", "surrogateescape")
    while i < len(raw):
        if raw[i] == 0x5C and i + 4 <= len(raw) and raw[i + 1:i + 4].isdigit():
            out.append(int(raw[i + 1:i + 4], 8))
            i += 4
        else:
            out.append(raw[i])
            i += 1
    return out.decode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class MountEntry:
    mnt_id: int
    parent_id: int
    dev: tuple[int, int]
    root: str
    mountpoint: str
    options: tuple[str, ...]
    optional: tuple[str, ...]
    fstype: str
    source: str
    super_options: tuple[str, ...] = field(default=())

    @property
    def readonly(self) -> bool:
        return "ro" in self.options

    @property
    def propagation(self) -> str:
        """Docker's names: shared, slave (master:N), private, unbindable."""
        kinds = [o.split(":")[0] for o in self.optional]
        if "shared" in kinds and "master" in kinds:
            return "rshared+slave"
        if "shared" in kinds:
            return "shared"
        if "master" in kinds:
            return "slave"
        if "unbindable" in kinds:
            return "unbindable"
        return "private"


def parse_line(line: str) -> MountEntry:
    pre, _, post = line.rstrip("\n").partition(" - ")
    f = pre.split(" ")
    fstype, source, sopts = (post.split(" ") + ["", "", ""])[:3]
    major, minor = f[2].split(":")
    return MountEntry(
        mnt_id=int(f[0]), parent_id=int(f[1]), dev=(int(major), int(minor)), root=_unescape(f[3]),
        mountpoint=_unescape(f[4]), options=tuple(f[5].split(",")), optional=tuple(f[6:]),
        fstype=fstype, source=_unescape(source), super_options=tuple(sopts.split(",")) if sopts else (),
    )


def parse(text: str) -> list[MountEntry]:
    return [parse_line(line) for line in text.splitlines() if line.strip()]


def read(pid: int | str = "self") -> list[MountEntry]:
    with open(f"/proc/{pid}/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        return parse(f.read())


def subtree_ids(entries: list[MountEntry], mnt_id: int) -> set[int]:
    """The mount and every mount stacked below it in the tree (its descendants)."""
    children: dict[int, list[int]] = {}
    for e in entries:
        children.setdefault(e.parent_id, []).append(e.mnt_id)
    out, todo = set(), [mnt_id]
    while todo:
        m = todo.pop()
        if m not in out:
            out.add(m)
            todo.extend(children.get(m, ()))
    return out


def mount_ns_inode(pid: int | str) -> int:
    return os.stat(f"/proc/{pid}/ns/mnt").st_ino


@dataclass(frozen=True)
class DeviceMount:
    """A mount of a device, found in some mount namespace of this host."""

    entry: MountEntry
    pid: int  # a process in that namespace
    comm: str
    host_ns: bool  # the namespace of the caller (the host's, for dynvol)

    @property
    def writable(self) -> bool:
        """The filesystem instance is read-write (its superblock, not just this mount)."""
        return "rw" in self.entry.super_options


def mounts_of_device(dev: tuple[int, int]) -> list[DeviceMount]:
    """Every mount of device ``dev`` (major, minor) in every mount namespace on the host.

    Reads /proc/self/mountinfo, then one process's mountinfo per other mount
    namespace. Namespaces that no process is in (held only by an fd or a bind)
    are not seen.
    """
    own = mount_ns_inode("self")
    seen: set[int] = set()
    out: list[DeviceMount] = []
    for pid in ["self", *filter(str.isdigit, os.listdir("/proc"))]:
        try:
            ino = mount_ns_inode(pid)
            if ino in seen:
                continue
            entries = read(pid)
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        seen.add(ino)
        n = os.getpid() if pid == "self" else int(pid)
        out.extend(DeviceMount(e, n, comm, ino == own) for e in entries if e.dev == dev)
    return out
