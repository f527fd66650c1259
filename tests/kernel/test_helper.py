"""The helper and kernel wrappers, in a plain mount namespace."""

from __future__ import annotations

import errno
import os
import threading

import pytest

from dynvol.errors import KernelError
from dynvol.helper.request import Placement, Request, Target
from dynvol.helper.runner import run, single_threaded
from dynvol.linux import consts as C
from dynvol.linux import syscalls as sc
from tests.kernel.conftest import ns_mountpoints, ns_run


def attach(pid, fd, target, kind="dir"):
    pidfd = sc.pidfd_open(pid)
    try:
        return run(Request(op="attach", pid=pid, pidfd=pidfd,
                           placements=[Placement(fd=fd, target=target, kind=kind)]))
    finally:
        os.close(pidfd)


def test_readonly_is_set_before_the_mount_is_visible(nsproc, hostdir, tmp_path):
    fd = sc.open_tree(str(hostdir))
    sc.mount_setattr(fd, attr_set=C.MOUNT_ATTR_RDONLY)
    # the detached tree is already read-only: writing through it fails before any move
    with pytest.raises(OSError) as e:
        os.open("new", os.O_CREAT | os.O_WRONLY, dir_fd=fd)
    assert e.value.errno == errno.EROFS
    target = str(tmp_path / "dst")
    resp = attach(nsproc, fd, target)
    assert resp["ok"], resp
    assert ns_run(nsproc, "cat", f"{target}/hello.txt").stdout == b"hello from the host\n"
    assert b"Read-only" in ns_run(nsproc, "touch", f"{target}/x", check=False).stderr
    assert target not in [l.split()[4] for l in open("/proc/self/mountinfo")]  # host unchanged
    mnt_id = sc.mount_ids(fd)[0]
    os.close(fd)
    resp = run(Request(op="detach", pid=nsproc, targets=[Target(target, mnt_id)]))
    assert resp["ok"], resp
    assert target not in ns_mountpoints(nsproc)


def test_detach_refuses_other_mounts(nsproc, hostdir, tmp_path):
    target = str(tmp_path / "dst")
    fd = sc.open_tree(str(hostdir))
    assert attach(nsproc, fd, target)["ok"]
    mnt_id = sc.mount_ids(fd)[0]
    os.close(fd)
    resp = run(Request(op="detach", pid=nsproc, targets=[Target(target, mnt_id + 1)]))
    assert not resp["ok"] and resp["error"]["kind"] == "target"
    assert target in ns_mountpoints(nsproc)


def test_landing_checks(nsproc, hostdir, tmp_path):
    for target, needle in (("/proc/sys", "proc"), ("/sys/kernel", "sysfs")):
        resp = attach(nsproc, sc.open_tree(str(hostdir)), target)
        assert not resp["ok"] and needle in resp["error"]["message"]
    (tmp_path / "file").write_text("")
    resp = attach(nsproc, sc.open_tree(str(hostdir)), str(tmp_path / "file"))
    assert not resp["ok"] and "not a directory" in resp["error"]["message"]


def test_rollback_of_a_failed_batch(nsproc, hostdir, tmp_path):
    before = ns_mountpoints(nsproc)
    pidfd = sc.pidfd_open(nsproc)
    resp = run(Request(op="attach", pid=nsproc, pidfd=pidfd, placements=[
        Placement(fd=sc.open_tree(str(hostdir)), target=str(tmp_path / "new" / "a"), kind="dir"),
        Placement(fd=sc.open_tree(str(hostdir)), target="/proc/x", kind="dir")]))
    assert not resp["ok"] and resp["error"]["index"] == 1
    assert ns_mountpoints(nsproc) == before
    assert not (tmp_path / "new").exists()


def test_spawned_helper_when_threads_exist(nsproc, hostdir, tmp_path):
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert not single_threaded()
        resp = attach(nsproc, sc.open_tree(str(hostdir)), str(tmp_path / "spawned"))
    finally:
        stop.set()
        t.join()
    assert resp["ok"], resp
    assert ns_run(nsproc, "cat", str(tmp_path / "spawned" / "hello.txt")).stdout == b"hello from the host\n"


def test_openat2_in_root_cannot_escape(tmp_path):
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    os.symlink("/etc", root / "d" / "abs")
    os.symlink("../../..", root / "d" / "up")
    rfd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        fd = sc.openat2(rfd, "d/up", resolve=C.RESOLVE_IN_ROOT)
        assert os.readlink(f"/proc/self/fd/{fd}") == str(root)
        with pytest.raises(KernelError) as e:
            sc.openat2(rfd, "d/abs/passwd", resolve=C.RESOLVE_IN_ROOT)
        assert e.value.errno == errno.ENOENT  # /etc inside the root, which has none
        with pytest.raises(KernelError) as e:
            sc.openat2(rfd, "d/abs", resolve=C.RESOLVE_BENEATH)
        assert e.value.errno == errno.EXDEV
    finally:
        os.close(rfd)


def test_resident_helper_is_reused_pins_nothing_and_goes_home(nsproc, hostdir, tmp_path):
    from dynvol.helper import runner

    first = runner._Resident.get()
    target = str(tmp_path / "home")
    fd = sc.open_tree(str(hostdir))
    assert attach(nsproc, fd, target)["ok"]
    mnt_id = sc.mount_ids(fd)[0]
    os.close(fd)
    helper = runner._Resident.get()
    assert helper is first and helper.pid > 0
    # back in the host's mount namespace, holding no fd but its socket and stdio
    assert os.readlink(f"/proc/{helper.pid}/ns/mnt") == os.readlink("/proc/self/ns/mnt")
    links = sorted(os.readlink(f"/proc/{helper.pid}/fd/{f}") for f in os.listdir(f"/proc/{helper.pid}/fd")
                   if int(f) > 2)
    assert [l.split(":")[0] for l in links] == ["mnt", "socket"], links  # host ns to return to, socket
    # so a non-lazy detach is not blocked by the helper
    resp = run(Request(op="detach", pid=nsproc, targets=[Target(target, mnt_id)]))
    assert resp["ok"], resp
    assert runner._Resident.get() is first


def test_resident_helper_replaced_after_death(nsproc, hostdir, tmp_path):
    import signal

    from dynvol.helper import runner

    first = runner._Resident.get()
    os.kill(first.pid, signal.SIGKILL)
    resp = attach(nsproc, sc.open_tree(str(hostdir)), str(tmp_path / "x"))
    assert not resp["ok"] and "died" in resp["error"]["message"]
    resp = attach(nsproc, sc.open_tree(str(hostdir)), str(tmp_path / "y"))
    assert resp["ok"], resp
    assert runner._Resident.get() is not first
