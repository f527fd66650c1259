"""``dynvol restore`` and ``dynvol verify``.

Restore streams the archive into a staging directory inside each target
volume, checks the trailer (sha256 and byte count) and tar's exit status, and
only then swaps the staged tree in. A corrupt, truncated or interrupted
restore removes its staging directory and leaves the old contents untouched;
a volume it created for the restore is removed again.
"""

from __future__ import annotations

import posixpath
from contextlib import ExitStack

from dynvol.errors import Conflict, DynvolError, NotFound, UsageError
from dynvol.volumes import archive, progress
from dynvol.volumes.access import Access, open_volume
from dynvol.volumes.backup import check_volume_name
from dynvol.volumes.quiesce import termination_raises, volume_users
from dynvol.volumes.streams import sink


def verify(path: str, *, show_progress: bool = False) -> dict:
    """Read the whole archive and check manifest, compression, tar framing, byte count and sha256."""
    f = archive.open_binary(path)
    total = _size(f)
    with f, progress.bar(f"verify {path}", total, show=show_progress) as bar:
        r = archive.ArchiveReader(f, on_read=bar.advance)
        r.read_manifest()
        for _ in r.data():
            pass
    return {"archive": path, "ok": True, "archive_bytes": r.raw_bytes, "manifest": r.manifest,
            "trailer": r.trailer}


def _size(f) -> int | None:
    import os
    import stat

    try:
        st = os.fstat(f.fileno())
    except OSError:
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def parse_into(spec: str) -> tuple[str, str]:
    container, sep, path = spec.partition(":")
    if not sep or not container or not path.startswith("/"):
        raise UsageError(f"invalid --into {spec!r}", hint="use --into CONTAINER:/absolute/path")
    return container, posixpath.normpath(path)


def _into_target(engine, spec: str):
    """The volume (or host directory) mounted at CONTAINER:/path, as (volume name or None, host path or None)."""
    from dynvol.volumes.quiesce import _attachments

    cname, path = parse_into(spec)
    info = engine.container(cname)
    if not info.running:
        raise Conflict(f"cannot restore into {info.name}:{path}: container is not running ({info.status})",
                       hint=f"use --to VOLUME, or start it: docker start {info.name}")
    for a in _attachments(engine):
        if a.container_id == info.id and a.target == path:
            if a.type == "volume":
                return a.source, None
            if a.type == "bind" and engine.is_local:
                return None, a.host_path
    for m in info.mounts:
        if m.target == path:
            if m.type == "volume" and m.name:
                return m.name, None
            if m.type == "bind" and engine.is_local:
                return None, m.source
            raise UsageError(f"{info.name}:{path} is a {m.type} mount; dynvol restores into volumes")
    raise NotFound(f"no volume is mounted at {info.name}:{path}", hint=f"see `dynvol volume ls` or `docker inspect {info.name}`")


def restore(path: str, *, to: str | None = None, into: str | None = None, force: bool = False,
            helper_image: str | None = None, engine=None, show_progress: bool = False, warn=None) -> dict:
    if to and into:
        raise UsageError("give --to or --into, not both")
    if to:
        check_volume_name(to)
    if into:
        parse_into(into)
    f = archive.open_binary(path)
    if engine is None:
        from dynvol.engine import get_engine

        engine = get_engine()
    created: list[str] = []
    with f, ExitStack() as stack, termination_raises():
        bar = stack.enter_context(progress.bar(f"restore {path}", _size(f), show=show_progress))
        r = archive.ArchiveReader(f, on_read=bar.advance)
        manifest = r.read_manifest()
        saved = manifest["volumes"]
        if (to or into) and len(saved) != 1:
            raise UsageError(f"the archive holds {len(saved)} volumes ({', '.join(v['name'] for v in saved)}); "
                             "--to and --into take one", hint="restore without --to to use the saved names")
        # Plan every target before changing anything.
        plan = []  # (saved entry, volume name or None, host path or None, VolumeInfo or None)
        for v in saved:
            name, host_path = (to or v["name"]), None
            if into:
                name, host_path = _into_target(engine, into)
            info = None
            if name:
                try:
                    info = engine.volume(name)
                except NotFound:
                    info = None
            plan.append((v, name, host_path, info))
        sinks = {}
        try:
            for v, name, host_path, info in plan:
                if host_path is None and info is None:
                    info = engine.create_volume(name, driver=v.get("driver"), options=v.get("options"),
                                                labels=v.get("labels"))
                    created.append(name)
                if host_path is not None:
                    acc = Access(engine, f"{into}", path=host_path)
                else:
                    acc = stack.enter_context(open_volume(engine, info, write=True, image=helper_image))
                s = sink(acc, v["path"])
                if not s.is_empty() and not force:
                    raise Conflict(f"cannot restore into volume {acc.volume}: it is not empty",
                                   hint="use --force to replace its contents, or --to NEW_VOLUME")
                if name and warn:
                    users = [u.name for u in volume_users(engine, name) if u.status == "running"]
                    if users and not into:
                        warn(f"{', '.join(users)} use{'s' if len(users) == 1 else ''} {name}; "
                             "they will see its contents replaced")
                sinks[v["name"]] = s
            for s in sinks.values():
                s.start()
            for vol, piece in r.data():
                sinks[vol].write(piece)
            for s in sinks.values():
                s.finish()
            for s in sinks.values():
                s.commit()
        except BaseException:
            for s in sinks.values():
                try:
                    s.abort()
                except Exception:  # noqa: BLE001 - keep the first error
                    pass
            stack.close()  # helpers release the volumes before they can be removed
            for name in created:
                try:
                    engine.remove_volume(name)
                except DynvolError:
                    pass
            raise
    return {"archive": path, "volumes": [{"from": v["name"], "to": name or host_path, "created": name in created}
                                         for v, name, host_path, _ in plan],
            "data_bytes": r.trailer["data_bytes"], "sha256": r.trailer["sha256"]}

