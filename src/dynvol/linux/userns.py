"""User namespaces as fds: the container's own, or a new one with a given mapping (for idmapped mounts)."""

from __future__ import annotations

import os
import subprocess
import sys

from dynvol.errors import KernelError
from dynvol.linux import consts as C
from dynvol.linux import syscalls as sc

IDENTITY = ((0, 0, 4294967295),)


def read_map(pid: int | str, kind: str) -> tuple[tuple[int, int, int], ...]:
    """/proc/PID/uid_map or gid_map as (inside, outside, count) lines."""
    with open(f"/proc/{pid}/{kind}_map") as f:
        return tuple(tuple(int(x) for x in line.split()) for line in f if line.strip())  # type: ignore[misc]


def open_userns(pid: int | str) -> int:
    try:
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise KernelError("open", e.errno, step="open the user namespace", path=f"/proc/{pid}/ns/user") from e


def _write_map(pid: int, kind: str, lines) -> None:
    text = "".join(f"{a} {b} {n}\n" for a, b, n in lines)
    try:
        with open(f"/proc/{pid}/{kind}_map", "w") as f:
            f.write(text)
    except OSError as e:
        raise KernelError("write", e.errno, step=f"write {kind}_map", path=f"/proc/{pid}/{kind}_map") from e


_CHILD = ("import sys\nfrom dynvol.linux.syscalls import unshare\nunshare(%d)\n"
          "sys.stdout.write('r'); sys.stdout.flush(); sys.stdin.read(1)\n" % C.CLONE_NEWUSER)


def mapped_userns(uid_map, gid_map) -> int:
    """An fd on a new user namespace with these (inside, outside, count) mappings.

    A child unshares a user namespace and waits; this process writes its maps
    and opens its ns file, then lets it exit. The fd keeps the namespace alive.
    Forks while single-threaded; otherwise starts a small interpreter.
    """
    if len(os.listdir("/proc/self/task")) == 1:
        r, w = os.pipe()
        go_r, go_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(r)
                os.close(go_w)
                sc.unshare(C.CLONE_NEWUSER)
                os.write(w, b"r")
                os.read(go_r, 1)
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        os.close(go_r)
        try:
            ready = os.read(r, 1)
            if ready != b"r":
                raise KernelError("unshare", 22, step="create a user namespace for the idmap")
            return _finish(pid, uid_map, gid_map)
        finally:
            os.close(r)
            os.close(go_w)
            os.waitpid(pid, 0)
    p = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        if p.stdout.read(1) != b"r":
            raise KernelError("unshare", 22, step="create a user namespace for the idmap")
        return _finish(p.pid, uid_map, gid_map)
    finally:
        p.stdin.close()
        p.stdout.close()
        p.wait()


def _finish(pid: int, uid_map, gid_map) -> int:
    _write_map(pid, "uid", uid_map)
    _write_map(pid, "gid", gid_map)
    return open_userns(pid)
