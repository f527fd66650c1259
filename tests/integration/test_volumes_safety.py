"""Damage and interruption: corrupt or cut archives, kill -9, refused restores, writers always resumed."""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.integration import volumes_corpus as corpus
from tests.integration.conftest import IMAGE, docker, dynvol, out



@pytest.fixture(autouse=True)
def _helper_image(monkeypatch):
    """Helper containers use the test image: the engine has no busybox:latest and never pulls."""
    monkeypatch.setenv("DYNVOL_HELPER_IMAGE", IMAGE)

def mountpoint(name: str) -> str:
    return out("volume", "inspect", "-f", "{{.Mountpoint}}", name)


def fill(name: str, *, random_mb: int = 0) -> str:
    root = mountpoint(name)
    os.makedirs(os.path.join(root, "docs"))
    for i in range(50):
        with open(os.path.join(root, "docs", f"f{i}.txt"), "w") as f:
            f.write(f"line {i}\n" * 2000)
    if random_mb:
        with open(os.path.join(root, "random.bin"), "wb") as f:
            for _ in range(random_mb):
                f.write(os.urandom(1 << 20))
    return root


def one_error_line(r: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in r.stderr.decode().splitlines() if not ln.startswith("hint:")]
    assert len(lines) == 1, r.stderr.decode()
    assert lines[0].startswith("dynvol: ")
    return lines[0]


def no_leftovers(root: str) -> bool:
    return not [n for n in os.listdir(root) if n.startswith(".dynvol-")]


def state(container: str) -> dict:
    return json.loads(out("inspect", "-f", "{{json .State}}", container))


def volume_names() -> set[str]:
    return set(out("volume", "ls", "-q").split())


@pytest.fixture
def archived(volumes, tmp_path, state_dir):
    """(volume, zstd archive, uncompressed archive) of a small volume."""
    name = volumes.create()
    fill(name)
    z, n = tmp_path / "v.tar.zst", tmp_path / "v.tar"
    assert dynvol("backup", name, "-o", str(z), "-q").returncode == 0
    assert dynvol("backup", name, "-o", str(n), "--compress", "none", "-q").returncode == 0
    return name, z, n


def damage(path, *, at: float) -> None:
    data = bytearray(path.read_bytes())
    i = int(len(data) * at)
    data[i] ^= 0x55
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("kind", ["zstd", "none"])
def test_verify_and_restore_detect_corruption(archived, volumes, kind):
    name, z, n = archived
    path = z if kind == "zstd" else n
    damage(path, at=0.5)
    v = dynvol("verify", str(path))
    assert v.returncode == 1
    assert "corrupt archive" in one_error_line(v)

    # a restore over existing contents fails and leaves them exactly as they were
    victim = volumes.create()
    root = fill(victim)
    before = corpus.snapshot(root)
    r = dynvol("restore", str(path), "--to", victim, "--force")
    assert r.returncode == 1, r.stderr.decode()
    assert "corrupt archive" in one_error_line(r)
    assert corpus.diff(before, corpus.snapshot(root)) == []
    assert no_leftovers(root)
    # and one into a new volume leaves no volume behind
    fresh = f"{victim}-new"
    r = dynvol("restore", str(path), "--to", fresh)
    assert r.returncode == 1 and fresh not in volume_names()


@pytest.mark.parametrize("keep", [0.5, 0.98])
def test_truncated_archive_is_refused(archived, volumes, tmp_path, keep):
    name, z, _ = archived
    cut = tmp_path / "cut.tar.zst"
    data = z.read_bytes()
    cut.write_bytes(data[:int(len(data) * keep)])
    v = dynvol("verify", str(cut))
    assert v.returncode == 1 and "truncated archive" in one_error_line(v)
    victim = volumes.create()
    root = fill(victim)
    before = corpus.snapshot(root)
    r = dynvol("restore", str(cut), "--to", victim, "--force")
    assert r.returncode == 1 and "truncated archive" in one_error_line(r)
    assert corpus.diff(before, corpus.snapshot(root)) == [] and no_leftovers(root)
    # also when streamed on stdin
    r = dynvol("restore", "-", "--to", victim, "--force", input=cut.read_bytes())
    assert r.returncode == 1 and corpus.diff(before, corpus.snapshot(root)) == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_restore_leaves_old_contents(volumes, tmp_path, state_dir, sig):
    src = volumes.create()
    fill(src, random_mb=8)
    data = dynvol("backup", src, "-o", "-", "-q").stdout
    victim = volumes.create()
    root = fill(victim)
    before = corpus.snapshot(root)
    p = subprocess.Popen([sys.executable, "-m", "dynvol", "restore", "-", "--to", victim, "--force"],
                         stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(data[:len(data) // 2])
    p.stdin.flush()
    deadline = time.monotonic() + 30  # wait until it is extracting into its staging directory
    while time.monotonic() < deadline and no_leftovers(root):
        time.sleep(0.01)
    assert not no_leftovers(root), "restore never started staging"
    p.send_signal(sig)
    assert p.wait(timeout=60) == 130, p.stderr.read().decode()
    p.stdin.close()
    assert corpus.diff(before, corpus.snapshot(root)) == [] and no_leftovers(root)


def test_restore_refuses_non_empty_volume(archived, volumes):
    name, z, _ = archived
    victim = volumes.create()
    root = fill(victim)
    before = corpus.snapshot(root)
    r = dynvol("restore", str(z), "--to", victim)
    assert r.returncode == 1
    assert "not empty" in one_error_line(r)
    assert corpus.diff(before, corpus.snapshot(root)) == [] and no_leftovers(root)
    # --force replaces the contents (nothing of the old tree is left)
    r = dynvol("restore", str(z), "--to", victim, "--force")
    assert r.returncode == 0, r.stderr.decode()
    assert corpus.diff(corpus.snapshot(mountpoint(name)), corpus.snapshot(root)) == []


def test_kill_9_during_backup_leaves_no_archive(volumes, tmp_path, state_dir):
    name = volumes.create()
    fill(name, random_mb=48)
    target = tmp_path / "killed.tar.gz"
    p = subprocess.Popen([sys.executable, "-m", "dynvol", "backup", name, "-o", str(target),
                          "--compress", "gzip", "--level", "9", "-q"], stderr=subprocess.PIPE)
    partial = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and p.poll() is None:
        partial = [f for f in glob.glob(str(tmp_path / ".killed.tar.gz.dynvol-partial-*"))
                   if os.path.getsize(f) > 0]
        if partial:
            break
        time.sleep(0.005)
    assert partial and p.poll() is None, "backup finished before it could be killed"
    p.kill()
    p.wait()
    assert not target.exists()
    for f in partial:
        r = dynvol("verify", f)
        assert r.returncode == 1 and "truncated archive" in one_error_line(r)
    # stdout: the bytes that did get out do not verify either
    p = subprocess.Popen([sys.executable, "-m", "dynvol", "backup", name, "-o", "-", "-q"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    head = p.stdout.read(1 << 16)
    p.kill()
    p.wait()
    p.stdout.close()
    r = dynvol("verify", "-", input=head)
    assert r.returncode == 1 and "truncated archive" in one_error_line(r)


def _blocked_backup(name: str, *flags: str) -> subprocess.Popen:
    """A backup to a pipe nobody reads: once the first byte is out, it is mid-stream and blocked."""
    p = subprocess.Popen([sys.executable, "-m", "dynvol", "backup", name, "-o", "-", *flags],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout.read(1), p.stderr.read().decode()
    return p


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "SIGHUP", "broken-pipe"])
def test_paused_writers_resume_after_a_failed_backup(volumes, containers, state_dir, how):
    name = volumes.create()
    fill(name, random_mb=16)
    c = containers.run("-v", f"{name}:/data")
    p = _blocked_backup(name, "--pause")
    assert state(c)["Paused"] is True
    if how == "broken-pipe":
        p.stdout.close()
    else:
        p.send_signal(getattr(signal, how))
    code = p.wait(timeout=60)
    err = p.stderr.read().decode()
    assert code == (1 if how == "broken-pipe" else 130), err
    s = state(c)
    assert s["Running"] is True and s["Paused"] is False


def test_stopped_writers_restart_after_a_failed_backup(volumes, containers, state_dir):
    name = volumes.create()
    fill(name, random_mb=16)
    c = containers.run("-v", f"{name}:/data")
    started = state(c)["StartedAt"]
    p = _blocked_backup(name, "--stop", "--stop-timeout", "1")
    assert state(c)["Running"] is False
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=60) == 130
    s = state(c)
    assert s["Running"] is True and s["StartedAt"] != started


def test_pause_and_stop_complete_and_resume(volumes, containers, tmp_path, state_dir):
    name = volumes.create()
    fill(name)
    c = containers.run("-v", f"{name}:/data")
    for flag in ("--pause", "--stop"):
        a = tmp_path / f"{flag[2:]}.tar.zst"
        r = dynvol("backup", name, "-o", str(a), flag, "--stop-timeout", "1", "--json")
        assert r.returncode == 0, r.stderr.decode()
        res = json.loads(r.stdout)
        assert res["consistency"] == flag[2:] and res["containers"] == [c]
        assert b"warning" not in r.stderr
        assert state(c)["Running"] is True and state(c)["Paused"] is False
        assert dynvol("verify", str(a), "-q").returncode == 0


def test_live_backup_warns_naming_the_writers(volumes, containers, tmp_path, state_dir):
    name = volumes.create()
    fill(name)
    c = containers.run("-v", f"{name}:/data")
    r = dynvol("backup", name, "-o", str(tmp_path / "live.tar.zst"))
    assert r.returncode == 0
    assert f"reading {name} live while {c} is running" in r.stderr.decode()
    assert state(c)["Running"] is True


def test_volume_ls_and_inspect_show_users_and_dynvol_attachments(volumes, containers, state_dir):
    name = volumes.create("--label", "team=db")
    fill(name)
    c1 = containers.run("-v", f"{name}:/data")
    c2 = containers.run()
    a = dynvol("attach", c2, f"{name}:/mnt/live")
    assert a.returncode == 0, a.stderr.decode()
    r = dynvol("volume", "inspect", name)
    assert r.returncode == 0, r.stderr.decode()
    info = json.loads(r.stdout)[0]
    assert info["driver"] == "local" and info["labels"] == {"team": "db"} and info["size"] > 0
    users = {(u["name"], u["via"], u["target"]) for u in info["containers"]}
    assert users == {(c1, "engine", "/data"), (c2, "dynvol", "/mnt/live")}
    ls = json.loads(dynvol("volume", "ls", "--json").stdout)
    row = next(v for v in ls if v["name"] == name)
    assert {u["name"] for u in row["containers"]} == {c1, c2}
    text = dynvol("volume", "ls").stdout.decode()
    assert name in text and f"{c2}:/mnt/live (dynvol)" in text
    assert dynvol("detach", c2, "/mnt/live").returncode == 0
