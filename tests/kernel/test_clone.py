"""The helper's clone op: detached mounts cloned out of another mount namespace, fds sent back."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from dynvol.helper.request import Placement, Request
from dynvol.helper.runner import _run_spawned, run
from dynvol.linux import syscalls as sc
from tests.kernel.conftest import ns_run


@pytest.mark.parametrize("runner", [run, _run_spawned], ids=["resident", "spawned"])
def test_clone_a_mount_that_exists_only_in_the_other_namespace(nsproc, tmp_path, runner):
    where = tmp_path / "only-there"
    where.mkdir()
    ns_run(nsproc, "mount", "-t", "tmpfs", "-o", "size=1m", "dvclone", str(where))
    ns_run(nsproc, "sh", "-c", f"echo inside > {where}/f")
    assert not (where / "f").exists()  # the host does not see that tmpfs

    resp = runner(Request(op="clone", pid=nsproc, sources=[str(where)]))
    assert resp["ok"], resp
    assert resp["results"] == [{"path": str(where), "kind": "dir", "fd": 0}]
    (fd,) = resp["fds"]
    try:
        # the detached clone is readable from here, without entering any namespace
        with open(os.open("f", os.O_RDONLY, dir_fd=fd), closefd=True) as f:
            assert f.read() == "inside\n"
        assert stat.S_ISDIR(sc.statx(fd).mode)
    finally:
        os.close(fd)


def test_clone_refuses_a_path_that_is_not_a_mount(nsproc, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    resp = run(Request(op="clone", pid=nsproc, sources=[str(plain)]))
    assert not resp["ok"]
    assert resp["fds"] == []
    assert resp["error"]["kind"] == "target"
    assert "nothing is mounted" in resp["error"]["message"]


def test_cloned_tree_can_be_placed_in_a_third_namespace(nsproc, tmp_path):
    where = tmp_path / "src"
    where.mkdir()
    ns_run(nsproc, "mount", "-t", "tmpfs", "dvclone2", str(where))
    ns_run(nsproc, "sh", "-c", f"echo moved > {where}/g")
    resp = run(Request(op="clone", pid=nsproc, sources=[str(where)]))
    assert resp["ok"], resp
    fd = resp["fds"][0]
    # place it back into the same namespace under another name, as attach would
    target = str(tmp_path / "dst")
    resp = run(Request(op="attach", pid=nsproc, placements=[Placement(fd=fd, target=target, kind="dir")]))
    os.close(fd)
    assert resp["ok"], resp
    assert ns_run(nsproc, "cat", f"{target}/g").stdout == b"moved\n"


def test_spawned_path_is_used_when_threads_exist(nsproc, tmp_path):
    from dynvol.helper.runner import run

    where = tmp_path / "t"
    where.mkdir()
    ns_run(nsproc, "mount", "-t", "tmpfs", "dvclone3", str(where))
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        resp = run(Request(op="clone", pid=nsproc, sources=[str(where)]))
    finally:
        stop.set()
        t.join()
    assert resp["ok"], resp
    os.close(resp["fds"][0])
