"""``dynvol clone`` (same engine) and ``dynvol migrate`` (another engine): tar to tar, no file between.

The destination is staged and swapped exactly as a restore is (see
:mod:`dynvol.volumes.streams`), so a failed transfer leaves the destination as
it was, and removes it if the transfer created it.
"""

from __future__ import annotations

from contextlib import ExitStack

from dynvol.errors import Conflict, DynvolError, NotFound, UsageError
from dynvol.volumes import archive, progress
from dynvol.volumes.access import open_volume
from dynvol.volumes.backup import _stderr, check_volume_name
from dynvol.volumes.quiesce import MODES, quiesced, volume_users
from dynvol.volumes.streams import reader, sink


def _transfer(src_engine, src_name: str, dst_engine, dst_name: str, *, force: bool, mode: str,
              stop_timeout: int, helper_image: str | None, show_progress: bool, what: str, warn) -> dict:
    if mode not in MODES:
        raise UsageError(f"unknown consistency mode {mode!r}")
    src = src_engine.volume(src_name)
    try:
        dst = dst_engine.volume(dst_name)
    except NotFound:
        dst = None
    archive.tar_version()
    users = volume_users(src_engine, src.name)
    running = sorted({u.name for u in users if u.status == "running"})
    if mode == "live" and running:
        warn(f"reading {src.name} live while {', '.join(running)} "
             f"{'is' if len(running) == 1 else 'are'} running and may write to it; "
             "use --pause or --stop for a consistent copy")
    created = False
    root = archive.volume_member_root(src.name)
    s = None
    touched: list = []
    with ExitStack() as stack:
        try:
            if dst is None:
                dst = dst_engine.create_volume(dst_name, driver=src.driver, options=src.options, labels=src.labels)
                created = True
            dacc = stack.enter_context(open_volume(dst_engine, dst, write=True, image=helper_image))
            s = sink(dacc, root)
            if not s.is_empty() and not force:
                raise Conflict(f"cannot {what} into volume {dst_name}: it is not empty",
                               hint="use --force to replace its contents")
            touched = stack.enter_context(quiesced(src_engine, users, mode, stop_timeout=stop_timeout, warn=warn))
            sacc = stack.enter_context(open_volume(src_engine, src, write=False, image=helper_image))
            total = progress.tree_bytes(sacc.path) if show_progress and sacc.path else None
            bar = stack.enter_context(progress.bar(f"{what} {src.name}", total, show=show_progress))
            r = reader(sacc, root)
            s.start()
            r.pump(s.write, bar)
            s.finish()
            s.commit()
        except BaseException:
            if s is not None:
                try:
                    s.abort()
                except Exception:  # noqa: BLE001 - keep the first error
                    pass
            stack.close()
            if created:
                try:
                    dst_engine.remove_volume(dst_name)
                except DynvolError:
                    pass
            raise
    return {"source": src.name, "destination": dst_name, "created": created, "bytes": r.bytes,
            "entries": r.scanner.entries, "consistency": mode, "containers": [u.name for u in touched],
            "warnings": r.warnings}


def clone(src: str, dst: str, *, force: bool = False, mode: str = "live", stop_timeout: int = 10,
          helper_image: str | None = None, engine=None, show_progress: bool = False, warn=_stderr) -> dict:
    check_volume_name(src)
    check_volume_name(dst)
    if src == dst:
        raise UsageError(f"cannot clone {src} onto itself")
    if engine is None:
        from dynvol.engine import get_engine

        engine = get_engine()
    return _transfer(engine, src, engine, dst, force=force, mode=mode, stop_timeout=stop_timeout,
                     helper_image=helper_image, show_progress=show_progress, what="clone", warn=warn)


def migrate(volume: str, to_host: str, *, name: str | None = None, force: bool = False, mode: str = "live",
            stop_timeout: int = 10, helper_image: str | None = None, engine=None, show_progress: bool = False,
            warn=_stderr) -> dict:
    check_volume_name(volume)
    if name:
        check_volume_name(name)
    if not to_host or "://" not in to_host:
        raise UsageError(f"invalid --to-host {to_host!r}",
                         hint="give what DOCKER_HOST accepts: unix:///path, tcp://host:port, ssh://user@host")
    from dynvol.engine import get_engine

    if engine is None:
        engine = get_engine()
    dst_engine = get_engine(to_host)
    dst_engine.volumes()  # reachable? fails fast with EngineUnreachable
    if dst_engine.host == engine.host and (name or volume) == volume:
        raise UsageError("the source and destination engine are the same", hint="use `dynvol clone` instead")
    out = _transfer(engine, volume, dst_engine, name or volume, force=force, mode=mode, stop_timeout=stop_timeout,
                    helper_image=helper_image, show_progress=show_progress, what="migrate", warn=warn)
    out["to_host"] = to_host
    return out
