"""tmpfs with Docker's option names, checked from inside the container."""

from __future__ import annotations

from tests.integration.conftest import cexec, dynvol
from tests.integration.sources_util import host_mountinfo, line_at, ls_json, ok, refused, snapshot


def test_tmpfs_size_mode_owner(container, state_dir):
    ok("attach", container, "--mount", "type=tmpfs,target=/scratch,tmpfs-size=64m,tmpfs-mode=1770,uid=1000,gid=1000")
    line = line_at(container, "/scratch")
    fstype, source, sopts = line.split(" - ")[1].split()
    assert (fstype, source) == ("tmpfs", "tmpfs")
    assert {"size=65536k", "mode=1770", "uid=1000", "gid=1000"} <= set(sopts.split(","))
    st = cexec(container, "stat", "-c", "%a %u %g", "/scratch").stdout.decode().split()
    assert st == ["1770", "1000", "1000"]
    blocks = cexec(container, "df", "-k", "/scratch").stdout.decode().splitlines()[-1].split()[1]
    assert blocks == "65536"
    # the size limit holds inside: 65 MiB do not fit
    r = cexec(container, "dd", "if=/dev/zero", "of=/scratch/big", "bs=1M", "count=65", check=False)
    assert r.returncode != 0 and b"No space left" in r.stderr
    assert " /scratch " not in host_mountinfo()
    [row] = ls_json(container)
    assert row["type"] == "tmpfs" and "tmpfs-size=64m" in row["options"]

    ok("detach", container, "/scratch")
    assert line_at(container, "/scratch") is None
    assert cexec(container, "ls", "-A", "/scratch").stdout == b""  # the empty directory dynvol created


def test_tmpfs_options_and_flags(container, state_dir):
    ok("attach", container, "--mount", 'type=tmpfs,target=/tmp,"options=noexec,nr_inodes=100"',
       "--mount", "type=tmpfs,target=/run2,readonly")
    assert "noexec" in line_at(container, "/tmp").split()[5].split(",")
    assert "nr_inodes=100" in line_at(container, "/tmp")
    cexec(container, "cp", "/bin/busybox", "/tmp/true")  # busybox runs the applet named by argv[0]
    r = cexec(container, "sh", "-c", "/tmp/true", check=False)
    assert r.returncode == 126 and b"ermission denied" in r.stderr  # noexec holds
    r = cexec(container, "touch", "/run2/x", check=False)
    assert r.returncode != 0 and b"Read-only" in r.stderr
    ok("detach", container, "--all")


def test_tmpfs_bad_input_changes_nothing(container, state_dir):
    before = snapshot(container, state_dir)
    for args, code, needle in [
        (["--mount", "type=tmpfs,target=/x,tmpfs-size=lots"], 2, "invalid value for tmpfs-size"),
        (["--mount", "type=tmpfs,target=/x,tmpfs-mode=999"], 2, "invalid value for tmpfs-mode"),
        (["--mount", "type=tmpfs,target=/x,source=/srv"], 2, "source is not allowed"),
        (["--mount", 'type=tmpfs,target=/x,"options=huge=sideways"'], 2, "tmpfs rejects mount option"),
        (["--mount", "type=tmpfs,target=/x,fstype=ext4"], 2, "fstype is not valid for type=tmpfs"),
        (["--mount", "type=tmpfs,target=/x,frob=1"], 2, "unexpected key 'frob'"),
    ]:
        refused(dynvol("attach", container, *args), code, needle)
    assert snapshot(container, state_dir) == before
