"""Integration fixtures: a real dockerd (started by scripts/test), busybox containers, the CLI.

Factories track what they create and remove it at teardown. With
DYNVOL_REQUIRE_ENGINE=1 (set by scripts/test and so by CI) a missing engine is
a failure, never a skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

IMAGE = "dynvol-busybox"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def docker(*args: str, check: bool = True, input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, check=check, input=input)


def out(*args: str) -> str:
    return docker(*args).stdout.decode().strip()


@pytest.fixture(scope="session", autouse=True)
def engine():
    """The private engine's DOCKER_HOST; fails the run if it does not answer."""
    host = os.environ.get("DOCKER_HOST", "")
    ok = host and subprocess.run(["docker", "version"], capture_output=True).returncode == 0
    if not ok:
        msg = f"no Docker engine at DOCKER_HOST={host!r}; run the suite with scripts/test"
        if os.environ.get("DYNVOL_REQUIRE_ENGINE"):
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    if docker("image", "inspect", IMAGE, check=False).returncode != 0:
        subprocess.run([os.path.join(ROOT, "scripts", "engine"), "image",
                        os.environ.get("DYNVOL_TEST_ENGINE_DIR", "/tmp/dynvol-test-engine")], check=True)
    return host


class Containers:
    def __init__(self):
        self.names: list[str] = []

    def run(self, *args: str, cmd: tuple[str, ...] = ("sleep", "100000"), name: str | None = None,
            image: str = IMAGE) -> str:
        name = name or f"dv-{uuid.uuid4().hex[:10]}"
        docker("run", "-d", "--network", "none", "--name", name, *args, image, *cmd)
        self.names.append(name)
        return name

    def create(self, *args: str, name: str | None = None, cmd=("sleep", "100000")) -> str:
        name = name or f"dv-{uuid.uuid4().hex[:10]}"
        docker("create", "--network", "none", "--name", name, *args, IMAGE, *cmd)
        self.names.append(name)
        return name

    def cleanup(self):
        if self.names:
            docker("rm", "-f", "-v", *self.names, check=False)


@pytest.fixture
def containers():
    c = Containers()
    yield c
    c.cleanup()


@pytest.fixture
def container(containers):
    """A running busybox container, removed at teardown."""
    return containers.run()


class Volumes:
    def __init__(self):
        self.names: list[str] = []

    def create(self, *args: str, name: str | None = None) -> str:
        name = name or f"dvv-{uuid.uuid4().hex[:10]}"
        docker("volume", "create", *args, name)
        self.names.append(name)
        return name

    def track(self, name: str) -> str:
        self.names.append(name)
        return name

    def cleanup(self):
        for n in self.names:
            docker("volume", "rm", "-f", n, check=False)


@pytest.fixture
def volumes():
    v = Volumes()
    yield v
    v.cleanup()


def cexec(container: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command inside the container (what the container itself sees)."""
    return docker("exec", container, *cmd, check=check)


def cread(container: str, path: str) -> str:
    return cexec(container, "cat", path).stdout.decode()


def pid_of(container: str) -> int:
    return int(out("inspect", "-f", "{{.State.Pid}}", container))


def dynvol(*args: str, input: bytes | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the dynvol CLI as a user would, in a subprocess."""
    return subprocess.run([sys.executable, "-m", "dynvol", *args], capture_output=True, input=input,
                          env={**os.environ, **(env or {})})


def mountinfo(container: str) -> str:
    with open(f"/proc/{pid_of(container)}/mountinfo") as f:
        return f.read()
