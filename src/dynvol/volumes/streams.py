"""GNU tar at both ends: a reader turns a volume into a tar stream, a sink turns one back.

A sink never writes into the volume's live tree. It extracts into a staging
directory inside the volume (same filesystem, so the swap is renames only),
and only :meth:`Sink.commit` - called after the stream has been verified -
moves the old entries aside, moves the new ones in and copies the root's own
owner, mode, xattrs, ACLs and mtime. :meth:`Sink.abort` removes the staging
directory and leaves the volume as it was.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import signal
import stat
import subprocess
import tempfile
from contextlib import contextmanager

from dynvol.errors import DynvolError
from dynvol.volumes import archive
from dynvol.volumes.access import HELPER_ROOT, Access, token, tool

CHUNK = 1 << 20
STAGING_PREFIX = ".dynvol-restore-"
OLD_PREFIX = ".dynvol-old-"
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def _big_pipe(fd: int) -> None:
    try:
        fcntl.fcntl(fd, F_SETPIPE_SZ, CHUNK)
    except OSError:
        pass


def _tar_error(what: str, code: int, err: str) -> DynvolError:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    detail = "; ".join(lines[-3:]) if lines else f"exit status {code}"
    return DynvolError(f"{what}: tar failed: {detail}")


# ---------------------------------------------------------------- readers


class Reader:
    """Yields the tar stream of one volume, without its end-of-archive blocks."""

    def __init__(self, access: Access, member_root: str):
        self.access = access
        self.member_root = member_root
        self.scanner = archive.TarScanner(names=False, check=False)  # GNU tar is writing it now
        self.bytes = 0
        self.warnings: list[str] = []

    def _raw(self):
        raise NotImplementedError

    def chunks(self):
        sc = self.scanner
        base = 0  # stream offset of the first byte not yet passed on
        pending = b""  # bytes from `base` on: a block not yet complete
        for chunk in self._raw():
            if sc.end is not None:
                continue  # drain tar's record padding
            sc.feed(chunk)
            buf = pending + chunk if pending else chunk
            k = sc.settled - base
            if k == len(buf):
                pending = b""
            else:
                pending = bytes(buf[k:])
                buf = buf[:k]
            if k > 0:
                base += k
                self.bytes += k
                yield buf
        self.finish()
        if sc.end is None:
            raise DynvolError(f"read volume {self.access.volume}: tar's output ended early")

    def pump(self, write, bar) -> None:
        """Pass the whole stream to ``write``, advancing ``bar``; always closes the reader."""
        try:
            for piece in self.chunks():
                write(piece)
                bar.advance(len(piece))
        finally:
            self.close()

    def finish(self) -> None:
        pass

    def close(self) -> None:
        pass


class LocalReader(Reader):
    def __init__(self, access: Access, member_root: str):
        super().__init__(access, member_root)
        self._err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            ["tar", *archive.tar_create_args(member_root), "-C", access.path, "."],
            stdout=subprocess.PIPE, stderr=self._err, stdin=subprocess.DEVNULL, bufsize=0)
        _big_pipe(self.proc.stdout.fileno())

    def _raw(self):
        fd = self.proc.stdout.fileno()
        while True:
            archive.ready(fd)
            b = os.read(fd, CHUNK)
            if not b:
                return
            yield b

    def finish(self) -> None:
        code = self.proc.wait()
        self._err.seek(0)
        err = self._err.read().decode(errors="replace")
        if code == 1:  # "some files differ": changed while read (live backups)
            self.warnings += [ln for ln in err.splitlines() if ln.strip()]
        elif code != 0:
            raise _tar_error(f"read volume {self.access.volume}", code, err)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self._err.close()


class RemoteReader(Reader):
    def __init__(self, access: Access, member_root: str):
        super().__init__(access, member_root)
        self.ex = access.engine.exec_stream(
            access.helper, [*tool("tar"), *archive.tar_create_args(member_root), "-C", HELPER_ROOT, "."])

    def _raw(self):
        yield from self.ex.stdout_chunks()

    def finish(self) -> None:
        code = self.ex.finish()
        err = bytes(self.ex.stderr).decode(errors="replace")
        if code == 1:
            self.warnings += [ln for ln in err.splitlines() if ln.strip()]
        elif code != 0:
            raise _tar_error(f"read volume {self.access.volume} on {self.access.engine.host}", code, err)

    def close(self) -> None:
        self.ex.close()


def reader(access: Access, member_root: str) -> Reader:
    return RemoteReader(access, member_root) if access.remote else LocalReader(access, member_root)


# ---------------------------------------------------------------- sinks


@contextmanager
def signals_held():
    """Hold SIGINT/SIGTERM/SIGHUP while a short critical step runs; they arrive right after."""
    sigs = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def leftovers(names) -> list:
    return [n for n in names if str(n).startswith((STAGING_PREFIX, OLD_PREFIX))]


class Sink:
    """Receives one volume's tar stream (members under ``member_root``) and swaps it in on commit."""

    def __init__(self, access: Access, member_root: str):
        self.access = access
        self.member_root = member_root
        self.token = token()
        self.staging = f"{STAGING_PREFIX}{self.token}"
        self.bytes = 0

    def is_empty(self) -> bool:
        raise NotImplementedError

    def write(self, b) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """End the stream and wait for tar; raises if extraction failed."""
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError


class LocalSink(Sink):
    def __init__(self, access: Access, member_root: str):
        super().__init__(access, member_root)
        self.root = access.path
        self.proc = None
        self._err = None

    def is_empty(self) -> bool:
        names = os.listdir(self.root)
        for n in leftovers(names):  # from a restore that was killed: never user data
            shutil.rmtree(os.path.join(self.root, n), ignore_errors=True)
        return not [n for n in names if n not in leftovers(names)]

    def start(self) -> None:
        st = os.stat(self.root)
        self._root_times = (st.st_atime_ns, st.st_mtime_ns)  # abort() puts them back
        path = os.path.join(self.root, self.staging)
        os.mkdir(path, 0o700)
        self._err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(["tar", *archive.tar_extract_args(), "-C", path],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._err,
                                     bufsize=0)
        _big_pipe(self.proc.stdin.fileno())
        self._fd = self.proc.stdin.fileno()

    def write(self, b) -> None:
        mv = memoryview(b)
        try:
            while mv:
                archive.ready(self._fd, write=True)
                n = os.write(self._fd, mv)
                mv = mv[n:]
        except BrokenPipeError:
            self.finish()  # tar died: report its error, not ours
            raise DynvolError(f"restore {self.access.volume}: tar stopped reading") from None
        self.bytes += len(b)

    def finish(self) -> None:
        try:
            if not self.proc.stdin.closed:
                try:
                    os.write(self._fd, archive.EOT)
                except BrokenPipeError:
                    pass
                self.proc.stdin.close()
        except OSError:
            pass
        code = self.proc.wait()
        if code != 0:
            self._err.seek(0)
            raise _tar_error(f"restore {self.access.volume}", code, self._err.read().decode(errors="replace"))
        new = os.path.join(self.root, self.staging, self.member_root)
        if not os.path.isdir(new):
            raise DynvolError(f"restore {self.access.volume}: the archive holds no {self.member_root}")

    def commit(self) -> None:
        root = self.root
        new = os.path.join(root, self.staging, self.member_root)
        old = os.path.join(root, f"{OLD_PREFIX}{self.token}")
        want = root_attrs(new)  # before the moves below change its mtime
        with signals_held():
            os.mkdir(old, 0o700)
            for n in os.listdir(root):
                if n not in (self.staging, os.path.basename(old)):
                    os.rename(os.path.join(root, n), os.path.join(old, n))
            for n in os.listdir(new):
                os.rename(os.path.join(new, n), os.path.join(root, n))
            apply_root_attrs(root, want)
        shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(os.path.join(root, self.staging), ignore_errors=True)
        os.utime(root, ns=(want[0].st_atime_ns, want[0].st_mtime_ns))  # last: the cleanup changed it

    def abort(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        if os.path.lexists(os.path.join(self.root, self.staging)):
            shutil.rmtree(os.path.join(self.root, self.staging), ignore_errors=True)
            if getattr(self, "_root_times", None):
                os.utime(self.root, ns=self._root_times)


def root_attrs(path: str) -> tuple[os.stat_result, dict[str, bytes]]:
    """The stat and xattrs (so also the POSIX ACLs) of a volume root."""
    return os.lstat(path), {n: os.getxattr(path, n) for n in os.listxattr(path)}


def apply_root_attrs(dst: str, attrs: tuple[os.stat_result, dict[str, bytes]]) -> None:
    """Give ``dst`` that owner, mode and exactly those xattrs; the caller sets the times last."""
    st, xattrs = attrs
    os.chown(dst, st.st_uid, st.st_gid)
    for name in os.listxattr(dst):
        if name not in xattrs:
            try:
                os.removexattr(dst, name)
            except OSError as e:
                if e.errno not in (errno.ENODATA, errno.EOPNOTSUPP, errno.EPERM):
                    raise
    for name, value in xattrs.items():
        os.setxattr(dst, name, value)
    os.chmod(dst, stat.S_IMODE(st.st_mode))  # after chown, which clears setuid/setgid


class RemoteSink(Sink):
    """A sink on a remote engine: the helper's injected tar extracts, its sh swaps."""

    def __init__(self, access: Access, member_root: str):
        super().__init__(access, member_root)
        self.ex = None

    def is_empty(self) -> bool:
        code, out = self.access.shell(
            f'cd {HELPER_ROOT} && for f in * .[!.]* ..?*; do [ -e "$f" ] || [ -L "$f" ] || continue; '
            f'case "$f" in {STAGING_PREFIX}*|{OLD_PREFIX}*) run rm -rf -- "$f";; *) echo "$f";; esac; done')
        if code != 0:
            raise DynvolError(f"inspect volume {self.access.volume} on {self.access.engine.host}: {out.strip()}")
        return not out.strip()

    def start(self) -> None:
        path = f"{HELPER_ROOT}/{self.staging}"
        code, out = self.access.run("mkdir", "-m", "700", path)
        if code != 0:
            raise DynvolError(f"restore {self.access.volume}: mkdir {path}: {out.strip()}")
        self.ex = self.access.engine.exec_stream(self.access.helper,
                                                 [*tool("tar"), *archive.tar_extract_args(), "-C", path],
                                                 stdin=True)

    def write(self, b) -> None:
        try:
            self.ex.write(b)
        except OSError as e:
            raise DynvolError(f"restore {self.access.volume} on {self.access.engine.host}: "
                              f"the helper stopped reading ({e.strerror or e})") from e
        self.bytes += len(b)

    def finish(self) -> None:
        try:
            self.ex.write(archive.EOT)
        except OSError:
            pass
        self.ex.close_stdin()
        code = self.ex.finish()
        if code != 0:
            raise _tar_error(f"restore {self.access.volume} on {self.access.engine.host}", code,
                             bytes(self.ex.stderr).decode(errors="replace"))

    def commit(self) -> None:
        s, o, new = self.staging, f"{OLD_PREFIX}{self.token}", f"{self.staging}/{self.member_root}"
        tar = "run tar"
        fid = " ".join(f"'{a}'" for a in archive.TAR_FIDELITY)
        script = f"""set -e
cd {HELPER_ROOT}
{tar} -C '{new}' --no-recursion --format=posix {fid} -cf /tmp/.dynvol-root.tar .
run mkdir '{o}'
for f in * .[!.]* ..?*; do
  [ -e "$f" ] || [ -L "$f" ] || continue
  case "$f" in '{s}'|'{o}') continue;; esac
  run mv -- "$f" '{o}/'
done
for f in '{new}'/* '{new}'/.[!.]* '{new}'/..?*; do
  [ -e "$f" ] || [ -L "$f" ] || continue
  run mv -- "$f" ./
done
run rm -rf -- '{o}' '{s}'
{tar} -C {HELPER_ROOT} -x {fid} --preserve-permissions --same-owner -f /tmp/.dynvol-root.tar
"""
        code, out = self.access.shell(script)
        if code != 0:
            raise DynvolError(f"restore {self.access.volume} on {self.access.engine.host}: swap failed: "
                              f"{out.strip().splitlines()[-1] if out.strip() else code}")

    def abort(self) -> None:
        if self.ex is not None:
            self.ex.close()
        try:
            self.access.run("rm", "-rf", "--", f"{HELPER_ROOT}/{self.staging}")
        except DynvolError:
            pass


def sink(access: Access, member_root: str) -> Sink:
    return RemoteSink(access, member_root) if access.remote else LocalSink(access, member_root)
