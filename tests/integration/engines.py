"""A second private engine, run with --userns-remap=default, for idmap and doctor tests.

Started once per session under ``$DYNVOL_TEST_ENGINE_DIR-userns`` with
scripts/engine (which installs what dockerd needs to create user dockremap and
its subordinate ID ranges), and stopped at the end. A failure to start fails
the tests that use it; it is never a skip.
"""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from tests.integration.conftest import IMAGE, ROOT

ENGINE = os.path.join(ROOT, "scripts", "engine")


class Engine:
    def __init__(self, host: str):
        self.host = host
        self.names: list[str] = []

    @property
    def env(self) -> dict:
        return {**os.environ, "DOCKER_HOST": self.host}

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", *args], capture_output=True, check=check, env=self.env)

    def out(self, *args: str) -> str:
        return self.docker(*args).stdout.decode().strip()

    def run(self, *args: str, cmd=("sleep", "100000")) -> str:
        name = f"dvu-{uuid.uuid4().hex[:10]}"
        self.docker("run", "-d", "--network", "none", "--name", name, *args, IMAGE, *cmd)
        self.names.append(name)
        return name

    def pid(self, name: str) -> int:
        return int(self.out("inspect", "-f", "{{.State.Pid}}", name))

    def cleanup(self) -> None:
        if self.names:
            self.docker("rm", "-f", *self.names, check=False)
            self.names.clear()


@pytest.fixture(scope="session")
def userns_engine_host():
    d = os.environ.get("DYNVOL_TEST_ENGINE_DIR", "/tmp/dynvol-test-engine") + "-userns"
    subprocess.run([ENGINE, "stop", d], capture_output=True)
    r = subprocess.run([ENGINE, "start", d], capture_output=True,
                       env={**os.environ, "DYNVOL_DOCKERD_FLAGS": "--userns-remap=default"})
    if r.returncode != 0:
        pytest.fail(f"the --userns-remap engine did not start: {r.stderr.decode()[-2000:]}", pytrace=False)
    yield r.stdout.decode().strip()
    subprocess.run([ENGINE, "stop", d], capture_output=True)


@pytest.fixture
def userns_engine(userns_engine_host):
    e = Engine(userns_engine_host)
    yield e
    e.cleanup()
