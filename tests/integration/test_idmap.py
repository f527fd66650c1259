"""Idmapped ownership: ``:idmap`` and ``idmap=uids=...;gids=...``, checked from inside the container."""

from __future__ import annotations

import os

import pytest

from dynvol.state import Store
from tests.integration.conftest import cexec, docker, dynvol, mountinfo
from tests.integration.engines import userns_engine, userns_engine_host  # noqa: F401 (fixtures)


@pytest.fixture
def owned(tmp_path):
    """A host directory owned by host root, with a file of host uid 1000 in it."""
    d = tmp_path / "owned"
    d.mkdir()
    os.chmod(d, 0o755)
    (d / "root.txt").write_text("root\n")
    (d / "user.txt").write_text("user\n")
    os.chown(d / "user.txt", 1000, 1000)
    (d / "home").mkdir()
    os.chown(d / "home", 1000, 1000)
    return d


def attach(engine, *args):
    r = dynvol("attach", *args, env={"DOCKER_HOST": engine.host})
    assert r.returncode == 0, r.stderr.decode()
    return r


def stat_inside(engine, name, path) -> str:
    return engine.out("exec", name, "stat", "-c", "%u:%g", path)


def test_userns_container_without_idmap_shows_nobody_and_hints(userns_engine, owned, state_dir):
    app = userns_engine.run()
    r = attach(userns_engine, app, f"{owned}:/plain")
    assert stat_inside(userns_engine, app, "/plain/root.txt") == "65534:65534"
    w = userns_engine.docker("exec", app, "touch", "/plain/new", check=False)
    assert w.returncode != 0 and b"Permission denied" in w.stderr
    hint = r.stderr.decode().splitlines()
    assert len(hint) == 1 and hint[0].startswith("hint: ") and ":idmap" in hint[0]
    assert "host uid 100000" in hint[0]
    assert r.stdout.decode().startswith("attached ")  # the result still goes to stdout


def test_idmap_maps_the_container_user_namespace(userns_engine, owned, state_dir):
    app = userns_engine.run()
    r = attach(userns_engine, app, "-v", f"{owned}:/mapped:idmap")
    assert r.stderr == b""  # no hint when idmap is used
    assert stat_inside(userns_engine, app, "/mapped/root.txt") == "0:0"
    assert stat_inside(userns_engine, app, "/mapped/user.txt") == "1000:1000"
    userns_engine.out("exec", app, "sh", "-c", "echo made > /mapped/made-inside")
    st = os.stat(owned / "made-inside")
    assert (st.st_uid, st.st_gid) == (0, 0)  # host root, not 100000
    userns_engine.out("exec", "-u", "1000:1000", app, "touch", "/mapped/home/by-1000")
    st = os.stat(owned / "home" / "by-1000")
    assert (st.st_uid, st.st_gid) == (1000, 1000)
    (row,) = Store(str(state_dir)).list()
    assert "idmap" in row.options


def test_idmap_with_mount_syntax_and_readonly(userns_engine, owned, state_dir):
    app = userns_engine.run()
    attach(userns_engine, app, "--mount", f"type=bind,src={owned},dst=/m,readonly,idmap")
    assert stat_inside(userns_engine, app, "/m/root.txt") == "0:0"
    w = userns_engine.docker("exec", app, "touch", "/m/x", check=False)
    assert w.returncode != 0 and b"Read-only file system" in w.stderr


def test_explicit_mapping_in_userns_container(userns_engine, owned, state_dir):
    app = userns_engine.run()
    # on-disk 1000 -> host 100000 (= root inside); on-disk 0 is left unmapped
    attach(userns_engine, app, f"{owned}:/x:idmap=uids=1000-100000-1;gids=1000-100000-1")
    assert stat_inside(userns_engine, app, "/x/user.txt") == "0:0"
    assert stat_inside(userns_engine, app, "/x/root.txt") == "65534:65534"


def test_explicit_mapping_without_user_namespace(container, owned, state_dir):
    r = dynvol("attach", container, f"{owned}:/x:idmap=uids=0-2000-10;gids=0-3000-10")
    assert r.returncode == 0, r.stderr.decode()
    assert r.stderr == b""  # no user namespace: no hint
    assert cexec(container, "stat", "-c", "%u:%g", "/x/root.txt").stdout.decode().strip() == "2000:3000"
    # on-disk 1000 is outside the mapping
    assert cexec(container, "stat", "-c", "%u:%g", "/x/user.txt").stdout.decode().strip() == "65534:65534"
    # a file created by uid 2001 inside is stored as on-disk uid 1
    os.chown(owned / "home", 1, 1)
    assert cexec(container, "stat", "-c", "%u:%g", "/x/home").stdout.decode().strip() == "2001:3001"
    docker("exec", "-u", "2001:3001", container, "touch", "/x/home/made")
    st = os.stat(owned / "home" / "made")
    assert (st.st_uid, st.st_gid) == (1, 1)
    # uid 0 inside has no on-disk ID in this mapping: it cannot create files
    r = cexec(container, "touch", "/x/home/by-root", check=False)
    assert r.returncode != 0


def test_plain_idmap_without_user_namespace_is_identity(container, owned, state_dir):
    r = dynvol("attach", container, f"{owned}:/x:idmap")
    assert r.returncode == 0, r.stderr.decode()
    assert cexec(container, "stat", "-c", "%u:%g", "/x/user.txt").stdout.decode().strip() == "1000:1000"


@pytest.fixture
def ramfs(tmp_path):
    d = tmp_path / "ram"
    d.mkdir()
    os.system(f"mount -t ramfs dvramfs {d}")
    yield d
    os.system(f"umount {d}")


def test_filesystem_without_idmap_support_fails_clearly_in_userns(userns_engine, ramfs, state_dir):
    app = userns_engine.run()
    r = dynvol("attach", app, f"{ramfs}:/r:idmap", env={"DOCKER_HOST": userns_engine.host})
    assert r.returncode == 5
    assert "the ramfs filesystem does not support idmapped mounts" in r.stderr.decode().splitlines()[0]
    assert userns_engine.docker("exec", app, "test", "-e", "/r", check=False).returncode != 0
    assert Store(str(state_dir)).list() == []


def test_filesystem_without_idmap_support_fails_clearly(container, ramfs, state_dir):
    before = mountinfo(container)
    r = dynvol("attach", container, f"{ramfs}:/r:idmap=uids=0-1000-10")
    assert r.returncode == 5
    lines = r.stderr.decode().splitlines()
    assert lines[0] == (f"dynvol: cannot idmap {ramfs}:/r: the ramfs filesystem does not support idmapped "
                        "mounts (mount_setattr: Invalid argument)")
    assert lines[1].startswith("hint: ")
    assert mountinfo(container) == before
    assert cexec(container, "test", "-e", "/r", check=False).returncode != 0
    assert Store(str(state_dir)).list() == []


@pytest.mark.parametrize("opt,needle", [
    ("idmap=uids=0-1000", "expected FROM-TO-COUNT"),
    ("idmap=uids=0-1000-0", "count must be positive"),
    ("idmap=uids=0-1-10#5-100-10", "uids ranges overlap"),
    ("idmap=users=0-1-1", "expected uids=FROM-TO-COUNT"),
    ("idmap=uids=@0-1-1", "relative (@) mappings are not supported"),
])
def test_bad_idmap_is_a_usage_error(container, owned, state_dir, opt, needle):
    before = mountinfo(container)
    r = dynvol("attach", container, f"{owned}:/x:{opt}")
    assert r.returncode == 2
    assert needle in r.stderr.decode().splitlines()[0]
    assert mountinfo(container) == before
