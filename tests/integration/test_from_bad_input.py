"""Bad --from input: a clear one-line error, the right exit code, and nothing changed."""

from __future__ import annotations

import pytest

from dynvol.state import Store
from tests.integration.conftest import cexec, dynvol, mountinfo, out


def snapshot(container, state_dir):
    return (mountinfo(container), [a.__dict__ for a in Store(str(state_dir)).list()],
            out("ps", "-aq", "--filter", "label=dynvol.holder"), out("volume", "ls", "-q"))


@pytest.fixture
def dbdata(containers, volumes):
    return containers.run("-v", f"{volumes.create()}:/data")


@pytest.mark.parametrize("ref,code,needle", [
    ("no-such-container", 3, "no such container: no-such-container"),
    ("{db}:/nothing-here", 3, "has no volume or bind mount at /nothing-here"),
    ("{db}:rx", 2, "unknown mode 'rx'"),
    ("{db}:/data:ro:extra", 2, "invalid --from"),
    ("bad name!", 2, "is not a container name or ID"),
    ("{app}", 2, "is the container being attached to"),
])
def test_bad_from_changes_nothing(container, dbdata, state_dir, ref, code, needle):
    before = snapshot(container, state_dir)
    r = dynvol("attach", container, "--from", ref.format(db=dbdata, app=container))
    assert r.returncode == code, r.stderr
    lines = r.stderr.decode().splitlines()
    assert lines[0].startswith("dynvol: ") and needle in lines[0]
    assert len(lines) <= 2  # the message, and at most one hint
    assert snapshot(container, state_dir) == before


def test_from_container_without_mounts(container, containers, state_dir):
    bare = containers.run()
    before = snapshot(container, state_dir)
    r = dynvol("attach", container, "--from", bare)
    assert r.returncode == 3
    assert "has no volumes or bind mounts to take" in r.stderr.decode()
    assert snapshot(container, state_dir) == before


def test_bad_from_with_good_spec_changes_nothing(container, tmp_path, state_dir):
    before = snapshot(container, state_dir)
    r = dynvol("attach", container, f"{tmp_path}:/good", "--from", "no-such-container")
    assert r.returncode == 3
    assert snapshot(container, state_dir) == before
    assert cexec(container, "test", "-e", "/good", check=False).returncode != 0


def test_from_target_collision_is_a_usage_error(container, dbdata, tmp_path, state_dir):
    before = snapshot(container, state_dir)
    r = dynvol("attach", container, f"{tmp_path}:/data", "--from", dbdata)
    assert r.returncode == 2
    assert "duplicate mount point: /data" in r.stderr.decode()
    assert snapshot(container, state_dir) == before
