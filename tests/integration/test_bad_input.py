"""Every bad input: a one-line error (plus an optional hint line), the right exit code, nothing changed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dynvol.state import Store
from tests.integration.conftest import cexec, docker, dynvol, mountinfo


def snapshot(container, state_dir, hostdir):
    return (mountinfo(container) if container else None,
            cexec(container, "sh", "-c", "ls -A /; ls -la /data /etc /bin | md5sum").stdout if container else None,
            [r.__dict__ for r in Store(str(state_dir)).list()],
            sorted(os.listdir(hostdir)))


def check(r, code, needle):
    err = r.stderr.decode()
    lines = err.splitlines()
    assert r.returncode == code, err
    assert lines and lines[0].startswith("dynvol: ") or lines[0].startswith("Error: "), err
    assert len(lines) <= 2 and (len(lines) == 1 or lines[1].startswith("hint: ")), err
    assert needle in err, err
    assert "Traceback" not in err


CASES = [
    # (args after CONTAINER, exit code, message fragment)
    (["/a:/b:/c:/d"], 2, "invalid volume specification"),
    (["data/x:/x"], 2, "use absolute path"),
    (["{host}:relative"], 2, "must be absolute"),
    (["{host}:/x:bogus"], 2, "invalid mode: bogus"),
    (["--mount", "type=bind,source={host},target=/x,frob=1"], 2, "unexpected key"),
    (["/nonexistent/dir:/x"], 3, "does not exist"),
    (["{host}:/proc/x"], 2, "under /proc"),
    (["{host}:/sys/kernel"], 2, "under /sys"),
    (["{host}:/dev/x"], 2, "under /dev"),
    (["{host}:/"], 2, "root"),
    (["{host}/hello.txt:/bin"], 1, "is a directory"),
    (["{host}:/etc/passwd"], 1, "not a directory"),
    (["{host}:/a", "{host}:/a"], 2, "duplicate mount point"),
    ([], 2, "nothing to attach"),
]


@pytest.mark.parametrize("args, code, needle", CASES)
def test_attach_bad_input(container, state_dir, hostdir, args, code, needle):
    args = [a.replace("{host}", str(hostdir)) for a in args]
    before = snapshot(container, state_dir, hostdir)
    check(dynvol("attach", container, *args), code, needle)
    assert snapshot(container, state_dir, hostdir) == before


def test_unknown_container(state_dir, hostdir):
    check(dynvol("attach", "no-such-container", f"{hostdir}:/x"), 3, "no such container")
    check(dynvol("detach", "no-such-container", "/x"), 3, "no such container")
    check(dynvol("ls", "no-such-container"), 3, "no such container")
    assert Store(str(state_dir)).list() == []


def test_stopped_container(containers, state_dir, hostdir):
    name = containers.create()
    check(dynvol("attach", name, f"{hostdir}:/x"), 1, "not running")
    docker("start", name)
    docker("stop", "-t", "0", name)
    check(dynvol("attach", name, f"{hostdir}:/x"), 1, "not running (exited)")
    assert Store(str(state_dir)).list() == []


def test_detach_bad_input(container, state_dir, hostdir):
    before = snapshot(container, state_dir, hostdir)
    check(dynvol("detach", container), 2, "name a target")
    check(dynvol("detach", container, "relative"), 2, "absolute")
    check(dynvol("detach", container, "/x", "--all"), 2, "not both")
    check(dynvol("detach", container, "/nothing-here"), 3, "no dynvol mount")
    assert snapshot(container, state_dir, hostdir) == before


def test_non_root_caller(container, state_dir, hostdir):
    before = snapshot(container, state_dir, hostdir)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                        sys.executable, "-m", "dynvol", "attach", container, f"{hostdir}:/x"],
                       capture_output=True, env=env)
    check(r, 4, "must run as root")
    assert snapshot(container, state_dir, hostdir) == before


def test_engine_unreachable(state_dir, hostdir):
    r = dynvol("attach", "web", f"{hostdir}:/x", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    check(r, 6, "cannot reach the Docker engine")
