"""volume-subpath, nosuid/nodev/noexec, recursive read-only, bind-recursive, propagation, --read-only roots."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.integration.conftest import cexec, cread, dynvol, out
from tests.integration.sources_util import line_at, ls_json, mount_opts, ok, refused, snapshot


@pytest.fixture
def hostdir(tmp_path):
    d = tmp_path / "src"
    d.mkdir()
    (d / "top.txt").write_text("top\n")
    (d / "sub").mkdir()
    return d


@pytest.fixture
def submount(hostdir):
    """A tmpfs mounted on the host at hostdir/sub (a submount of the bind source)."""
    sub = hostdir / "sub"
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(sub)], check=True)
    (sub / "inner.txt").write_text("inner\n")
    yield sub
    subprocess.run(["umount", "-l", str(sub)], check=False)


def test_volume_subpath(container, volumes, state_dir):
    vol = volumes.create()
    mp = out("volume", "inspect", "-f", "{{.Mountpoint}}", vol)
    os.makedirs(os.path.join(mp, "a", "b"))
    with open(os.path.join(mp, "a", "b", "f.txt"), "w") as f:
        f.write("deep\n")
    with open(os.path.join(mp, "root.txt"), "w") as f:
        f.write("root\n")
    os.symlink("/etc", os.path.join(mp, "a", "escape"))
    os.symlink("../..", os.path.join(mp, "a", "up"))

    ok("attach", container, "--mount", f"type=volume,source={vol},target=/sub,volume-subpath=a/b")
    assert cread(container, "/sub/f.txt") == "deep\n"
    assert cexec(container, "ls", "-A", "/sub").stdout.decode().split() == ["f.txt"]
    cexec(container, "sh", "-c", "echo back > /sub/new.txt")
    with open(os.path.join(mp, "a", "b", "new.txt")) as f:
        assert f.read() == "back\n"
    [row] = ls_json(container)
    assert "volume-subpath=a/b" in row["options"]
    ok("detach", container, "/sub")

    before = snapshot(container, state_dir)
    for sub, code, needle in [("a/escape", 2, "escapes the root of volume"),
                              ("a/up/etc", 2, "escapes the root of volume"),
                              ("../x", 2, "escapes the volume root"),
                              ("a/nope", 3, "does not exist in volume")]:
        refused(dynvol("attach", container, "--mount",
                       f"type=volume,source={vol},target=/sub2,volume-subpath={sub}"), code, needle)
    assert snapshot(container, state_dir) == before


def test_nosuid_nodev_noexec_on_a_bind(container, hostdir, state_dir):
    shutil.copy("/bin/busybox", hostdir / "true")  # busybox runs the applet named by argv[0]
    ok("attach", container, f"{hostdir}:/x:nosuid,nodev,noexec")
    assert {"nosuid", "nodev", "noexec"} <= set(mount_opts(container, "/x"))
    r = cexec(container, "sh", "-c", "/x/true", check=False)
    assert r.returncode == 126 and b"ermission denied" in r.stderr  # noexec holds inside
    ok("attach", container, "--mount", f"type=bind,source={hostdir},target=/y")
    assert cexec(container, "sh", "-c", "/y/true").returncode == 0  # and only where asked
    ok("detach", container, "--all")


def test_readonly_is_recursive_and_bind_recursive_disabled(container, hostdir, submount, state_dir):
    ok("attach", container, f"{hostdir}:/ro:ro")
    assert cread(container, "/ro/sub/inner.txt") == "inner\n"  # recursive bind is the default
    assert mount_opts(container, "/ro/sub")[0] == "ro"
    r = cexec(container, "sh", "-c", "echo x > /ro/sub/w", check=False)
    assert r.returncode != 0 and b"Read-only file system" in r.stderr  # no submount stays writable

    ok("attach", container, "--mount", f"type=bind,source={hostdir},target=/flat,bind-recursive=disabled")
    assert cexec(container, "ls", "-A", "/flat/sub").stdout == b""  # the submount is not carried
    assert line_at(container, "/flat/sub") is None
    ok("detach", container, "--all")


@pytest.fixture
def shared_src(hostdir):
    """hostdir bound onto itself and made shared, so propagation has a peer group to follow."""
    subprocess.run(["mount", "--bind", str(hostdir), str(hostdir)], check=True)
    subprocess.run(["mount", "--make-shared", str(hostdir)], check=True)
    yield hostdir
    subprocess.run(["umount", "-R", "-l", str(hostdir)], check=False)


@pytest.mark.parametrize("prop, follows", [("rslave", True), ("rshared", True), ("rprivate", False)])
def test_bind_propagation(container, shared_src, state_dir, prop, follows):
    ok("attach", container, "--mount", f"type=bind,source={shared_src},target=/p,bind-propagation={prop}")
    later = shared_src / "sub"
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(later)], check=True)
    try:
        (later / "late.txt").write_text("late\n")
        seen = cexec(container, "cat", "/p/sub/late.txt", check=False).returncode == 0
        assert seen == follows
    finally:
        subprocess.run(["umount", str(later)], check=False)
    ok("detach", container, "/p")


def test_readonly_with_shared_propagation_is_refused(container, hostdir, state_dir):
    before = snapshot(container, state_dir)
    refused(dynvol("attach", container, f"{hostdir}:/x:ro,rshared"), 2, "conflicts with read-only")
    refused(dynvol("attach", container, "--mount",
                   f"type=bind,source={hostdir},target=/x,readonly,bind-propagation=shared"), 2,
            "conflicts with read-only")
    refused(dynvol("attach", container, f"{hostdir}:/x:nosetuid"), 2, "invalid mode: nosetuid")
    assert snapshot(container, state_dir) == before


def test_read_only_root_filesystem(containers, hostdir, state_dir, tmp_path):
    name = containers.run("--read-only")
    ok("attach", name, f"{hostdir}:/srv")  # over an existing directory: fine
    assert cread(name, "/srv/top.txt") == "top\n"
    ok("attach", name, "--mount", "type=tmpfs,target=/data")
    cexec(name, "touch", "/data/ok")

    before = snapshot(name, state_dir)
    err = refused(dynvol("attach", name, f"{hostdir}:/newdir/x"), 1, "is on a read-only filesystem")
    assert "existing directories there: /bin" in err and "EROFS" not in err
    assert "hint: attach over an existing directory" in err
    # under a writable attached tmpfs, a missing target is created as usual
    ok("attach", name, f"{hostdir}:/data/deeper/x")
    assert cread(name, "/data/deeper/x/top.txt") == "top\n"
    ok("detach", name, "/data/deeper/x")
    assert snapshot(name, state_dir)[0] == before[0]
