"""Helpers shared by the test_sources_* integration tests."""

from __future__ import annotations

import json
import subprocess
import time

from dynvol.state import Store
from tests.integration.conftest import cexec, dynvol, mountinfo


def ok(*args, **kw) -> str:
    r = dynvol(*args, **kw)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode()


def refused(r, code: int, needle: str) -> str:
    """A one-line error (plus an optional hint line) with ``needle``, exit ``code``, no traceback."""
    err = r.stderr.decode()
    lines = err.splitlines()
    assert r.returncode == code, err
    assert lines and lines[0].startswith("dynvol: "), err
    assert len(lines) == 1 or (len(lines) == 2 and lines[1].startswith("hint: ")), err
    assert needle in err, err
    return err


def mkfs(path, size: str = "16M") -> str:
    subprocess.run(["mkfs.ext4", "-q", "-F", str(path), size], check=True, capture_output=True)
    return str(path)


def loops_of(path) -> list[str]:
    """Loop devices bound to ``path``, as losetup sees them."""
    r = subprocess.run(["losetup", "-j", str(path), "-O", "NAME", "-n"], capture_output=True, text=True)
    return r.stdout.split()


def wait_no_loops(path, *, seconds: float = 5.0) -> list[str]:
    """Poll until no loop device is bound to ``path`` (release is asynchronous); return what is left."""
    end = time.monotonic() + seconds
    while loops_of(path) and time.monotonic() < end:
        time.sleep(0.02)
    return loops_of(path)


def line_at(container: str, target: str) -> str | None:
    """The container's mountinfo line for the mount at ``target`` (the top one), or None."""
    lines = [ln for ln in mountinfo(container).splitlines() if ln.split()[4] == target]
    return lines[-1] if lines else None


def mount_opts(container: str, target: str) -> list[str]:
    return line_at(container, target).split()[5].split(",")


def host_mountinfo() -> str:
    with open("/proc/self/mountinfo") as f:
        return f.read()


def snapshot(container: str, state_dir, *images) -> tuple:
    """What a refused attach must leave unchanged (the host's own mount table is not compared:
    other work on a shared host changes it; the loop devices of ``images`` are)."""
    return (mountinfo(container),
            cexec(container, "sh", "-c", "ls -A / /data /srv /tmp").stdout,
            [r.__dict__ for r in Store(str(state_dir)).list()],
            [loops_of(i) for i in images])


def ls_json(container: str) -> list[dict]:
    return json.loads(ok("ls", container, "--json"))
