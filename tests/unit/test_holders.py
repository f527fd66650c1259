"""Which volumes need a holder container, and when holders are released."""

from __future__ import annotations

import pytest

from dynvol.engine import VolumeInfo
from dynvol.sources import holders
from dynvol.spec import parse_mount, parse_volume
from dynvol.state import Attachment, Store


def vol(tmp_path, driver="local", options=None, mountpoint=None):
    return VolumeInfo(name="v", driver=driver, mountpoint=str(mountpoint or tmp_path), options=options or {},
                      labels={})


def test_needs_holder(tmp_path):
    assert holders.needs_holder(vol(tmp_path)) is None
    assert "driver is nfsplugin" in holders.needs_holder(vol(tmp_path, driver="nfsplugin"))
    assert "only while a container uses it" in holders.needs_holder(vol(tmp_path, options={"type": "tmpfs"}))
    assert "only while" in holders.needs_holder(vol(tmp_path, options={"device": "/x", "o": "bind"}))
    assert "not visible" in holders.needs_holder(vol(tmp_path, mountpoint=tmp_path / "missing"))


def test_new_volume_needs_holder():
    assert not holders.new_volume_needs_holder(parse_volume("newvol:/x"))
    assert holders.new_volume_needs_holder(parse_mount("src=nv,dst=/x,volume-opt=type=tmpfs"))
    assert holders.new_volume_needs_holder(parse_mount("src=nv,dst=/x,volume-driver=other"))
    assert not holders.new_volume_needs_holder(parse_mount("src=nv,dst=/x,volume-driver=local"))


def test_command_setting(monkeypatch):
    monkeypatch.delenv("DYNVOL_HOLDER_CMD", raising=False)
    assert holders.command() == ["sleep", "2147483647"]
    monkeypatch.setenv("DYNVOL_HOLDER_CMD", "/pause --quiet")
    assert holders.command() == ["/pause", "--quiet"]


class RecordingEngine:
    def __init__(self):
        self.removed = []

    def remove_container(self, cid):
        self.removed.append(cid)


def row(store, target, holder=None):
    return store.add(Attachment(container_id="c", container="app", started_at="t", target=target, type="volume",
                                source="v", host_path="/h", options=["rw"], mnt_id=1, mnt_unique=None, dev="0:1",
                                extra={"holder": holder} if holder else {}))


@pytest.mark.parametrize("keep_other", [True, False])
def test_release_only_unused_holders(tmp_path, keep_other):
    store = Store(str(tmp_path))
    a = row(store, "/a", "h1")
    b = row(store, "/b", "h1")
    c = row(store, "/c")
    removed = [a] if keep_other else [a, b]
    store.remove([r.id for r in removed])
    engine = RecordingEngine()
    holders.release_unused(store, engine, removed + [c])
    assert engine.removed == ([] if keep_other else ["h1"])
