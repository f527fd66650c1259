"""``dynvol backup``: volumes -> one verified, compressed archive, streamed with no staging copy.

Order of work, so that bad input changes nothing: check the options, the
source and the output path; then quiesce the writers (if asked); then stream
GNU tar's output through the framer, hasher and compressor into a file that
has a temporary name (``.FILE.dynvol-partial-PID``) or into stdout; rename it
to FILE only once the trailer is written and synced. A backup that is
interrupted, even by kill -9, never leaves a file at the output path (kill -9
can leave the partial file, which has no trailer and so never verifies).
"""

from __future__ import annotations

import os
import re
import sys
import time

from dynvol.errors import DynvolError, NotFound, PermissionDenied, UsageError
from dynvol.volumes import archive, progress
from dynvol.volumes.access import open_volume
from dynvol.volumes.quiesce import MODES, quiesced, volume_users
from dynvol.volumes.streams import reader

VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


def check_volume_name(name: str) -> str:
    if not VOLUME_NAME.match(name or ""):
        raise UsageError(f"invalid volume name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return name


def resolve_source(engine, source: str) -> list:
    """The volumes behind SOURCE: a volume name, or ``container:NAME`` for all of that container's volumes."""
    if source.startswith("container:"):
        ref = source[len("container:"):]
        if not ref:
            raise UsageError("container: needs a container name, e.g. container:dbdata")
        info = engine.container(ref)
        names = [m.name for m in info.mounts if m.type == "volume" and m.name]
        from dynvol.volumes.quiesce import _attachments

        names += [a.source for a in _attachments(engine) if a.container_id == info.id and a.type == "volume"]
        names = list(dict.fromkeys(names))
        if not names:
            raise UsageError(f"container {info.name} uses no volumes", hint="see `docker inspect` Mounts")
        return [engine.volume(n) for n in names]
    return [engine.volume(check_volume_name(source))]


class Output:
    """Where the archive goes: stdout, or a file that appears under its name only when complete."""

    def __init__(self, path: str):
        self.path = path
        self.fd: int | None = None
        self.tmp: str | None = None
        self.bytes = 0
        if path == "-":
            if sys.stdout.isatty():
                raise UsageError("refusing to write an archive to a terminal", hint="redirect stdout, or use -o FILE")
            return
        d = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(d):
            raise NotFound(f"cannot write {path}: directory {d} does not exist")
        if os.path.isdir(path):
            raise UsageError(f"cannot write {path}: it is a directory", hint="give a file name, e.g. -o backup.tar.zst")
        if not os.access(d, os.W_OK):
            raise PermissionDenied(f"cannot write {path}: directory {d} is not writable")
        self.dir = d

    def open(self) -> None:
        if self.path == "-":
            self.fd = sys.stdout.fileno()
            return
        # A name no one mistakes for the archive; renamed to FILE only when complete.
        self.tmp = os.path.join(self.dir, f".{os.path.basename(self.path)}.dynvol-partial-{os.getpid()}")
        self.fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)

    def write(self, b) -> None:
        mv = memoryview(b)
        while mv:
            archive.ready(self.fd, write=True)
            n = os.write(self.fd, mv)
            mv = mv[n:]
        self.bytes += len(b)

    def commit(self) -> None:
        if self.path == "-":
            return
        self.bytes = os.fstat(self.fd).st_size  # also what the zstd process wrote
        os.fsync(self.fd)
        os.rename(self.tmp, self.path)
        self.tmp = None
        dfd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        os.close(self.fd)
        self.fd = None

    def discard(self) -> None:
        if self.path == "-":
            return
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.tmp:
            try:
                os.unlink(self.tmp)
            except FileNotFoundError:
                pass


def _stderr(msg: str) -> None:
    print(f"dynvol: warning: {msg}", file=sys.stderr)


def backup(source: str, output: str, *, compression: str = "zstd", level: int | None = None,
           mode: str = "live", stop_timeout: int = 10, helper_image: str | None = None, engine=None,
           show_progress: bool = False, warn=_stderr) -> dict:
    if mode not in MODES:
        raise UsageError(f"unknown consistency mode {mode!r}")
    level = archive.check_compression(compression, level)
    if stop_timeout < 0:
        raise UsageError("--stop-timeout must be 0 or more seconds")
    out = Output(output)
    if engine is None:
        from dynvol.engine import get_engine

        engine = get_engine()
    vols = resolve_source(engine, source)
    users = [u for v in vols for u in volume_users(engine, v.name)]
    tar_v = archive.tar_version()
    running = sorted({u.name for u in users if u.status == "running"})
    if mode == "live" and running:
        warn(f"reading {', '.join(v.name for v in vols)} live while {', '.join(running)} "
             f"{'is' if len(running) == 1 else 'are'} running and may write to it; "
             "use --pause or --stop for a consistent copy")
    manifest = archive.new_manifest([{"name": v.name, "driver": v.driver, "options": v.options,
                                      "labels": v.labels} for v in vols], source=source,
                                    compression=compression, level=level, consistency=mode, tar_version=tar_v)
    t0 = time.monotonic()
    warnings: list[str] = []
    writer = None
    out.open()
    try:
        with quiesced(engine, users, mode, stop_timeout=stop_timeout, warn=warn) as touched, \
                progress.bar(f"backup {source}", None, show=show_progress) as bar:
            writer = archive.ArchiveWriter(out.write, manifest, compression=compression, level=level,
                                           out_fd=out.fd)
            total = 0
            for v in vols:
                with open_volume(engine, v, write=False, image=helper_image) as acc:
                    if show_progress and acc.path:
                        total += progress.tree_bytes(acc.path)
                        bar.total(total)
                    r = reader(acc, archive.volume_member_root(v.name))
                    r.pump(writer.data, bar)
                    warnings += r.warnings
                    writer.end_volume(v.name, r.bytes, r.scanner.entries)
            trailer = writer.close()
            out.commit()
    except BaseException:
        if writer is not None:
            writer.abort()
        out.discard()
        raise
    if mode == "live" and warnings:
        warn(f"{len(warnings)} file(s) changed while they were read: {warnings[0]}")
    return {"output": output, "source": source, "volumes": [v.name for v in vols], "compression": compression,
            "level": level, "consistency": mode, "containers": [u.name for u in touched],
            "data_bytes": trailer["data_bytes"], "archive_bytes": out.bytes, "sha256": trailer["sha256"],
            "seconds": round(time.monotonic() - t0, 3), "warnings": warnings}

