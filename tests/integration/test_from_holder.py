"""Volumes the host cannot open (local driver with options, here tmpfs and o=bind) via holder containers."""

from __future__ import annotations

import json
import os

import pytest

from dynvol.state import Store
from tests.integration.conftest import cexec, cread, docker, dynvol, mountinfo, out

LABEL = "label=dynvol.holder"


def ok(*args, **kw):
    r = dynvol(*args, **kw)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode()


def holders(volume: str | None = None) -> list[str]:
    flt = f"{LABEL}={volume}" if volume else LABEL
    return out("ps", "-aq", "--no-trunc", "--filter", flt).split()


@pytest.fixture(autouse=True)
def no_stray_holders():
    before = set(holders())
    yield
    stray = set(holders()) - before
    if stray:
        docker("rm", "-f", *stray, check=False)
    assert not stray, f"holder containers left behind: {stray}"


@pytest.fixture
def tmpfs_volume(volumes):
    return volumes.create("--driver", "local", "--opt", "type=tmpfs", "--opt", "device=tmpfs",
                          "--opt", "o=size=8m")


def test_tmpfs_volume_through_a_holder(container, tmpfs_volume, state_dir):
    ok("attach", container, f"{tmpfs_volume}:/t")
    (holder,) = holders(tmpfs_volume)
    line = next(l for l in mountinfo(container).splitlines() if l.split()[4] == "/t")
    assert " - tmpfs " in line and "size=8192k" in line
    cexec(container, "sh", "-c", "echo in-volume > /t/f")
    # the engine's own view of the volume (through the holder) has the file
    assert cread(holder, "/volume/f") == "in-volume\n"
    (row,) = Store(str(state_dir)).list()
    assert row.extra["holder"] == holder
    # the holder keeps the engine's reference: the volume cannot be removed meanwhile
    assert docker("volume", "rm", tmpfs_volume, check=False).returncode != 0
    ok("detach", container, "/t")
    assert holders(tmpfs_volume) == []
    assert cexec(container, "test", "-e", "/t/f", check=False).returncode != 0


def test_holder_is_shared_and_removed_with_the_last_attachment(container, containers, tmpfs_volume, state_dir):
    other = containers.run()
    ok("attach", container, f"{tmpfs_volume}:/t")
    ok("attach", other, f"{tmpfs_volume}:/t2:ro")
    assert len(holders(tmpfs_volume)) == 1
    cexec(container, "sh", "-c", "echo shared > /t/s")
    assert cread(other, "/t2/s") == "shared\n"
    r = cexec(other, "sh", "-c", "echo x > /t2/x", check=False)
    assert r.returncode != 0 and b"Read-only file system" in r.stderr
    ok("detach", container, "/t")
    assert len(holders(tmpfs_volume)) == 1  # still used by the other container
    assert cread(other, "/t2/s") == "shared\n"
    ok("detach", other, "/t2")
    assert holders(tmpfs_volume) == []


def test_holder_of_a_stale_attachment_goes_with_ls(containers, tmpfs_volume, state_dir):
    app = containers.run()
    ok("attach", app, f"{tmpfs_volume}:/t")
    assert len(holders(tmpfs_volume)) == 1
    docker("rm", "-f", app)
    assert ok("ls", "--json").strip() == "[]"
    assert holders(tmpfs_volume) == []
    assert Store(str(state_dir)).list() == []


def test_bind_option_volume(container, volumes, tmp_path, state_dir):
    d = tmp_path / "bound"
    d.mkdir()
    (d / "b").write_text("bound\n")
    vol = volumes.create("--opt", "type=none", "--opt", f"device={d}", "--opt", "o=bind")
    ok("attach", container, f"{vol}:/b")
    assert len(holders(vol)) == 1
    assert cread(container, "/b/b") == "bound\n"
    cexec(container, "sh", "-c", "echo inside > /b/i")
    assert (d / "i").read_text() == "inside\n"
    ok("detach", container, "--all")
    assert holders(vol) == []


def test_new_volume_with_driver_options_is_created_and_held(container, volumes, state_dir):
    name = volumes.track(f"dvnew-{os.getpid()}")
    ok("attach", container, "--mount", f"type=volume,src={name},dst=/n,volume-opt=type=tmpfs,"
                                      "volume-opt=device=tmpfs")
    assert json.loads(out("volume", "inspect", name))[0]["Options"]["type"] == "tmpfs"
    line = next(l for l in mountinfo(container).splitlines() if l.split()[4] == "/n")
    assert " - tmpfs " in line
    ok("detach", container, "/n")
    assert holders(name) == []


def test_holder_image_setting(container, tmpfs_volume, state_dir):
    ok("attach", container, f"{tmpfs_volume}:/t", env={"DYNVOL_HOLDER_IMAGE": "dynvol-busybox"})
    (holder,) = holders(tmpfs_volume)
    assert out("inspect", "-f", "{{.Config.Image}}", holder) == "dynvol-busybox"
    assert out("inspect", "-f", "{{.HostConfig.NetworkMode}}", holder) == "none"
    ok("detach", container, "/t")
    assert holders(tmpfs_volume) == []


def test_missing_holder_image_changes_nothing(container, tmpfs_volume, state_dir):
    r = dynvol("attach", container, f"{tmpfs_volume}:/t", env={"DYNVOL_HOLDER_IMAGE": "no-such-image:1"})
    assert r.returncode == 3, r.stderr
    err = r.stderr.decode().splitlines()
    assert err[0] == "dynvol: holder image no-such-image:1 is not present on the engine"
    assert holders() == [] or holders(tmpfs_volume) == []
    assert cexec(container, "test", "-e", "/t", check=False).returncode != 0
    assert Store(str(state_dir)).list() == []


def test_holder_command_that_fails_changes_nothing(container, tmpfs_volume, state_dir):
    r = dynvol("attach", container, f"{tmpfs_volume}:/t", env={"DYNVOL_HOLDER_CMD": "/no/such/binary"})
    assert r.returncode == 1, r.stderr
    assert "holder" in r.stderr.decode().splitlines()[0]
    assert holders(tmpfs_volume) == []
    assert cexec(container, "test", "-e", "/t", check=False).returncode != 0
    assert Store(str(state_dir)).list() == []
