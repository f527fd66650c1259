"""attach, detach and ls: plan, validate, then hand the namespace work to the helper.

Order of work in :func:`attach`, so that bad input changes nothing:
1. parse and check every spec, the container, every source and every target
   that can be checked from outside (no side effect so far);
2. build the detached mounts (read-only and propagation already set);
3. record them in the state store under their mount IDs;
4. one helper places them all, or rolls back all of them.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass

from dynvol.errors import Busy, Conflict, DynvolError, KernelError, NotFound, PermissionDenied, UsageError
from dynvol.helper.ops import forbidden_reason
from dynvol.helper.request import Placement, Replace, Request, Target
from dynvol.helper.runner import run
from dynvol.linux import mountinfo, procs
from dynvol.linux import syscalls as sc
from dynvol import sources
from dynvol.spec import MountSpec, check_unique_targets
from dynvol.state import Attachment, Store


def require_root(action: str) -> None:
    if os.geteuid() != 0:
        raise PermissionDenied(f"{action}: dynvol must run as root (it enters mount namespaces)",
                               hint="run it with sudo")


def _engine(engine):
    if engine is None:
        from dynvol.engine import get_engine

        engine = get_engine()
    return engine


def _running(engine, container: str, action: str):
    info = engine.container(container)
    if not info.running:
        raise Conflict(f"cannot {action} {info.name}: container is not running ({info.status})",
                       hint=f"start it first: docker start {info.name}")
    return info


def _normalize_target(target: str) -> str:
    if not target.startswith("/"):
        raise UsageError(f"target must be an absolute path inside the container: '{target}'")
    return posixpath.normpath("/" + target.lstrip("/"))


@dataclass
class Live:
    """An attachment confirmed against the container's mountinfo."""

    attachment: Attachment
    entry: mountinfo.MountEntry

    def to_dict(self) -> dict:
        d = self.attachment.to_dict()
        d["target"] = self.entry.mountpoint
        d["readonly"] = self.entry.readonly
        d["propagation"] = self.entry.propagation
        return d


def _forget(store: Store, rows: list[Attachment], engine=None) -> None:
    """Drop state rows, then remove the holder containers that no remaining row uses."""
    store.remove([a.id for a in rows])
    if any(a.extra.get("holder") for a in rows):
        from dynvol.sources.holders import release_unused

        release_unused(store, _engine(engine), rows)


def reconcile(store: Store, info, engine=None) -> list[Live]:
    """The container's dynvol mounts that really exist; prunes rows that no longer do.

    A row is live when the running container (same start time) has a mount with
    the row's mount ID and device. Rows of a restarted, stopped or removed
    container, of a manual umount, or of an attach that crashed before the mount
    was placed are removed.
    """
    rows = store.list(info.id)
    if not rows:
        return []
    entries = {}
    if info.running:
        try:
            entries = {e.mnt_id: e for e in mountinfo.read(info.pid)}
        except OSError:
            entries = {}
    live, stale = [], []
    for a in rows:
        e = entries.get(a.mnt_id)
        if a.started_at == info.started_at and e is not None and f"{e.dev[0]}:{e.dev[1]}" == a.dev:
            if e.mountpoint != a.target:
                store.update_target(a.id, e.mountpoint)
                a.target = e.mountpoint
            live.append(Live(a, e))
        else:
            stale.append(a)
    _forget(store, stale, engine)
    return live


def ls(container: str | None = None, *, engine=None, store: Store | None = None) -> list[Live]:
    """Live dynvol attachments, of one container or of all."""
    store = store or Store()
    if container is None and not store.container_ids():
        return []
    engine = _engine(engine)
    if container is not None:
        return reconcile(store, engine.container(container), engine)
    out = []
    for cid in store.container_ids():
        try:
            info = engine.container(cid)
        except NotFound:
            _forget(store, store.list(cid), engine)
            continue
        out.extend(reconcile(store, info, engine))
    return out


def _helper_error(resp: dict, what: str) -> DynvolError:
    err = resp["error"]
    kind = err.get("kind")
    if kind == "kernel":
        e: DynvolError = KernelError.from_dict(err)
        e.message = f"{what}: {e.message}"
        e.args = (e.message,)
        if e.exit_code == 4:
            e.hint = "run as root, or see `dynvol doctor`"
        return e
    if kind == "target":
        return Conflict(f"{what}: {err['message']}", hint=err.get("hint"))
    return DynvolError(f"{what}: {err['message']}")


def attach(container: str, specs: list[MountSpec], *, replace: bool = False, force: bool = False,
           volumes_from: list[str] = (), engine=None, store: Store | None = None) -> list[Attachment]:
    """Attach every spec to the running ``container``, all or nothing.

    ``force`` attaches a block device or image even if it is mounted read-write elsewhere.
    ``volumes_from`` adds the mounts of other containers (``CONTAINER[:TARGET][:ro|rw]``).
    """
    if volumes_from:
        from dynvol.sources.containers import expand

        engine = _engine(engine)
        specs = [*specs, *expand(list(volumes_from), engine, into=container)]
    if not specs:
        raise UsageError("nothing to attach", hint="give SRC:DST, -v SRC:DST or --mount ...")
    check_unique_targets(specs)
    for s in specs:
        why = forbidden_reason(s.target)
        if why:
            raise UsageError(f"invalid target {s.target}: {why}")
    require_root("attach")
    engine = _engine(engine)
    store = store or Store()
    info = _running(engine, container, "attach to")
    live = {lv.attachment.target: lv.attachment for lv in reconcile(store, info, engine)}
    for s in specs:
        if s.target in live and not replace:
            old = live[s.target]
            raise Conflict(f"cannot attach to {info.name}:{s.target}: dynvol already attached "
                           f"{old.source} there", hint="use --replace, or `dynvol detach` it first")
    planned = [sources.plan(s, engine, force=force) for s in specs]
    for src in planned:
        src.for_container(info, engine)

    pidfd = sc.pidfd_open(info.pid, step=f"open {info.name}'s init process")
    fds: list[int] = []
    rows: list[Attachment] = []
    try:
        if not procs.belongs_to(info.pid, info.id):
            raise Conflict(f"container {info.name} changed while attaching (pid {info.pid} is gone)")
        owner = (procs.host_id(info.pid, 0, kind="uid"), procs.host_id(info.pid, 0, kind="gid"))
        placements = []
        for src in planned:
            fd = src.build(engine)
            fds.append(fd)
            if getattr(src.spec, "idmap", None) is not None:
                from dynvol.sources import idmap

                idmap.apply(fd, src.spec, pid=info.pid, pidfd=pidfd)
            mnt_id, unique = sc.mount_ids(fd)
            st = sc.statx(fd)
            spec = src.spec
            rows.append(store.add(Attachment(
                container_id=info.id, container=info.name, started_at=info.started_at,
                target=spec.target, type=spec.type, source=spec.source or src.display,
                host_path=src.host_path, options=spec.options(), mnt_id=mnt_id, mnt_unique=unique,
                extra=src.extra,
                dev=f"{st.dev[0]}:{st.dev[1]}")))
            old = live.get(spec.target)
            placements.append(Placement(fd=fd, target=spec.target, kind=src.kind, owner=owner,
                                        replace=Replace(old.target, old.mnt_id) if old else None))
        resp = run(Request(op="attach", pid=info.pid, pidfd=pidfd, placements=placements))
        if not resp["ok"]:
            i = resp["error"].get("index") or 0
            s = planned[min(i, len(planned) - 1)]
            raise _helper_error(resp, f"cannot attach {s.display} to {info.name}:{s.spec.target}")
        for row, res in zip(rows, resp["results"]):
            if res["target"] != row.target:
                store.update_target(row.id, res["target"])
                row.target = res["target"]
        _forget(store, [live[s.target] for s in specs if s.target in live], engine)
        return rows
    except BaseException:
        store.remove([r.id for r in rows if r.id is not None])
        sources.rollback(planned)
        raise
    finally:
        for fd in fds:
            os.close(fd)
        os.close(pidfd)


def detach(container: str, targets: list[str], *, all: bool = False, lazy: bool = False, engine=None,
           store: Store | None = None) -> list[Attachment]:
    """Detach dynvol mounts by target (or all of them). Never touches the engine's own mounts."""
    if not targets and not all:
        raise UsageError("name a target to detach, or use --all")
    if targets and all:
        raise UsageError("give targets or --all, not both")
    wanted = [_normalize_target(t) for t in targets]
    require_root("detach")
    engine = _engine(engine)
    store = store or Store()
    info = _running(engine, container, "detach from")
    live = reconcile(store, info, engine)
    by_target = {lv.attachment.target: lv for lv in live}
    if all:
        chosen = live
    else:
        chosen = []
        for t in wanted:
            if t not in by_target:
                raise NotFound(f"no dynvol mount at {info.name}:{t}",
                               hint=_not_ours_hint(info, t))
            chosen.append(by_target[t])
    if not chosen:
        return []
    done: list[Attachment] = []
    try:
        for lv in chosen:
            a = lv.attachment
            resp = run(Request(op="detach", pid=info.pid, lazy=lazy,
                               targets=[Target(a.target, a.mnt_id)]))
            if not resp["ok"]:
                what = f"cannot detach {info.name}:{a.target}"
                if resp["error"].get("kind") == "busy":
                    err = _busy(info, lv, what)
                    if err.holders or not _has_submounts(info, a.mnt_id):
                        raise err
                    # A recursive bind with submounts is "busy" to umount(2) even when nothing
                    # uses it: with no holders, detach the whole tree at once.
                    resp = run(Request(op="detach", pid=info.pid, lazy=True,
                                       targets=[Target(a.target, a.mnt_id)]))
                if not resp["ok"]:
                    raise _helper_error(resp, what)
            done.append(a)
    finally:
        _forget(store, done, engine)
    return done


def _not_ours_hint(info, target: str) -> str:
    try:
        points = {e.mountpoint for e in mountinfo.read(info.pid)}
    except OSError:
        points = set()
    if target in points:
        return "that mount belongs to the engine or the runtime; dynvol only detaches what it attached"
    return f"see `dynvol ls {info.name}`"


def _has_submounts(info, mnt_id: int) -> bool:
    try:
        return len(mountinfo.subtree_ids(mountinfo.read(info.pid), mnt_id)) > 1
    except OSError:
        return False


def _busy(info, lv: Live, what: str) -> Busy:
    try:
        entries = mountinfo.read(info.pid)
        ids = mountinfo.subtree_ids(entries, lv.attachment.mnt_id)
        holders = procs.holders(mountinfo.mount_ns_inode(info.pid), ids)
    except OSError:
        holders = []
    listing = "; ".join(f"{h['comm']} (pid {h['container_pid']} in the container, {h['pid']} on the host)"
                        f" holds {', '.join(h['uses'])}" for h in holders)
    return Busy(f"{what}: mount is busy" + (f": {listing}" if listing else ""), holders=holders,
                hint="stop those processes, or use --lazy to detach it anyway")
