"""Kernel tier: root, no Docker. A sleeping process in its own mount namespace stands in for a container."""

from __future__ import annotations

import os
import subprocess
import time

import pytest


@pytest.fixture
def nsproc(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("the kernel tier needs root", pytrace=False)
    p = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sleep", "1000"])
    for _ in range(100):
        try:
            if os.stat(f"/proc/{p.pid}/ns/mnt").st_ino != os.stat("/proc/self/ns/mnt").st_ino:
                break
        except FileNotFoundError:
            pass
        time.sleep(0.01)
    yield p.pid
    p.kill()
    p.wait()


def ns_run(pid: int, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["nsenter", "-t", str(pid), "-m", *cmd], capture_output=True, check=check)


def ns_mountpoints(pid: int) -> list[str]:
    with open(f"/proc/{pid}/mountinfo") as f:
        return [line.split()[4] for line in f]
