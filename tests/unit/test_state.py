from dynvol.helper.request import Placement, Replace, Request, Target
from dynvol.state import Attachment, Store


def _row(target="/data", mnt_id=100):
    return Attachment(container_id="c" * 64, container="web", started_at="t0", target=target, type="bind",
                      source="/srv", host_path="/srv", options=["ro"], mnt_id=mnt_id, mnt_unique=1 << 31,
                      dev="254:0", extra={"k": "v"})


def test_store_round_trip(tmp_path):
    s = Store(str(tmp_path / "st"))
    assert s.list() == [] and s.container_ids() == []
    a = s.add(_row())
    b = s.add(_row("/other", 101))
    assert [r.target for r in s.list("c" * 64)] == ["/data", "/other"]
    s.update_target(a.id, "/moved")
    s.remove([b.id])
    (only,) = Store(str(tmp_path / "st")).list()
    assert (only.target, only.options, only.extra, only.mnt_id) == ("/moved", ["ro"], {"k": "v"}, 100)


def test_store_uses_env(monkeypatch, tmp_path):
    monkeypatch.setenv("DYNVOL_STATE_DIR", str(tmp_path / "env"))
    s = Store()
    s.add(_row())
    assert (tmp_path / "env" / "state.db").exists()


def test_request_serializes():
    req = Request(op="attach", pid=42, pidfd=5, placements=[
        Placement(fd=7, target="/data", kind="dir", owner=(1000, 1000), replace=Replace("/data", 9))],
        targets=[Target("/x", 3)])
    back = Request.from_dict(req.to_dict())
    assert back == req
    assert sorted(back.fds()) == [5, 7]
