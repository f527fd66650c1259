"""Stop writers while a volume is read: pause or stop its containers, and always bring them back.

Guarantee: every container that :func:`quiesced` paused is unpaused, and every
container it stopped is started again, whether the block ends normally, raises,
is interrupted by Ctrl-C, SIGTERM or SIGHUP (turned into :class:`Interrupted`),
or fails on a broken output pipe (``BrokenPipeError``; Python ignores SIGPIPE).
Only kill -9 can skip the resume, and nothing can prevent that.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from dataclasses import dataclass

from dynvol.errors import DynvolError, ExitStatus

MODES = ("live", "pause", "stop")


class Interrupted(DynvolError):
    exit_code = ExitStatus.INTERRUPTED


@dataclass(frozen=True)
class User:
    """A container that uses a volume, and how: through the engine or a dynvol attachment."""

    id: str
    name: str
    status: str
    via: str  # "engine" or "dynvol"
    target: str

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "status": self.status, "via": self.via, "target": self.target}


def volume_users(engine, name: str, *, helpers: bool = False) -> list[User]:
    """Every container using volume ``name``: configured by the engine or attached live by dynvol."""
    out: dict[tuple[str, str], User] = {}
    for c in engine.containers_using_volume(name):
        if not helpers and c.labels.get("dynvol.helper"):
            continue
        for m in c.mounts:
            if m.type == "volume" and m.name == name:
                out[(c.id, m.target)] = User(c.id, c.name, c.status, "engine", m.target)
    for a in _attachments(engine):
        if a.type == "volume" and a.source == name:
            try:
                c = engine.container(a.container_id)
            except DynvolError:
                continue
            out[(c.id, a.target)] = User(c.id, c.name, c.status, "dynvol", a.target)
    return list(out.values())


def _attachments(engine) -> list:
    """dynvol's live attachments, reconciled with the kernel when we can, else the raw store."""
    from dynvol.state import Store

    store = Store()
    if not store.container_ids():
        return []
    try:
        from dynvol.attach import ls

        return [lv.attachment for lv in ls(engine=engine, store=store)]
    except (DynvolError, OSError):
        return store.list()


def _raise_interrupted(signum, _frame):
    raise Interrupted(f"interrupted by {signal.Signals(signum).name}")


@contextmanager
def termination_raises():
    """SIGTERM and SIGHUP raise :class:`Interrupted` (SIGINT already raises KeyboardInterrupt)."""
    old = {s: signal.signal(s, _raise_interrupted) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextmanager
def quiesced(engine, users: list[User], mode: str, *, stop_timeout: int = 10, warn=None):
    """Pause or stop the running ``users`` for the duration of the block; resume them no matter what."""
    if mode not in MODES:
        raise ValueError(mode)
    running = list({u.id: u for u in users if u.status == "running"}.values())
    touched: list[User] = []
    with termination_raises():
        try:
            for u in running:
                if mode == "pause":
                    engine.pause(u.id)
                elif mode == "stop":
                    engine.stop(u.id, timeout=stop_timeout)
                else:
                    continue
                touched.append(u)
            yield touched
        finally:
            _resume(engine, touched, mode, warn)


def _resume(engine, touched: list[User], mode: str, warn) -> None:
    from dynvol.volumes.streams import signals_held

    failed = []
    with signals_held():  # a second Ctrl-C must not leave a container paused
        for u in reversed(touched):
            try:
                engine.unpause(u.id) if mode == "pause" else engine.start(u.id)
            except DynvolError as e:
                failed.append(f"{u.name}: {e}")
    if failed:
        msg = f"could not {'unpause' if mode == 'pause' else 'restart'} " + "; ".join(failed)
        if warn:
            warn(msg)
        raise DynvolError(msg, hint="check them with `docker ps -a`")
