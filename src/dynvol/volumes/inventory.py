"""``dynvol volume ls`` and ``dynvol volume inspect``: driver, size, labels and every user of a volume."""

from __future__ import annotations

from dynvol.volumes.backup import check_volume_name
from dynvol.volumes.quiesce import volume_users


def _row(v, size: int | None, users) -> dict:
    return {"name": v.name, "driver": v.driver, "scope": v.scope, "mountpoint": v.mountpoint,
            "created_at": v.created_at, "options": v.options, "labels": v.labels,
            "size": size if size is not None and size >= 0 else None,
            "containers": [u.to_dict() for u in users]}


def ls(*, engine=None, sizes: bool = True) -> list[dict]:
    if engine is None:
        from dynvol.engine import get_engine

        engine = get_engine()
    vols = engine.volumes()
    usage = engine.volume_sizes() if sizes else {}
    return [_row(v, usage.get(v.name), volume_users(engine, v.name)) for v in sorted(vols, key=lambda v: v.name)]


def inspect(name: str, *, engine=None) -> dict:
    check_volume_name(name)
    if engine is None:
        from dynvol.engine import get_engine

        engine = get_engine()
    v = engine.volume(name)
    size = engine.volume_sizes().get(name)
    if (size is None or size < 0) and v.driver == "local" and engine.is_local:
        import os

        if os.path.isdir(v.mountpoint):
            size = _du(v.mountpoint)
    return _row(v, size, volume_users(engine, name))


def _du(path: str) -> int:
    import os

    total, stack = 0, [path]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for e in it:
                    try:
                        st = e.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    total += st.st_blocks * 512
                    if e.is_dir(follow_symlinks=False):
                        stack.append(e.path)
        except OSError:
            continue
    return total
