"""What the helper does once inside the container's mount namespace. Kept simple on purpose.

Every path inside the container is resolved with openat2(RESOLVE_IN_ROOT |
RESOLVE_NO_MAGICLINKS) from the namespace root, and the mount is placed through
the resulting fd, so a container that swaps a path for a symlink cannot send
the mount anywhere but inside itself. Where the fd landed is checked before
anything is mounted: never on proc/sys-like filesystems, never under /proc,
/sys or /dev, never on the container's root itself.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat

from dynvol.errors import DynvolError, KernelError
from dynvol.helper.request import Placement, Request, Target
from dynvol.linux import consts as C
from dynvol.linux import syscalls as sc

IN_ROOT = C.RESOLVE_IN_ROOT | C.RESOLVE_NO_MAGICLINKS
FORBIDDEN_PREFIXES = ("/proc", "/sys", "/dev")


class TargetError(DynvolError):
    """The target inside the container is unusable (wrong type, forbidden place, moved)."""


class BusyError(DynvolError):
    pass


def forbidden_reason(path: str) -> str | None:
    """Why a container path may not be a mount target, or None. Lexical check on a normalized path."""
    if path == "/":
        return "the container's root cannot be replaced"
    for p in FORBIDDEN_PREFIXES:
        if path == p or path.startswith(p + "/"):
            return f"targets under {p} are refused: they belong to the kernel and the engine"
    return None


class Namespace:
    """Handles for work inside the container's mount namespace, opened right after setns."""

    def __init__(self):
        # /proc/self/fd of the *host* procfs, opened before setns: inside the container
        # /proc is the container's, where this process has no entry.
        self.fd_dir = os.open("/proc/self/fd", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self.root = -1
        self.own_pidfd = -1  # a pidfd serve() opened itself (the request had none)
        self.out_fds: list[int] = []  # fds handed back to the caller (see runner.reply)

    def enter(self, pidfd: int) -> None:
        sc.setns(pidfd, C.CLONE_NEWNS, step="enter the container's mount namespace")
        self.root = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)

    def close(self) -> None:
        """Close the handles (not out_fds, which belong to the answer)."""
        for fd in (self.fd_dir, self.root, self.own_pidfd):
            if fd >= 0:
                os.close(fd)
        self.fd_dir = self.root = self.own_pidfd = -1

    def where(self, fd: int) -> str:
        """The path of ``fd`` as the container sees it."""
        return os.readlink(str(fd), dir_fd=self.fd_dir)

    def resolve(self, path: str, *, step: str) -> int:
        return sc.openat2(self.root, path, resolve=IN_ROOT, step=step)

    def check_landing(self, fd: int, *, want: str, step: str, parent: bool = False) -> str:
        """Refuse a resolved target that is a pseudo filesystem, a forbidden place or the wrong type.

        With ``parent``, ``fd`` is a directory to create the target in, which may be the root.
        """
        fstype = C.PSEUDO_FS_MAGICS.get(sc.fstatfs_type(fd, step=step))
        where = self.where(fd)
        if fstype:
            raise TargetError(f"target resolves to {where} on {fstype}; refusing to mount there")
        why = forbidden_reason(where) if not (parent and where == "/") else None
        if why:
            raise TargetError(f"target resolves to {where}: {why}")
        mode = sc.statx(fd, step=step).mode
        if want == "dir" and not stat.S_ISDIR(mode):
            raise TargetError(f"target {where} is not a directory; the source is a directory")
        if want == "file" and stat.S_ISDIR(mode):
            raise TargetError(f"target {where} is a directory; cannot mount a file over a directory")
        return where


def _create(ns: Namespace, path: str, *, kind: str, owner: tuple[int, int], created: list) -> int:
    """Create a missing target (and parents) as Docker does, race-free; return an O_PATH fd on it."""
    parent, name = posixpath.split(path)
    try:
        pfd = ns.resolve(parent, step="resolve target parent")
    except KernelError as e:
        if e.errno != errno.ENOENT or parent == "/":
            raise
        pfd = _create(ns, parent, kind="dir", owner=owner, created=created)
    try:
        ns.check_landing(pfd, want="dir", step="check target parent", parent=True)
        if kind == "dir":
            os.mkdir(name, 0o755, dir_fd=pfd)
        else:
            os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644, dir_fd=pfd))
        os.chown(name, *owner, dir_fd=pfd, follow_symlinks=False)
        created.append((os.dup(pfd), name, kind))
        # Open exactly what was just made: a symlink swapped in meanwhile fails here (ELOOP).
        return sc.openat2(pfd, name, resolve=C.RESOLVE_BENEATH | C.RESOLVE_NO_SYMLINKS,
                          step="open created target")
    except OSError as e:
        if e.errno == errno.EROFS:
            raise _read_only_target(ns, pfd, path) from e
        raise KernelError("mkdir" if kind == "dir" else "open", e.errno, step="create target",
                          path=path) from e
    finally:
        os.close(pfd)


def _read_only_target(ns: Namespace, pfd: int, path: str) -> TargetError:
    """A missing target on a read-only filesystem (``docker run --read-only``): say what exists instead."""
    where = ns.where(pfd)
    dirs = []
    try:
        dfd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=pfd)
        try:
            for name in sorted(os.listdir(dfd)):
                full = posixpath.join(where, name)
                if not forbidden_reason(full) and stat.S_ISDIR(os.stat(name, dir_fd=dfd, follow_symlinks=False).st_mode):
                    dirs.append(full)
        finally:
            os.close(dfd)
    except OSError:
        pass
    shown = ", ".join(dirs[:8]) + (", ..." if len(dirs) > 8 else "")
    return TargetError(
        f"cannot create missing {path}: {where} is on a read-only filesystem "
        f"(a --read-only container?)" + (f"; existing directories there: {shown}" if dirs else ""),
        hint="attach over an existing directory (the mount covers it), or create the directory in "
             "the image, or give the container a writable place (e.g. --tmpfs /mnt) to attach under")


def _undo_created(created: list) -> None:
    for pfd, name, kind in reversed(created):
        try:
            if kind == "dir":
                os.rmdir(name, dir_fd=pfd)
            else:
                os.unlink(name, dir_fd=pfd)
        except OSError:
            pass
        os.close(pfd)


def _umount_at(ns: Namespace, target: str, mnt_id: int, *, lazy: bool, step: str) -> None:
    """Unmount the mount ``mnt_id`` sitting at container path ``target``, and nothing else.

    Works from the parent directory (held as cwd) and the final name with
    UMOUNT_NOFOLLOW: no fd pins the mount (a non-lazy umount would see it busy),
    and a symlink swapped in cannot redirect the umount.
    """
    parent, name = posixpath.split(target)
    pfd = ns.resolve(parent, step=step)
    try:
        os.fchdir(pfd)
        st = sc.statx(C.AT_FDCWD, name, mask=C.STATX_MNT_ID, follow=False, step=step)
        if st.mnt_id != mnt_id or not st.mount_root:
            raise TargetError(f"{target} is no longer the mount dynvol placed (mount id {mnt_id})")
        try:
            sc.umount2(name, C.UMOUNT_NOFOLLOW | (C.MNT_DETACH if lazy else 0), step=step)
        except KernelError as e:
            if e.errno == errno.EBUSY:
                raise BusyError(f"{target} is busy") from e
            raise
    finally:
        os.fchdir(ns.root)
        os.close(pfd)


def attach(ns: Namespace, req: Request) -> list[dict]:
    done: list[tuple[Placement, str, bool]] = []
    created: list = []
    try:
        for i, p in enumerate(req.placements):
            before = len(created)
            try:
                try:
                    tfd = ns.resolve(p.target, step="resolve target")
                except KernelError as e:
                    if e.errno != errno.ENOENT or not p.create:
                        raise
                    tfd = _create(ns, p.target, kind=p.kind, owner=p.owner, created=created)
                try:
                    where = ns.check_landing(tfd, want=p.kind, step="check target")
                    if p.replace:
                        os.close(tfd)
                        _umount_at(ns, p.replace.target, p.replace.mnt_id, lazy=True, step="replace")
                        tfd = ns.resolve(p.target, step="resolve target")
                        where = ns.check_landing(tfd, want=p.kind, step="check target")
                    sc.move_mount(p.fd, tfd, step="move_mount into the container")
                finally:
                    os.close(tfd)
                done.append((p, where, len(created) > before))
            except DynvolError as e:
                e.index = i  # type: ignore[attr-defined]
                raise
    except BaseException:
        for p, where, _ in reversed(done):
            mnt_id = sc.statx(p.fd, mask=C.STATX_MNT_ID).mnt_id
            try:
                _umount_at(ns, where, mnt_id, lazy=True, step="roll back")
            except DynvolError:
                pass
        _undo_created(created)
        raise
    for pfd, _, _ in created:
        os.close(pfd)
    return [{"target": where, "created": made} for _, where, made in done]


def detach(ns: Namespace, req: Request) -> list[dict]:
    out = []
    for i, t in enumerate(req.targets):
        try:
            _umount_at(ns, t.target, t.mnt_id, lazy=req.lazy, step="umount")
        except DynvolError as e:
            e.index = i  # type: ignore[attr-defined]
            raise
        out.append({"target": t.target})
    return out


def probe(ns: Namespace, req: Request) -> list[dict]:
    out = []
    for path in req.probe:
        try:
            fd = ns.resolve(path, step="resolve")
        except KernelError as e:
            out.append({"path": path, "errno": e.errno})
            continue
        try:
            st = sc.statx(fd, mask=C.STATX_BASIC_STATS | C.STATX_MNT_ID)
            out.append({"path": path, "where": ns.where(fd), "mode": st.mode, "mnt_id": st.mnt_id,
                        "mount_root": st.mount_root})
        finally:
            os.close(fd)
    return out


def clone(ns: Namespace, req: Request) -> list[dict]:
    """Detached recursive clones of the mounts at ``req.sources``, for another container.

    Each path must be a mount point here (the engine's volume or bind): if the
    container has unmounted it, cloning the directory underneath would hand out
    a piece of its root filesystem instead.
    """
    out = []
    for i, path in enumerate(req.sources):
        try:
            fd = ns.resolve(path, step="resolve source")
            try:
                fstype = C.PSEUDO_FS_MAGICS.get(sc.fstatfs_type(fd, step="check source"))
                where = ns.where(fd)
                if fstype:
                    raise TargetError(f"source {where} is on {fstype}; refusing to clone it")
                st = sc.statx(fd, step="check source")
                if not st.mount_root:
                    raise TargetError(f"nothing is mounted at {where} any more")
                tree = sc.open_tree("", dirfd=fd, recursive=True, step="clone the source mount")
            finally:
                os.close(fd)
        except DynvolError as e:
            e.index = i  # type: ignore[attr-defined]
            raise
        ns.out_fds.append(tree)
        out.append({"path": where, "kind": "dir" if stat.S_ISDIR(st.mode) else "file",
                    "fd": len(ns.out_fds) - 1})
    return out


OPS = {"attach": attach, "detach": detach, "probe": probe, "clone": clone}


def error_to_dict(e: BaseException) -> dict:
    d = {"message": str(e), "index": getattr(e, "index", None)}
    if isinstance(e, KernelError):
        d.update(kind="kernel", **e.to_dict())
    elif isinstance(e, BusyError):
        d["kind"] = "busy"
    elif isinstance(e, TargetError):
        d["kind"] = "target"
        d["hint"] = e.hint
    else:
        d["kind"] = "internal"
        d["message"] = f"{type(e).__name__}: {e}"
    return d


def serve(req: Request) -> dict:
    """Run one request in this (single-threaded) process. Never raises."""
    ns = None
    try:
        ns = Namespace()
        if req.pidfd is None:
            req.pidfd = ns.own_pidfd = sc.pidfd_open(req.pid, step="open the container's init process")
        ns.enter(req.pidfd)
        return {"ok": True, "results": OPS[req.op](ns, req), "fds": ns.out_fds}
    except BaseException as e:  # noqa: BLE001 - errors travel back as data
        for fd in ns.out_fds if ns else ():
            os.close(fd)
        return {"ok": False, "error": error_to_dict(e)}
    finally:
        if ns is not None:
            ns.close()
