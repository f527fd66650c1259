"""Block images, tmpfs and subpaths through the planners and the helper, in a plain mount namespace."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from dynvol import sources
from dynvol.errors import Conflict, NotFound, UsageError
from dynvol.helper.request import Placement, Request, Target
from dynvol.helper.runner import run
from dynvol.linux import loop
from dynvol.linux import syscalls as sc
from dynvol.sources.subpath import plan_subpath
from dynvol.spec import parse_mount
from tests.kernel.conftest import ns_run


def image(path, size="16M") -> str:
    subprocess.run(["mkfs.ext4", "-q", "-F", str(path), size], check=True, capture_output=True)
    return str(path)


def place(pid, src, target) -> int:
    """Build ``src``, move it to ``target`` in the namespace of ``pid``; return its mount id."""
    fd = src.build(None)
    try:
        mnt_id = sc.mount_ids(fd)[0]
        pidfd = sc.pidfd_open(pid)
        try:
            resp = run(Request(op="attach", pid=pid, pidfd=pidfd,
                               placements=[Placement(fd=fd, target=target, kind=src.kind)]))
        finally:
            os.close(pidfd)
        assert resp["ok"], resp
        return mnt_id
    finally:
        os.close(fd)


def remove(pid, target, mnt_id):
    resp = run(Request(op="detach", pid=pid, targets=[Target(target, mnt_id)]))
    assert resp["ok"], resp


def wait_released(path: str) -> list[str]:
    for _ in range(200):
        devs = loop.devices_of(path)
        if not devs:
            return devs
        time.sleep(0.01)
    return loop.devices_of(path)


def mounted_in(pid, target) -> list[str]:
    with open(f"/proc/{pid}/mountinfo") as f:
        return [line for line in f if line.split()[4] == target]


def test_image_attach_and_detach_releases_the_loop_device(nsproc, tmp_path):
    img = image(tmp_path / "d.img")
    src = sources.plan(parse_mount(f"type=image,source={img},target=/mnt/img"), None)
    assert src.fstype == "ext4" and loop.devices_of(img) == []  # planning changes nothing
    mnt_id = place(nsproc, src, "/mnt/img")
    dev = src.extra["loop"]
    assert loop.devices_of(img) == [dev]
    ns_run(nsproc, "sh", "-c", "echo hi > /mnt/img/f")
    assert ns_run(nsproc, "cat", "/mnt/img/f").stdout == b"hi\n"
    line = mounted_in(nsproc, "/mnt/img")[0]
    assert " ext4 " + dev in line
    with open("/proc/self/mountinfo") as f:
        assert dev not in f.read()  # never in the host's mount table
    remove(nsproc, "/mnt/img", mnt_id)
    assert wait_released(img) == []
    assert subprocess.run(["debugfs", "-R", "cat /f", img], capture_output=True).stdout == b"hi\n"


def test_namespace_death_releases_the_loop_device(tmp_path):
    img = image(tmp_path / "d.img")
    p = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sleep", "1000"])
    try:
        for _ in range(100):
            if os.stat(f"/proc/{p.pid}/ns/mnt").st_ino != os.stat("/proc/self/ns/mnt").st_ino:
                break
            time.sleep(0.01)
        src = sources.plan(parse_mount(f"type=image,source={img},target=/mnt/img"), None)
        place(p.pid, src, "/mnt/img")
        assert loop.devices_of(img) == [src.extra["loop"]]
    finally:
        p.kill()
        p.wait()
    assert wait_released(img) == []


def test_readonly_image(nsproc, tmp_path):
    img = image(tmp_path / "d.img")
    os.chmod(img, 0o444)
    src = sources.plan(parse_mount(f"type=image,source={img},target=/mnt/ro,readonly"), None)
    mnt_id = place(nsproc, src, "/mnt/ro")
    r = ns_run(nsproc, "touch", "/mnt/ro/x", check=False)
    assert r.returncode != 0 and b"Read-only" in r.stderr
    with open(f"/sys/block/{os.path.basename(src.extra['loop'])}/ro") as f:
        assert f.read().strip() == "1"  # the loop device itself is read-only
    remove(nsproc, "/mnt/ro", mnt_id)
    assert wait_released(img) == []


def test_tmpfs_with_size_mode_and_owner(nsproc):
    spec = parse_mount("type=tmpfs,target=/mnt/scratch,tmpfs-size=8m,tmpfs-mode=1770,uid=1000,gid=100,"
                       "noexec")
    mnt_id = place(nsproc, sources.plan(spec, None), "/mnt/scratch")
    line = mounted_in(nsproc, "/mnt/scratch")[0]
    assert "noexec" in line.split()[5]
    assert all(o in line for o in ("size=8192k", "mode=1770", "uid=1000", "gid=100"))
    st = ns_run(nsproc, "stat", "-c", "%a %u %g", "/mnt/scratch").stdout.split()
    assert st == [b"1770", b"1000", b"100"]
    remove(nsproc, "/mnt/scratch", mnt_id)
    assert mounted_in(nsproc, "/mnt/scratch") == []


def test_mount_option_attributes_and_filesystem_parameters(nsproc, tmp_path):
    img = image(tmp_path / "d.img")
    spec = parse_mount(f'type=image,source={img},target=/mnt/o,"options=noatime,nodev,errors=remount-ro"')
    mnt_id = place(nsproc, sources.plan(spec, None), "/mnt/o")
    line = mounted_in(nsproc, "/mnt/o")[0]
    opts = line.split()[5].split(",")
    assert "noatime" in opts and "nodev" in opts and "errors=remount-ro" in line
    remove(nsproc, "/mnt/o", mnt_id)
    assert wait_released(img) == []


@pytest.mark.parametrize("spec, err, needle", [
    ("type=image,source={img},target=/x,fstype=nosuchfs", UsageError, "unknown filesystem type 'nosuchfs'"),
    ('type=image,source={img},target=/x,"options=frobnicate"', UsageError, "rejects mount option 'frobnicate'"),
    ('type=image,source={img},target=/x,"options=data=sideways"', UsageError, "data=sideways"),
    ("type=image,source={junk},target=/x", UsageError, "no filesystem found"),
    ("type=image,source={img},target=/x,fstype=tmpfs", UsageError, "does not live on a block device"),
    ("type=image,source={missing},target=/x", NotFound, "does not exist"),
    ("type=image,source={dir},target=/x", UsageError, "regular file"),
    ("type=block,source={img},target=/x", UsageError, "not a block device"),
    ('type=tmpfs,target=/x,"options=nr_blocks=many"', UsageError, "nr_blocks=many"),
    ("type=image,source={parted},target=/x", UsageError, "dos partition table"),
])
def test_bad_input_is_refused_at_planning(tmp_path, spec, err, needle):
    img = image(tmp_path / "d.img")
    junk = tmp_path / "junk.img"
    junk.write_bytes(os.urandom(1 << 20))
    parted = tmp_path / "parted.img"
    mbr = bytearray(1 << 20)
    mbr[446:462] = bytes([0, 0, 0, 0, 0x83, 0, 0, 0]) + (2048).to_bytes(4, "little") + (30).to_bytes(4, "little")
    mbr[510:512] = b"\x55\xaa"
    parted.write_bytes(bytes(mbr))
    spec = spec.format(img=img, junk=junk, missing=tmp_path / "none.img", dir=tmp_path, parted=parted)
    with pytest.raises(err) as e:
        sources.plan(parse_mount(spec), None)
    assert needle in e.value.message and "\n" not in e.value.message
    assert loop.devices_of(img) == [] and loop.devices_of(str(junk)) == []


def test_corrupt_filesystem_fails_at_build_and_leaves_no_loop_device(tmp_path):
    img = image(tmp_path / "d.img")
    with open(img, "r+b") as f:  # keep the ext4 magic, wreck the rest of the superblock
        f.seek(1024)
        f.write(b"\xff" * 56)
    src = sources.plan(parse_mount(f"type=image,source={img},target=/x,fstype=ext4"), None)
    with pytest.raises(Exception) as e:
        src.build(None)
    assert "mounting it as ext4 failed" in str(e.value)
    assert wait_released(img) == []


def test_device_mounted_read_write_elsewhere_needs_force(nsproc, tmp_path):
    img = image(tmp_path / "d.img")
    first = sources.plan(parse_mount(f"type=image,source={img},target=/mnt/a"), None)
    mnt_id = place(nsproc, first, "/mnt/a")
    dev = first.extra["loop"]
    with pytest.raises(Conflict) as e:
        sources.plan(parse_mount(f"type=block,source={dev},target=/mnt/b"), None)
    assert "already mounted read-write" in e.value.message and "--force" in e.value.hint
    with pytest.raises(Conflict):
        sources.plan(parse_mount(f"type=image,source={img},target=/mnt/b"), None)
    forced = sources.plan(parse_mount(f"type=block,source={dev},target=/mnt/b"), None, force=True)
    mnt_b = place(nsproc, forced, "/mnt/b")
    ns_run(nsproc, "sh", "-c", "echo shared > /mnt/a/s")
    assert ns_run(nsproc, "cat", "/mnt/b/s").stdout == b"shared\n"
    remove(nsproc, "/mnt/b", mnt_b)
    remove(nsproc, "/mnt/a", mnt_id)
    assert wait_released(img) == []


def test_subpath_stays_beneath_the_volume_root(tmp_path):
    root = tmp_path / "vol"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "f").write_text("x")
    (root / "out").symlink_to(tmp_path)
    (root / "a" / "up").symlink_to("../..")
    (root / "inside").symlink_to("a/b")
    ok = plan_subpath(parse_mount("type=volume,source=vol1,target=/x,volume-subpath=a/b"), str(root))
    assert ok.kind == "dir"
    assert plan_subpath(parse_mount("type=volume,source=vol1,target=/x,volume-subpath=a/b/f"),
                        str(root)).kind == "file"
    assert plan_subpath(parse_mount("type=volume,source=vol1,target=/x,volume-subpath=inside"),
                        str(root)).kind == "dir"
    for sub in ("out", "a/up", "a/up/vol"):
        with pytest.raises(UsageError, match="escapes the root of volume vol1"):
            plan_subpath(parse_mount(f"type=volume,source=vol1,target=/x,volume-subpath={sub}"), str(root))
    with pytest.raises(NotFound):
        plan_subpath(parse_mount("type=volume,source=vol1,target=/x,volume-subpath=nope"), str(root))


def test_in_process_probe_agrees_with_the_blkid_program(tmp_path):
    from dynvol.linux import blkid
    from dynvol.sources.block import _blkid_program

    img = image(tmp_path / "d.img")
    junk = tmp_path / "junk"
    junk.write_bytes(b"\0" * (1 << 20))
    for path in (img, str(junk)):
        lib, prog = blkid.probe(path), _blkid_program(path, what=path)
        assert {k: lib.get(k) for k in ("TYPE", "UUID")} == {k: prog.get(k) for k in ("TYPE", "UUID")}
    assert blkid.probe(img)["TYPE"] == "ext4" and blkid.probe(str(junk)) == {}


def test_forced_image_reuses_the_mounted_loop_device(nsproc, tmp_path):
    img = image(tmp_path / "d.img")
    first = sources.plan(parse_mount(f"type=image,source={img},target=/mnt/a"), None)
    mnt_a = place(nsproc, first, "/mnt/a")
    second = sources.plan(parse_mount(f"type=image,source={img},target=/mnt/b"), None, force=True)
    assert second.extra == {"fstype": "ext4", "loop": first.extra["loop"], "shared": True}
    mnt_b = place(nsproc, second, "/mnt/b")
    assert loop.devices_of(img) == [first.extra["loop"]]  # one loop device, one ext4 instance
    ns_run(nsproc, "sh", "-c", "echo one > /mnt/a/one")
    assert ns_run(nsproc, "cat", "/mnt/b/one").stdout == b"one\n"
    remove(nsproc, "/mnt/a", mnt_a)
    assert loop.devices_of(img) == [first.extra["loop"]]  # still mounted at /mnt/b
    remove(nsproc, "/mnt/b", mnt_b)
    assert wait_released(img) == []


def test_forced_readonly_attach_of_a_read_write_image(nsproc, tmp_path):
    img = image(tmp_path / "d.img")
    mnt_a = place(nsproc, sources.plan(parse_mount(f"type=image,source={img},target=/mnt/a"), None), "/mnt/a")
    ro = sources.plan(parse_mount(f"type=image,source={img},target=/mnt/b,readonly"), None, force=True)
    mnt_b = place(nsproc, ro, "/mnt/b")
    assert ns_run(nsproc, "touch", "/mnt/b/x", check=False).returncode != 0
    ns_run(nsproc, "touch", "/mnt/a/x")
    remove(nsproc, "/mnt/b", mnt_b)
    remove(nsproc, "/mnt/a", mnt_a)
    assert wait_released(img) == []


def test_read_write_attach_of_a_read_only_instance_is_refused(nsproc, tmp_path):
    img = image(tmp_path / "d.img")
    ro = sources.plan(parse_mount(f"type=image,source={img},target=/mnt/a,readonly"), None)
    mnt_a = place(nsproc, ro, "/mnt/a")
    for force in (False, True):
        with pytest.raises(Conflict) as e:
            sources.plan(parse_mount(f"type=image,source={img},target=/mnt/b"), None, force=force)
        assert "is mounted read-only" in e.value.message and "ro" in e.value.hint
    again = sources.plan(parse_mount(f"type=image,source={img},target=/mnt/b,readonly"), None)
    assert again.extra.get("shared") and again.device == ro.extra["loop"]
    mnt_b = place(nsproc, again, "/mnt/b")
    remove(nsproc, "/mnt/a", mnt_a)
    remove(nsproc, "/mnt/b", mnt_b)
    assert wait_released(img) == []
