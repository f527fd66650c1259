"""Fidelity: every odd case survives backup/restore, clone and migrate, compared entry by entry."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.integration import volumes_corpus as corpus
from tests.integration.conftest import IMAGE, cexec, cread, docker, dynvol, out
from tests.integration.volumes_engines import second_engine  # noqa: F401 - fixture



@pytest.fixture(autouse=True)
def _helper_image(monkeypatch):
    """Helper containers use the test image: the engine has no busybox:latest and never pulls."""
    monkeypatch.setenv("DYNVOL_HELPER_IMAGE", IMAGE)

def mountpoint(name: str) -> str:
    return out("volume", "inspect", "-f", "{{.Mountpoint}}", name)


@pytest.fixture
def odd_volume(volumes):
    """A volume holding the fidelity corpus, with labels; returns (name, snapshot)."""
    name = volumes.create("--label", "app=db", "--label", "tier=data")
    corpus.build(mountpoint(name))
    return name, corpus.snapshot(mountpoint(name))


def assert_same(before: dict, path: str) -> None:
    problems = corpus.diff(before, corpus.snapshot(path))
    assert not problems, "\n".join(problems)


def test_backup_restore_keeps_everything(odd_volume, volumes, tmp_path, state_dir):
    name, before = odd_volume
    archive = tmp_path / "a.tar.zst"
    r = dynvol("backup", name, "-o", str(archive), "--json")
    assert r.returncode == 0, r.stderr.decode()
    res = json.loads(r.stdout)
    assert res["volumes"] == [name] and res["compression"] == "zstd" and len(res["sha256"]) == 64
    # holes are kept in the archive too: 64 MiB sparse file, a few KiB of data
    assert archive.stat().st_size < 1 << 20
    v = dynvol("verify", str(archive), "--json")
    assert v.returncode == 0, v.stderr.decode()
    m = json.loads(v.stdout)["manifest"]
    assert m["volumes"][0]["labels"] == {"app": "db", "tier": "data"}
    assert m["volumes"][0]["driver"] == "local" and m["dynvol_version"]
    # manifest first, trailer last, the rest readable by plain tools
    listing = subprocess.run(f"zstd -dc {archive} | tar -tf -", shell=True, capture_output=True,
                             check=True).stdout.decode(errors="replace").splitlines()
    assert listing[0] == "dynvol-manifest.json" and listing[-1] == "dynvol-trailer.json"
    assert f"volumes/{name}/" in listing

    target = volumes.track(f"{name}-restored")
    r = dynvol("restore", str(archive), "--to", target)
    assert r.returncode == 0, r.stderr.decode()
    assert_same(before, mountpoint(target))
    assert json.loads(out("volume", "inspect", target))[0]["Labels"] == {"app": "db", "tier": "data"}
    st = os.stat(os.path.join(mountpoint(target), "sparse"))
    assert st.st_blocks * 512 < 1 << 20 and st.st_size == corpus.SPARSE_SIZE


@pytest.mark.parametrize("compress", ["gzip", "none", "zstd-binary"])
def test_stdout_to_stdin_roundtrip(odd_volume, volumes, compress, state_dir):
    name, before = odd_volume
    env = {"DYNVOL_ZSTD_BINARY": "1"} if compress == "zstd-binary" else {}
    b = dynvol("backup", name, "-o", "-", "--compress", compress.split("-")[0], "-q", env=env)
    assert b.returncode == 0, b.stderr.decode()
    magic = {"gzip": b"\x1f\x8b", "none": b"dy", "zstd-binary": b"\x28\xb5"}[compress]
    assert b.stdout[:2] == magic
    target = volumes.track(f"{name}-{compress}")
    r = dynvol("restore", "-", "--to", target, input=b.stdout)
    assert r.returncode == 0, r.stderr.decode()
    assert_same(before, mountpoint(target))


def test_clone_keeps_everything_and_driver_labels(odd_volume, volumes, state_dir):
    name, before = odd_volume
    dst = volumes.track(f"{name}-clone")
    r = dynvol("clone", name, dst, "--json")
    assert r.returncode == 0, r.stderr.decode()
    assert json.loads(r.stdout)["created"] is True
    assert_same(before, mountpoint(dst))
    assert json.loads(out("volume", "inspect", dst))[0]["Labels"] == {"app": "db", "tier": "data"}


def test_helper_container_path_keeps_everything(odd_volume, volumes, tmp_path, state_dir):
    """The path used for non-local drivers: the volume is reached through a helper container."""
    name, before = odd_volume
    env = {"DYNVOL_FORCE_HELPER": "1"}
    archive = tmp_path / "h.tar.zst"
    assert dynvol("backup", name, "-o", str(archive), "-q", env=env).returncode == 0
    target = volumes.track(f"{name}-helper")
    r = dynvol("restore", str(archive), "--to", target, env=env)
    assert r.returncode == 0, r.stderr.decode()
    assert_same(before, mountpoint(target))
    assert "dynvol.helper" not in out("ps", "-a", "--format", "{{.Labels}}")


@pytest.mark.parametrize("via", ["unix", "tcp"])
def test_migrate_to_second_engine(odd_volume, second_engine, via, state_dir):  # noqa: F811
    """unix://: both ends local (host paths). tcp://: the far end is remote, all work in its helper."""
    name, before = odd_volume
    url = second_engine.unix if via == "unix" else second_engine.tcp
    r = dynvol("migrate", name, "--to-host", url, "--json")
    assert r.returncode == 0, r.stderr.decode()
    try:
        info = json.loads(second_engine.docker("volume", "inspect", name).stdout)[0]
        assert info["Labels"] == {"app": "db", "tier": "data"}
        assert_same(before, info["Mountpoint"])
        # and back from the remote end into a new volume here
        if via == "tcp":
            back = f"{name}-back"
            env = {"DOCKER_HOST": second_engine.tcp}
            b = dynvol("backup", name, "-o", "-", "-q", env=env)
            assert b.returncode == 0, b.stderr.decode()
            r = dynvol("restore", "-", "--to", back, input=b.stdout)
            assert r.returncode == 0, r.stderr.decode()
            assert_same(before, mountpoint(back))
            docker("volume", "rm", back)
        # a second migrate refuses the now non-empty destination
        again = dynvol("migrate", name, "--to-host", url)
        assert again.returncode == 1 and b"not empty" in again.stderr
    finally:
        second_engine.docker("volume", "rm", "-f", name, check=False)


def test_container_source_backs_up_all_its_volumes(volumes, containers, tmp_path, state_dir):
    a, b = volumes.create(), volumes.create()
    c = containers.run("-v", f"{a}:/a", "-v", f"{b}:/b")
    cexec(c, "sh", "-c", "echo one > /a/f && echo two > /b/f")
    archive = tmp_path / "c.tar.zst"
    r = dynvol("backup", f"container:{c}", "-o", str(archive), "--pause", "--json")
    assert r.returncode == 0, r.stderr.decode()
    assert sorted(json.loads(r.stdout)["volumes"]) == sorted([a, b])
    containers.cleanup()
    docker("volume", "rm", a, b)
    r = dynvol("restore", str(archive))
    assert r.returncode == 0, r.stderr.decode()
    c2 = containers.run("-v", f"{a}:/a", "-v", f"{b}:/b", name=f"{c}-2")
    assert cread(c2, "/a/f") == "one\n" and cread(c2, "/b/f") == "two\n"


def test_restore_into_running_container(volumes, containers, tmp_path, state_dir):
    src = volumes.create()
    with open(os.path.join(mountpoint(src), "new.txt"), "w") as f:
        f.write("restored\n")
    archive = tmp_path / "i.tar.zst"
    assert dynvol("backup", src, "-o", str(archive), "-q").returncode == 0
    live = volumes.create()
    c = containers.run("-v", f"{live}:/data")
    cexec(c, "sh", "-c", "echo old > /data/old.txt")
    r = dynvol("restore", str(archive), "--into", f"{c}:/data", "--force")
    assert r.returncode == 0, r.stderr.decode()
    assert cread(c, "/data/new.txt") == "restored\n"
    assert cexec(c, "ls", "-A", "/data").stdout.decode().split() == ["new.txt"]
