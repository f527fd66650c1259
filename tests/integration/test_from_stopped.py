"""``--from`` a created or stopped container: its mounts come from its configuration."""

from __future__ import annotations

import json

from dynvol.state import Store
from tests.integration.conftest import cexec, cread, docker, dynvol


def ok(*args, **kw):
    r = dynvol(*args, **kw)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode()


def test_from_created_container_uses_its_config(container, containers, volumes, tmp_path, state_dir):
    vol = volumes.create()
    docker("run", "--rm", "--network", "none", "-v", f"{vol}:/v", "dynvol-busybox", "sh", "-c",
           "echo stored > /v/s")
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "c").write_text("conf\n")
    src = containers.create("-v", f"{vol}:/data", "-v", f"{conf}:/conf:ro")
    rows = json.loads(ok("attach", container, "--from", src, "--json"))
    assert sorted((r["target"], r["type"], r["source"]) for r in rows) == [
        ("/conf", "bind", str(conf)), ("/data", "volume", vol)]
    assert cread(container, "/data/s") == "stored\n"
    assert cread(container, "/conf/c") == "conf\n"
    r = cexec(container, "sh", "-c", "echo x > /conf/x", check=False)
    assert r.returncode != 0 and b"Read-only file system" in r.stderr
    cexec(container, "sh", "-c", "echo back > /data/b")
    got = docker("run", "--rm", "--network", "none", "-v", f"{vol}:/v", "dynvol-busybox", "cat", "/v/b")
    assert got.stdout == b"back\n"


def test_from_stopped_container_ro(container, containers, volumes, state_dir):
    vol = volumes.create()
    src = containers.run("-v", f"{vol}:/data", cmd=("sh", "-c", "echo was-running > /data/w"))
    docker("wait", src)
    ok("attach", container, "--from", f"{src}:ro")
    assert cread(container, "/data/w") == "was-running\n"
    r = cexec(container, "sh", "-c", "echo x > /data/x", check=False)
    assert r.returncode != 0 and b"Read-only file system" in r.stderr
    assert [(a.type, a.source) for a in Store(str(state_dir)).list()] == [("volume", vol)]
