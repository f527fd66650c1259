"""Pause/stop always resumes (fake engine), and backup output appears only when complete."""

from __future__ import annotations

import os
import signal

import pytest

from dynvol.errors import DynvolError, NotFound, UsageError
from dynvol.volumes.backup import Output
from dynvol.volumes.quiesce import Interrupted, User, quiesced


class FakeEngine:
    def __init__(self, fail_on: str | None = None):
        self.calls: list[tuple[str, str]] = []
        self.fail_on = fail_on

    def _do(self, op, ref):
        self.calls.append((op, ref))
        if self.fail_on == f"{op}:{ref}":
            raise DynvolError(f"{op} {ref} failed")

    def pause(self, ref):
        self._do("pause", ref)

    def unpause(self, ref):
        self._do("unpause", ref)

    def stop(self, ref, *, timeout=10):
        self._do("stop", ref)

    def start(self, ref):
        self._do("start", ref)


USERS = [User("a", "web", "running", "engine", "/data"), User("b", "db", "running", "dynvol", "/x"),
         User("c", "old", "exited", "engine", "/data"), User("a", "web", "running", "engine", "/other")]


@pytest.mark.parametrize("mode,down,up", [("pause", "pause", "unpause"), ("stop", "stop", "start")])
def test_resumed_after_an_error(mode, down, up):
    e = FakeEngine()
    with pytest.raises(RuntimeError):
        with quiesced(e, USERS, mode) as touched:
            assert [u.id for u in touched] == ["a", "b"]  # running ones, each once
            raise RuntimeError("boom")
    assert e.calls == [(down, "a"), (down, "b"), (up, "b"), (up, "a")]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_resumed_after_a_termination_signal(sig):
    e = FakeEngine()
    before = signal.getsignal(sig)
    with pytest.raises(Interrupted) as err:
        with quiesced(e, USERS, "pause"):
            os.kill(os.getpid(), sig)
            signal.sigtimedwait([], 0)  # let the handler run
    assert err.value.exit_code == 130
    assert e.calls[-2:] == [("unpause", "b"), ("unpause", "a")]
    assert signal.getsignal(sig) == before  # our handler is gone again


def test_resumed_after_keyboard_interrupt_and_broken_pipe():
    for exc in (KeyboardInterrupt, BrokenPipeError):
        e = FakeEngine()
        with pytest.raises(exc):
            with quiesced(e, USERS, "stop"):
                raise exc()
        assert e.calls[-2:] == [("start", "b"), ("start", "a")]


def test_a_failure_while_pausing_still_resumes_the_ones_already_paused():
    e = FakeEngine(fail_on="pause:b")
    with pytest.raises(DynvolError, match="pause b failed"):
        with quiesced(e, USERS, "pause"):
            pytest.fail("the block must not run")
    assert e.calls == [("pause", "a"), ("pause", "b"), ("unpause", "a")]


def test_a_resume_failure_is_reported_and_the_others_still_resume():
    e = FakeEngine(fail_on="unpause:b")
    with pytest.raises(DynvolError, match="could not unpause db"):
        with quiesced(e, USERS, "pause"):
            pass
    assert ("unpause", "a") in e.calls


def test_live_touches_nothing():
    e = FakeEngine()
    with quiesced(e, USERS, "live") as touched:
        assert touched == []
    assert e.calls == []


def test_output_appears_only_on_commit(tmp_path):
    target = tmp_path / "a.tar.zst"
    o = Output(str(target))
    o.open()
    o.write(b"partial")
    assert not target.exists()
    o.commit()
    assert target.read_bytes() == b"partial" and os.listdir(tmp_path) == ["a.tar.zst"]
    assert (target.stat().st_mode & 0o777) == 0o600


def test_output_discard_leaves_nothing(tmp_path):
    (tmp_path / "a.tar.zst").write_bytes(b"old complete archive")
    o = Output(str(tmp_path / "a.tar.zst"))
    o.open()
    o.write(b"half")
    o.discard()
    assert os.listdir(tmp_path) == ["a.tar.zst"]
    assert (tmp_path / "a.tar.zst").read_bytes() == b"old complete archive"


def test_output_checks_before_anything(tmp_path):
    with pytest.raises(NotFound):
        Output(str(tmp_path / "missing" / "a.tar"))
    with pytest.raises(UsageError):
        Output(str(tmp_path))
    assert os.listdir(tmp_path) == []
