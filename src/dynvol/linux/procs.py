"""Which processes hold a mount busy: cwd, root or open files on it."""

from __future__ import annotations

import os

from dynvol.linux import consts as C
from dynvol.linux.syscalls import statx
from dynvol.errors import KernelError


def _mnt_of(path: str) -> int | None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return statx(fd, mask=C.STATX_MNT_ID).mnt_id
    except KernelError:
        return None
    finally:
        os.close(fd)


def _ns_pid(pid: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
    except OSError:
        pass
    return None


def holders(mnt_ns_ino: int, mnt_ids: set[int]) -> list[dict]:
    """Processes in the mount namespace ``mnt_ns_ino`` that use any mount in ``mnt_ids``.

    Each holder: host pid, pid inside the container, command name, and what it holds.
    """
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}/ns/mnt").st_ino != mnt_ns_ino:
                continue
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        uses = [w for w in ("cwd", "root") if _mnt_of(f"/proc/{pid}/{w}") in mnt_ids]
        try:
            fds = os.listdir(f"/proc/{pid}/fdinfo")
        except OSError:
            fds = []
        for fd in fds:
            try:
                with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                    for line in f:
                        if line.startswith("mnt_id:") and int(line.split()[1]) in mnt_ids:
                            uses.append(f"fd {fd}")
                            break
            except OSError:
                continue
        if uses:
            out.append({"pid": int(pid), "container_pid": _ns_pid(pid), "comm": comm, "uses": uses})
    return out


def host_id(pid: int, inside: int = 0, *, kind: str = "uid") -> int:
    """The host uid/gid that ``inside`` maps to in the user namespace of ``pid``."""
    with open(f"/proc/{pid}/{kind}_map") as f:
        for line in f:
            start, host, count = (int(x) for x in line.split())
            if start <= inside < start + count:
                return host + inside - start
    return 65534  # unmapped: the overflow id, as the kernel shows it


def in_user_namespace(pid: int) -> bool:
    return os.stat(f"/proc/{pid}/ns/user").st_ino != os.stat("/proc/self/ns/user").st_ino


def belongs_to(pid: int, container_id: str) -> bool:
    """True if ``pid`` sits in a cgroup named after ``container_id`` (cgroupfs and systemd drivers)."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            return container_id in f.read()
    except OSError:
        return False
