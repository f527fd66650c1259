"""Bad input to the volume commands: one clear line, the right exit code, and nothing changed."""

from __future__ import annotations

import os

import pytest

from tests.integration.conftest import IMAGE, dynvol, out



@pytest.fixture(autouse=True)
def _helper_image(monkeypatch):
    """Helper containers use the test image: the engine has no busybox:latest and never pulls."""
    monkeypatch.setenv("DYNVOL_HELPER_IMAGE", IMAGE)

def snapshot_world(tmp_path) -> tuple:
    return (set(out("volume", "ls", "-q").split()), sorted(os.listdir(tmp_path)),
            out("ps", "-a", "--format", "{{.Names}} {{.State}}"))


@pytest.fixture
def world(volumes, containers, tmp_path, state_dir):
    vol = volumes.create()
    with open(os.path.join(out("volume", "inspect", "-f", "{{.Mountpoint}}", vol), "keep.txt"), "w") as f:
        f.write("keep\n")
    c = containers.run("-v", f"{vol}:/data")
    archive = tmp_path / "ok.tar.zst"
    assert dynvol("backup", vol, "-o", str(archive), "-q").returncode == 0
    (tmp_path / "not-an-archive").write_bytes(b"hello, I am not a tar stream\n" * 100)
    return {"vol": vol, "c": c, "archive": str(archive), "tmp": str(tmp_path)}


CASES = [
    # (argv with {vol} {c} {archive} {tmp}, exit code, words in the message)
    (["backup", "no-such-volume", "-o", "{tmp}/x.tar.zst"], 3, "no such volume"),
    (["backup", "bad/name", "-o", "{tmp}/x.tar.zst"], 2, "invalid volume name"),
    (["backup", "container:no-such-container", "-o", "{tmp}/x.tar.zst"], 3, "no such container"),
    (["backup", "{vol}", "-o", "{tmp}/missing-dir/x.tar.zst"], 3, "does not exist"),
    (["backup", "{vol}", "-o", "{tmp}"], 2, "is a directory"),
    (["backup", "{vol}", "-o", "{tmp}/x.tar.zst", "--level", "42"], 2, "out of range"),
    (["backup", "{vol}", "-o", "{tmp}/x.tar.zst", "--compress", "lz4"], 2, "lz4"),
    (["backup", "{vol}", "-o", "{tmp}/x.tar.zst", "--pause", "--stop"], 2, "not both"),
    (["restore", "{tmp}/nope.tar.zst", "--to", "fresh-vol"], 3, "no such archive"),
    (["restore", "{tmp}/not-an-archive", "--to", "fresh-vol"], 1, "not a dynvol archive"),
    (["restore", "{archive}", "--to", "bad/name"], 2, "invalid volume name"),
    (["restore", "{archive}", "--to", "fresh-vol", "--into", "{c}:/data"], 2, "not both"),
    (["restore", "{archive}", "--into", "{c}"], 2, "invalid --into"),
    (["restore", "{archive}", "--into", "{c}:/nowhere"], 3, "no volume is mounted"),
    (["restore", "{archive}", "--into", "no-such-container:/data"], 3, "no such container"),
    (["restore", "{archive}", "--to", "{vol}"], 1, "not empty"),
    (["verify", "{tmp}/not-an-archive"], 1, "not a dynvol archive"),
    (["verify", "{tmp}"], 2, "is a directory"),
    (["clone", "{vol}", "{vol}"], 2, "onto itself"),
    (["clone", "no-such-volume", "fresh-vol"], 3, "no such volume"),
    (["migrate", "{vol}", "--to-host", "not-a-url"], 2, "invalid --to-host"),
    (["migrate", "{vol}", "--to-host", "unix:///nonexistent/docker.sock"], 6, "cannot reach"),
    (["volume", "inspect", "no-such-volume"], 3, "no such volume"),
]


@pytest.mark.parametrize("argv,code,words", CASES, ids=[" ".join(c[0][:2]) + f"-{i}" for i, c in enumerate(CASES)])
def test_bad_input(world, tmp_path, argv, code, words):
    before = snapshot_world(tmp_path)
    r = dynvol(*[a.format(**world) for a in argv])
    err = r.stderr.decode()
    assert r.returncode == code, err
    lines = [ln for ln in err.splitlines() if not ln.startswith("hint:")]
    assert len(lines) == 1 and words in lines[0], err
    assert snapshot_world(tmp_path) == before
    assert r.stdout == b""
