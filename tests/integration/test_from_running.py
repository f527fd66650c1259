"""Live volumes-from: ``dynvol attach app --from dbdata``, checked from inside the app container."""

from __future__ import annotations

import json

import pytest

from dynvol.state import Store
from tests.integration.conftest import cexec, cread, docker, dynvol, mountinfo, out


def ok(*args, **kw):
    r = dynvol(*args, **kw)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode()


def targets(container: str) -> set[str]:
    return {line.split()[4] for line in mountinfo(container).splitlines()}


@pytest.fixture
def dbdata(containers, volumes, tmp_path):
    """A running "data volume container": a named volume, an anonymous volume and a read-only bind."""
    vol = volumes.create()
    bind = tmp_path / "conf"
    bind.mkdir()
    (bind / "app.conf").write_text("setting=1\n")
    name = containers.run("-v", f"{vol}:/data", "-v", "/anon", "-v", f"{bind}:/etc/app:ro")
    cexec(name, "sh", "-c", "echo rows > /data/table; echo scratch > /anon/s")
    return {"name": name, "volume": vol, "bind": bind}


def test_from_takes_every_volume_and_bind_live(container, dbdata, state_dir):
    stdout = ok("attach", container, "--from", dbdata["name"], "--json")
    rows = json.loads(stdout)
    assert sorted(r["target"] for r in rows) == ["/anon", "/data", "/etc/app"]
    assert {r["type"] for r in rows} == {"from"}
    # content, both ways, and read-only where the source container has it read-only
    assert cread(container, "/data/table") == "rows\n"
    assert cread(container, "/anon/s") == "scratch\n"
    assert cread(container, "/etc/app/app.conf") == "setting=1\n"
    cexec(container, "sh", "-c", "echo from-app > /data/new")
    assert cread(dbdata["name"], "/data/new") == "from-app\n"
    r = cexec(container, "sh", "-c", "echo x > /etc/app/x", check=False)
    assert r.returncode != 0 and b"Read-only file system" in r.stderr
    # it is the very same volume: docker sees it too
    got = docker("run", "--rm", "--network", "none", "-v", f"{dbdata['volume']}:/v", "dynvol-busybox",
                 "cat", "/v/new").stdout.decode()
    assert got == "from-app\n"
    ls = json.loads(ok("ls", container, "--json"))
    assert {r["source"] for r in ls} == {f"{dbdata['name']}:{t}" for t in ("/data", "/anon", "/etc/app")}
    ok("detach", container, "--all")
    assert not {"/data", "/anon", "/etc/app"} & targets(container)
    assert cread(container, "/data/seed.txt") == "seed\n"  # the image's own /data is back
    assert cexec(container, "test", "-e", "/anon", check=False).returncode == 0  # target dirs stay, as Docker
    assert Store(str(state_dir)).list() == []


def test_from_ro_makes_every_mount_read_only(container, dbdata, state_dir):
    ok("attach", container, "--from", f"{dbdata['name']}:ro")
    assert cread(container, "/data/table") == "rows\n"
    for t in ("/data", "/anon"):
        r = cexec(container, "sh", "-c", f"echo x > {t}/x", check=False)
        assert r.returncode != 0 and b"Read-only file system" in r.stderr
    # the source container still writes: only the app's clone is read-only
    cexec(dbdata["name"], "sh", "-c", "echo more > /data/more")
    assert cread(container, "/data/more") == "more\n"


def test_from_one_mount_only(container, dbdata, state_dir):
    ok("attach", container, "--from", f"{dbdata['name']}:/data")
    assert cread(container, "/data/table") == "rows\n"
    assert "/anon" not in targets(container)
    assert "/etc/app" not in targets(container)
    rows = Store(str(state_dir)).list()
    assert [(r.target, r.type, r.extra.get("from")) for r in rows] == [("/data", "from", dbdata["name"])]


def test_from_rw_does_not_upgrade_a_read_only_mount(container, dbdata, state_dir):
    ok("attach", container, "--from", f"{dbdata['name']}:/etc/app:rw")
    r = cexec(container, "sh", "-c", "echo x > /etc/app/x", check=False)
    assert r.returncode != 0 and b"Read-only file system" in r.stderr


def test_from_clones_what_is_mounted_in_the_source_namespace(container, containers, state_dir):
    # a tmpfs mounted by the engine exists only inside the source container; the clone shares it
    src = containers.run("--mount", "type=volume,dst=/cache,volume-driver=local,"
                         "volume-opt=type=tmpfs,volume-opt=device=tmpfs")
    cexec(src, "sh", "-c", "echo in-ram > /cache/c")
    ok("attach", container, "--from", f"{src}:/cache")
    assert cread(container, "/cache/c") == "in-ram\n"
    line = next(l for l in mountinfo(container).splitlines() if l.split()[4] == "/cache")
    assert " - tmpfs " in line


def test_from_combines_with_other_specs(container, dbdata, tmp_path, state_dir):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "e").write_text("e\n")
    ok("attach", container, f"{extra}:/extra", "--from", f"{dbdata['name']}:/data")
    assert cread(container, "/extra/e") == "e\n"
    assert cread(container, "/data/table") == "rows\n"
    assert len(Store(str(state_dir)).list()) == 2


def test_detach_and_restart_of_source_keep_app_mount(container, dbdata, state_dir):
    ok("attach", container, "--from", f"{dbdata['name']}:/data")
    docker("stop", "-t", "0", dbdata["name"])
    # the clone lives on in the app, as a volumes-from mount would
    assert cread(container, "/data/table") == "rows\n"
    assert [r["target"] for r in json.loads(ok("ls", container, "--json"))] == ["/data"]
    assert out("inspect", "-f", "{{.State.Running}}", container) == "true"
