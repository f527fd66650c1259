"""Block devices and disk images, checked from inside the container and in the host's loop table."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.integration.conftest import cexec, cread, docker, dynvol, mountinfo
from tests.integration.sources_util import (host_mountinfo, line_at, loops_of, ls_json, mkfs, ok, refused,
                                            snapshot, wait_no_loops)


def test_relative_image_attach_write_detach(container, state_dir, tmp_path, monkeypatch):
    img = mkfs(tmp_path / "disk.img")
    monkeypatch.chdir(tmp_path)
    ok("attach", container, "./disk.img:/data")

    line = line_at(container, "/data")
    [dev] = loops_of(img)
    assert line.split(" - ")[1].split()[:2] == ["ext4", dev]
    cexec(container, "sh", "-c", "echo written inside > /data/inside.txt")
    assert cread(container, "/data/inside.txt") == "written inside\n"
    assert cexec(container, "ls", "/data/lost+found").returncode == 0  # the image's own root
    # the filesystem is not in the host's mount table, and no device node entered the container
    assert dev not in host_mountinfo()
    assert os.path.basename(dev) not in cexec(container, "ls", "/dev").stdout.decode().split()
    [row] = ls_json(container)
    assert (row["type"], row["source"], row["extra"]["loop"], row["extra"]["fstype"]) == \
        ("image", img, dev, "ext4")

    ok("detach", container, "/data")
    assert wait_no_loops(img) == []
    assert cread(container, "/data/seed.txt") == "seed\n"  # the image's /data is back
    r = subprocess.run(["debugfs", "-R", "cat /inside.txt", img], capture_output=True)
    assert r.stdout == b"written inside\n"  # the write reached the image file


def test_container_death_releases_the_loop_device(containers, state_dir, tmp_path):
    img = mkfs(tmp_path / "disk.img")
    name = containers.run()
    ok("attach", name, "--mount", f"type=image,source={img},target=/img")
    assert len(loops_of(img)) == 1
    docker("rm", "-f", name)
    assert wait_no_loops(img) == []


def test_readonly_image_and_mount_flags(container, state_dir, tmp_path):
    img = mkfs(tmp_path / "disk.img")
    subprocess.run(["debugfs", "-w", "-R", "mkdir d", img], check=True, capture_output=True)
    ok("attach", container, "--mount", f'type=image,source={img},target=/ro,readonly,"options=noatime,nodev"')
    opts = line_at(container, "/ro").split()[5].split(",")
    assert {"ro", "noatime", "nodev"} <= set(opts), opts
    r = cexec(container, "mkdir", "/ro/d/x", check=False)
    assert r.returncode != 0 and b"Read-only file system" in r.stderr
    [dev] = loops_of(img)
    with open(f"/sys/block/{os.path.basename(dev)}/ro") as f:
        assert f.read().strip() == "1"
    ok("detach", container, "/ro")
    assert wait_no_loops(img) == []


@pytest.fixture
def loopdev(tmp_path):
    """A loop device set up by hand (no autoclear), like a real disk partition would be."""
    img = mkfs(tmp_path / "dev.img")
    dev = subprocess.run(["losetup", "--find", "--show", img], capture_output=True, text=True,
                         check=True).stdout.strip()
    yield dev
    subprocess.run(["umount", str(tmp_path / "hostmnt")], capture_output=True)
    subprocess.run(["losetup", "-d", dev], capture_output=True)


def test_block_device_volume_form_and_in_use_refusal(container, state_dir, tmp_path, loopdev):
    ok("attach", container, f"{loopdev}:/blk")
    assert line_at(container, "/blk").split(" - ")[1].split()[:2] == ["ext4", loopdev]
    cexec(container, "sh", "-c", "echo on the device > /blk/f")
    ok("detach", container, "/blk")
    assert loops_of(tmp_path / "dev.img") == [loopdev]  # not ours to release

    # mounted read-write on the host: refused, nothing changes; --force shares it
    hostmnt = tmp_path / "hostmnt"
    hostmnt.mkdir()
    subprocess.run(["mount", loopdev, str(hostmnt)], check=True)
    before = snapshot(container, state_dir)
    err = refused(dynvol("attach", container, "--mount", f"type=block,source={loopdev},target=/blk"), 1,
                  "already mounted read-write on the host at " + str(hostmnt))
    assert "--force" in err
    assert snapshot(container, state_dir) == before
    ok("attach", container, "--force", "--mount", f"type=block,source={loopdev},target=/blk")
    assert cread(container, "/blk/f") == "on the device\n"
    (hostmnt / "g").write_text("from the host\n")
    assert cread(container, "/blk/g") == "from the host\n"  # one filesystem, shared
    ok("detach", container, "/blk")


def test_bad_images_change_nothing(container, state_dir, tmp_path, monkeypatch):
    img = mkfs(tmp_path / "disk.img")
    junk = tmp_path / "junk.img"
    junk.write_bytes(os.urandom(4 << 20))
    broken = mkfs(tmp_path / "broken.img")
    with open(broken, "r+b") as f:  # ext4 magic intact, the rest of the superblock wrecked
        f.seek(1024)
        f.write(b"\xff" * 56)
    monkeypatch.chdir(tmp_path)
    cases = [
        (["--mount", f"type=image,source={img},target=/x,fstype=nosuchfs"], 2, "unknown filesystem type"),
        (["--mount", f'type=image,source={img},target=/x,"options=frobnicate"'], 2,
         "ext4 rejects mount option 'frobnicate'"),
        (["./junk.img:/x"], 2, "no filesystem found"),
        (["--mount", f"type=image,source={broken},target=/x"], 1, "mounting it as ext4 failed"),
        (["--mount", f"type=image,source={img},target=/x,fstype=ext4,bind-propagation=shared"], 2,
         "bind options are not valid for type=image"),
        (["./missing.img:/x"], 3, "image file does not exist"),
        (["--mount", f"type=block,source={img},target=/x"], 2, "not a block device"),
        (["./disk.img:/x", "/nonexistent:/y"], 3, "does not exist"),  # all or nothing
    ]
    before = snapshot(container, state_dir, img, junk, broken)
    for args, code, needle in cases:
        refused(dynvol("attach", container, *args), code, needle)
        assert wait_no_loops(img) == [] and wait_no_loops(broken) == []
        assert snapshot(container, state_dir, img, junk, broken) == before, args
    assert "/x" not in mountinfo(container)


def test_replace_releases_the_old_loop_device(container, state_dir, tmp_path):
    first, second = mkfs(tmp_path / "a.img"), mkfs(tmp_path / "b.img")
    subprocess.run(["debugfs", "-w", "-R", "mkdir from-b", second], check=True, capture_output=True)
    ok("attach", container, "--mount", f"type=image,source={first},target=/d")
    ok("attach", container, "--replace", "--mount", f"type=image,source={second},target=/d")
    assert cexec(container, "ls", "/d/from-b").returncode == 0
    assert wait_no_loops(first) == [] and len(loops_of(second)) == 1
    ok("detach", container, "--all")
    assert wait_no_loops(second) == []
