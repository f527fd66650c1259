"""A second private engine for ``dynvol migrate`` tests (import the fixture into a test module).

It listens on a unix socket and on a loopback TCP port, so tests reach it as a
local engine (unix://) and as a remote one (tcp://127.0.0.1:PORT), where
dynvol must do all the work through a helper container, as for any remote host.
Started once per session under ``$DYNVOL_TEST_ENGINE_DIR-2nd`` and stopped at
the end; a failure to start fails the tests, it is never a skip.
"""

from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import dataclass

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass
class Engine:
    dir: str
    unix: str
    tcp: str

    def docker(self, *args: str, via: str = "unix", check: bool = True) -> subprocess.CompletedProcess:
        env = {**os.environ, "DOCKER_HOST": self.unix if via == "unix" else self.tcp}
        return subprocess.run(["docker", *args], capture_output=True, check=check, env=env)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def second_engine(engine):
    base = os.environ.get("DYNVOL_TEST_ENGINE_DIR", "/tmp/dynvol-test-engine")
    d = f"{base}-2nd"
    port = _free_port()
    script = os.path.join(ROOT, "scripts", "engine")
    subprocess.run([script, "stop", d], capture_output=True)
    r = subprocess.run([script, "start", d], capture_output=True,
                       env={**os.environ, "DYNVOL_DOCKERD_FLAGS": f"-H tcp://127.0.0.1:{port}"})
    if r.returncode != 0:
        pytest.fail(f"second engine did not start: {r.stderr.decode()[-500:]}", pytrace=False)
    eng = Engine(d, r.stdout.decode().strip(), f"tcp://127.0.0.1:{port}")
    yield eng
    subprocess.run([script, "stop", d], capture_output=True)
