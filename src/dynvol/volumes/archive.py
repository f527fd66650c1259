"""The dynvol volume archive: one compressed POSIX tar stream, written and read without seeking.

Layout of the (decompressed) tar stream::

    dynvol-manifest.json          first member: what is inside (no hash: not known yet)
    volumes/NAME                  the volume root (owner, mode, mtime, xattrs, ACLs)
    volumes/NAME/...              every entry, exactly as GNU tar --format=posix wrote it
    ...                           (further volumes for container:NAME backups)
    dynvol-trailer.json           last member: sha256 and byte counts of everything in between
    two zero blocks               end of archive

The data part is GNU tar's own output (minus its end-of-archive blocks), so
``zstd -d < A | tar -x --xattrs --acls`` still restores everything by hand.
The trailer's sha256 covers the exact bytes between the manifest and the
trailer, its manifest_sha256 the manifest member; a missing trailer means the
archive is truncated, a wrong one that it is corrupt.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import time
import zlib
from dataclasses import dataclass

from dynvol import __version__
from dynvol.errors import DynvolError, UsageError

MANIFEST_NAME = "dynvol-manifest.json"
TRAILER_NAME = "dynvol-trailer.json"
FORMAT_NAME = "dynvol-volume-archive"
FORMAT_VERSION = 1
BLOCK = 512
EOT = bytes(2 * BLOCK)
PREFIX = "volumes"
COMPRESSIONS = ("zstd", "gzip", "none")
# zstd 1, not 3: on the 2-CPU bench box it is ~1.4x faster than 3 (so are --pause/--stop
# windows) and still smaller than gzip -6; see README "Data volumes" for the numbers.
DEFAULT_LEVEL = {"zstd": 1, "gzip": 6, "none": 0}
LEVEL_RANGE = {"zstd": (1, 19), "gzip": (1, 9), "none": (0, 0)}
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_MAGIC = b"\x1f\x8b"

# What GNU tar must keep: xattrs (all namespaces, so security.capability too),
# POSIX ACLs, holes, numeric owners; nanosecond mtimes come with --format=posix.
TAR_FIDELITY = ["--xattrs", "--xattrs-include=*", "--acls", "--numeric-owner"]


def ready(fd: int, *, write: bool = False) -> None:
    """Wait until ``fd`` can be read (or written) without blocking.

    It wakes up every 0.2 s: a signal that arrives just before a blocking read
    or write starts does not interrupt that syscall, and Ctrl-C or SIGTERM would
    then wait for the peer. Waking up lets the Python handler run.
    """
    import select

    p = select.poll()
    p.register(fd, select.POLLOUT if write else select.POLLIN)
    while not p.poll(200):
        pass


class ArchiveCorrupt(DynvolError):
    """The archive is truncated, damaged or not a dynvol archive (exit 1)."""


def tar_create_args(member_root: str | None) -> list[str]:
    """GNU tar arguments that write the tree of ``-C DIR .`` to stdout.

    ``member_root`` renames ``.`` to that path (symlink targets are left alone).
    """
    args = ["--create", "--file=-", "--format=posix", "--sparse", *TAR_FIDELITY,
            "--pax-option=delete=atime,delete=ctime", "--blocking-factor=64",
            "--warning=no-file-ignored", "--warning=no-file-changed"]
    if member_root:
        # r: member names, h: hard link targets; never symlink targets (flag S).
        args.append(f"--transform=flags=rhS;s,^\\.\\(/\\|$\\),{member_root}\\1,")
    return args


def tar_extract_args() -> list[str]:
    return ["--extract", "--file=-", *TAR_FIDELITY, "--preserve-permissions", "--same-owner",
            "--delay-directory-restore", "--no-overwrite-dir"]


def volume_member_root(name: str) -> str:
    return f"{PREFIX}/{name}"


# ---------------------------------------------------------------- manifest and trailer


def new_manifest(volumes: list[dict], *, source: str, compression: str, level: int, consistency: str,
                 tar_version: str) -> dict:
    return {
        "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "dynvol_version": __version__,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "source": source,
        "compression": compression, "level": level, "consistency": consistency,
        "hash": "sha256", "tar": tar_version,
        "volumes": [{"name": v["name"], "driver": v["driver"], "options": v.get("options") or {},
                     "labels": v.get("labels") or {}, "path": volume_member_root(v["name"])}
                    for v in volumes],
    }


def check_manifest(m: object) -> dict:
    if not isinstance(m, dict) or m.get("format") != FORMAT_NAME:
        raise ArchiveCorrupt("not a dynvol archive: the manifest is missing or foreign")
    if m.get("format_version") != FORMAT_VERSION:
        raise ArchiveCorrupt(f"archive format version {m.get('format_version')} is not supported "
                             f"(this dynvol reads version {FORMAT_VERSION})", hint="upgrade dynvol")
    vols = m.get("volumes")
    if not isinstance(vols, list) or not vols or not all(isinstance(v, dict) and v.get("name") for v in vols):
        raise ArchiveCorrupt("manifest lists no volumes")
    return m


def member(name: str, data: bytes) -> bytes:
    """A small regular-file tar member (ustar header, data, padding)."""
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mode = 0o644
    ti.mtime = int(time.time())
    return ti.tobuf(format=tarfile.USTAR_FORMAT) + data + bytes(-len(data) % BLOCK)


# ---------------------------------------------------------------- streaming tar scanner


@dataclass
class Entry:
    start: int  # offset of the entry's first header (its pax header, if any)
    name: bytes
    type: bytes
    size: int  # bytes of data that follow the header


def _number(field: bytes) -> int:
    if field[:1] in (b"\x80", b"\xff"):  # base-256
        n = int.from_bytes(field[1:], "big")
        return -n if field[0] == 0xFF else n
    field = field.split(b"\0", 1)[0].strip()
    return int(field, 8) if field else 0


def _checksum_ok(block: bytes) -> bool:
    try:
        want = _number(block[148:156])
    except ValueError:
        return False
    return want == sum(block) - sum(block[148:156]) + 256


def _pax_records(data: bytes) -> dict[bytes, bytes]:
    out, i = {}, 0
    while i < len(data):
        sp = data.find(b" ", i)
        if sp < 0:
            break
        try:
            n = int(data[i:sp])
        except ValueError as e:
            raise ArchiveCorrupt("damaged pax header in the tar stream") from e
        if n <= 0:
            break
        rec = data[sp + 1:i + n - 1]
        k, _, v = rec.partition(b"=")
        out[k] = v
        i += n
    return out


# Types that carry no data even when the size field is set (tarfile does the same).
_NO_DATA = frozenset(b"123456")


_ZERO_BLOCK = bytes(BLOCK)


class TarScanner:
    """Follows entry boundaries of a tar stream fed in chunks of any size.

    It reads headers only and skips data by count, so it costs little per byte.
    ``end`` becomes the offset of the end-of-archive blocks once seen; bytes
    before ``settled`` can be passed on (they are not part of a header whose
    entry is still unknown). ``names=False`` and ``check=False`` skip name
    decoding and header checksums, for streams GNU tar is writing right now.
    """

    def __init__(self, base: int = 0, *, names: bool = True, check: bool = True):
        self.pos = base
        self.end: int | None = None
        self.entries = 0
        self._names = names
        self._check = check
        self._skip = 0
        self._hdr = bytearray()
        self._pax_need = 0
        self._pax = bytearray()
        self._pax_fields: dict[bytes, bytes] = {}
        self._entry_start: int | None = None

    @property
    def settled(self) -> int:
        if self.end is not None:
            return self.end
        if self._entry_start is not None:
            return self._entry_start
        return self.pos - len(self._hdr)

    def feed(self, data) -> list[Entry]:
        mv = memoryview(data)
        n = len(mv)
        i = 0
        found: list[Entry] = []
        while i < n and self.end is None:
            if self._pax_need:
                k = min(self._pax_need, n - i)
                self._pax += mv[i:i + k]
                self._pax_need -= k
                i += k
                if not self._pax_need:
                    pax = bytes(self._pax)
                    self._pax.clear()
                    if self._names or b" size=" in pax:
                        self._pax_fields.update(_pax_records(pax))
                continue
            if self._skip:
                k = min(self._skip, n - i)
                self._skip -= k
                i += k
                continue
            if self._hdr or n - i < BLOCK:  # a header split across chunks
                k = min(BLOCK - len(self._hdr), n - i)
                self._hdr += mv[i:i + k]
                i += k
                if len(self._hdr) < BLOCK:
                    break
                block = bytes(self._hdr)
                self._hdr.clear()
            else:
                block = bytes(mv[i:i + BLOCK])
                i += BLOCK
            start = self.pos + i - BLOCK
            if block[0] == 0 and block == _ZERO_BLOCK:
                self.end = start
                break
            if self._check and not _checksum_ok(block):
                raise ArchiveCorrupt(f"damaged tar header at byte {start} of the tar stream")
            if self._entry_start is None:
                self._entry_start = start
            typ = block[156]
            try:
                size = _number(block[124:136])
            except ValueError as e:
                raise ArchiveCorrupt(f"damaged tar header at byte {start} of the tar stream") from e
            padded = size + (-size % BLOCK)
            if typ == 0x78:  # 'x': pax header for the next entry
                self._pax_need = size
                self._skip = padded - size
                continue
            if typ in (0x67, 0x4C, 0x4B):  # 'g' global pax, GNU 'L'/'K' long names: not used here
                self._skip = padded
                continue
            fields = self._pax_fields
            if b"size" in fields:
                size = int(fields[b"size"])
                padded = size + (-size % BLOCK)
            name = b""
            if self._names:
                # Sparse files (PAX 1.0) carry their real name in GNU.sparse.name.
                name = fields.get(b"GNU.sparse.name") or fields.get(b"path")
                if name is None:
                    name = block[0:100].split(b"\0", 1)[0]
                    if block[257:263] == b"ustar\x00" and block[345]:
                        name = block[345:500].split(b"\0", 1)[0] + b"/" + name
                found.append(Entry(self._entry_start, name, bytes((typ,)), size))
            if typ in _NO_DATA:
                padded = 0
            self.entries += 1
            self._entry_start = None
            if fields:
                self._pax_fields = {}
            self._skip = padded
        self.pos += i if self.end is not None else n
        return found


# ---------------------------------------------------------------- compression


def check_compression(kind: str, level: int | None) -> int:
    if kind not in COMPRESSIONS:
        raise UsageError(f"unknown compression {kind!r}", hint="use zstd, gzip or none")
    if level is None:
        return DEFAULT_LEVEL[kind]
    lo, hi = LEVEL_RANGE[kind]
    if not lo <= level <= hi:
        raise UsageError(f"--level {level} is out of range for {kind} ({lo}..{hi})")
    return level


def zstd_threads() -> int:
    env = os.environ.get("DYNVOL_ZSTD_THREADS")
    if env:
        return int(env)
    n = len(os.sched_getaffinity(0))
    return n if n > 1 else 0


class _Identity:
    def compress(self, b):
        return b

    def flush(self):
        return b""


class ZstdProcess:
    """The zstd binary (-T0) compressing straight into ``out_fd`` (DYNVOL_ZSTD_BINARY=1).

    On the bench box it was no faster than the zstandard module with worker
    threads and used more CPU (one more pipe hop), so it is not the default.
    """

    def __init__(self, level: int, out_fd: int, zstd: str):
        import subprocess

        self._p = subprocess.Popen([zstd, f"-{level}", "-T0", "-q", "-c", "--no-progress"], stdin=subprocess.PIPE,
                                   stdout=out_fd, stderr=subprocess.PIPE, bufsize=0)
        try:
            import fcntl

            fcntl.fcntl(self._p.stdin.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
        except OSError:
            pass
        self._fd = self._p.stdin.fileno()

    def compress(self, b) -> bytes:
        mv = memoryview(b)
        try:
            while mv:
                ready(self._fd, write=True)
                n = os.write(self._fd, mv)
                mv = mv[n:]
        except BrokenPipeError:
            self._p.wait()
            raise
        return b""

    def flush(self) -> bytes:
        self._p.stdin.close()
        code = self._p.wait()
        if code != 0:
            err = self._p.stderr.read().decode(errors="replace").strip()
            if "Broken pipe" in err:
                raise BrokenPipeError(err)
            raise DynvolError(f"zstd failed ({code}): {err or 'no message'}")
        return b""

    def kill(self) -> None:
        if self._p.poll() is None:
            self._p.kill()
            self._p.wait()


def compressor(kind: str, level: int, out_fd: int | None = None):
    """Compressed bytes come back from ``compress``/``flush``, or go straight to ``out_fd`` (zstd binary)."""
    if kind == "zstd":
        import shutil

        zstd = shutil.which("zstd")
        if out_fd is not None and zstd and os.environ.get("DYNVOL_ZSTD_BINARY"):
            return ZstdProcess(level, out_fd, zstd)
        import zstandard

        return zstandard.ZstdCompressor(level=level, threads=zstd_threads(), write_checksum=True).compressobj()
    if kind == "gzip":
        return zlib.compressobj(level, zlib.DEFLATED, 31)
    return _Identity()


def sniff(head: bytes) -> str:
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    return "none"


class Decoder:
    """Decompress by the stream's magic; ``finish()`` says whether the stream ended cleanly."""

    def __init__(self, head: bytes):
        self.kind = sniff(head)
        if self.kind == "zstd":
            import zstandard

            self._d = zstandard.ZstdDecompressor().decompressobj()
        elif self.kind == "gzip":
            self._d = zlib.decompressobj(31)
        else:
            self._d = None

    def decode(self, b: bytes) -> bytes:
        if self._d is None:
            return b
        try:
            if self.kind == "zstd" and self._d.eof:
                raise ArchiveCorrupt("corrupt archive: unexpected data after the end of the zstd stream")
            return self._d.decompress(b)
        except ArchiveCorrupt:
            raise
        except Exception as e:  # noqa: BLE001 - zstandard.ZstdError / zlib.error
            raise ArchiveCorrupt(f"corrupt archive: {self.kind} data is damaged ({e})") from e

    def finished(self) -> bool:
        return self._d is None or bool(self._d.eof)


# ---------------------------------------------------------------- writing


class _Hasher:
    """sha256 on one worker thread (hashlib drops the GIL), so hashing overlaps the pipe writes."""

    def __init__(self):
        from concurrent.futures import ThreadPoolExecutor

        self._sha = hashlib.sha256()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="dynvol-sha256")
        self._pending = None

    def update(self, b: bytes) -> None:
        if self._pending is not None:
            self._pending.result()
        self._pending = self._pool.submit(self._sha.update, b)

    def hexdigest(self) -> str:
        self.close()
        return self._sha.hexdigest()

    def close(self) -> None:
        if self._pending is not None:
            self._pending.result()
            self._pending = None
        self._pool.shutdown(wait=True)


class ArchiveWriter:
    """Frames, hashes and compresses; ``write`` is where the compressed bytes go."""

    def __init__(self, write, manifest: dict, *, compression: str, level: int, out_fd: int | None = None):
        self._write = write
        self._c = compressor(compression, level, out_fd)
        self._sha = _Hasher()
        self.data_bytes = 0
        self.volumes: list[dict] = []
        head = member(MANIFEST_NAME, json.dumps(manifest, indent=1, sort_keys=True).encode())
        self._manifest_sha = hashlib.sha256(head).hexdigest()
        self._emit(head)

    def _emit(self, b) -> None:
        out = self._c.compress(b)
        if out:
            self._write(out)

    def data(self, b) -> None:
        self._sha.update(b)
        self.data_bytes += len(b)
        self._emit(b)

    def end_volume(self, name: str, nbytes: int, entries: int) -> None:
        self.volumes.append({"name": name, "bytes": nbytes, "entries": entries})

    def close(self) -> dict:
        trailer = {"sha256": self._sha.hexdigest(), "data_bytes": self.data_bytes, "volumes": self.volumes,
                   "manifest_sha256": self._manifest_sha}
        self._emit(member(TRAILER_NAME, json.dumps(trailer, sort_keys=True).encode()) + EOT)
        out = self._c.flush()
        if out:
            self._write(out)
        return trailer

    def abort(self) -> None:
        self._sha.close()
        if hasattr(self._c, "kill"):
            self._c.kill()


# ---------------------------------------------------------------- reading


class ArchiveReader:
    """Reads an archive from a binary stream: manifest, then data by volume, then checks the trailer.

    Every failure is an :class:`ArchiveCorrupt` naming what is wrong in one line.
    ``on_read(n)`` is told how many raw (compressed) bytes were read.
    """

    def __init__(self, f, *, chunk: int = 1 << 20, on_read=None):
        self._f = f
        self._chunk = chunk
        self._on_read = on_read
        self._dec: Decoder | None = None
        self._pending = b""
        self.manifest: dict | None = None
        self.trailer: dict | None = None
        self.raw_bytes = 0

    def _plain(self):
        try:
            fd = self._f.fileno()
        except (AttributeError, io.UnsupportedOperation):
            fd = None  # in-memory input never blocks
        while True:
            if fd is not None:
                ready(fd)
            raw = self._f.read(self._chunk)
            if not raw:
                break
            self.raw_bytes += len(raw)
            if self._on_read:
                self._on_read(len(raw))
            if self._dec is None:
                self._dec = Decoder(raw)
            out = self._dec.decode(raw)
            if out:
                yield out
        if self._dec is None:
            raise ArchiveCorrupt("not a dynvol archive: the input is empty")
        if not self._dec.finished():
            raise ArchiveCorrupt(f"truncated archive: the {self._dec.kind} stream ends early "
                                 f"(after {self.raw_bytes} bytes)")

    def read_manifest(self) -> dict:
        self._gen = self._plain()
        buf = bytearray()
        for chunk in self._gen:
            buf += chunk
            if len(buf) >= BLOCK:
                break
        if len(buf) < BLOCK:
            raise ArchiveCorrupt("not a dynvol archive (too short to hold a manifest)")
        head = bytes(buf[:BLOCK])
        if not _checksum_ok(head) or head[0:100].split(b"\0", 1)[0] != MANIFEST_NAME.encode():
            raise ArchiveCorrupt("not a dynvol archive: it does not start with dynvol-manifest.json",
                                 hint="archives made by other tools can be unpacked with tar")
        size = _number(head[124:136])
        need = BLOCK + size + (-size % BLOCK)
        if size > 16 << 20:
            raise ArchiveCorrupt("not a dynvol archive: the manifest is implausibly large")
        for chunk in self._gen:
            if len(buf) >= need:
                self._pending = chunk
                break
            buf += chunk
        if len(buf) < need:
            raise ArchiveCorrupt("truncated archive: it ends inside the manifest")
        try:
            m = json.loads(bytes(buf[BLOCK:BLOCK + size]))
        except ValueError as e:
            raise ArchiveCorrupt("corrupt archive: the manifest is not valid JSON") from e
        self.manifest = check_manifest(m)
        self._manifest_sha = hashlib.sha256(bytes(buf[:need])).hexdigest()
        self._rest = bytes(buf[need:]) + self._pending
        return self.manifest

    def data(self):
        """Yield (volume name, bytes) in stream order; checks the trailer when exhausted."""
        if self.manifest is None:
            self.read_manifest()
        names = {v["name"] for v in self.manifest["volumes"]}
        sc = TarScanner()
        sha = hashlib.sha256()
        counts: dict[str, int] = {}
        n_entries: dict[str, int] = {}
        current: str | None = None
        sent = 0  # offset (in the data part) up to which bytes went out
        window = bytearray()  # bytes from `sent` onwards not yet passed on
        trailer_at: int | None = None
        tail = bytearray()

        def chunks():
            if self._rest:
                yield self._rest
            yield from self._gen

        for chunk in chunks():
            if trailer_at is not None:
                tail += chunk
                if len(tail) > 1 << 20:
                    raise ArchiveCorrupt("corrupt archive: data continues after the trailer")
                continue
            window += chunk
            entries = sc.feed(chunk)
            for e in entries:
                if e.name == TRAILER_NAME.encode():
                    trailer_at = e.start
                    break
                vol = _volume_of(e.name)
                if vol is None or vol not in names:
                    raise ArchiveCorrupt(f"corrupt archive: unexpected member {e.name.decode(errors='replace')!r}")
                n_entries[vol] = n_entries.get(vol, 0) + 1
                if vol != current:
                    if e.start > sent:  # bytes of the previous volume
                        piece = bytes(window[:e.start - sent])
                        del window[:e.start - sent]
                        sha.update(piece)
                        counts[current] = counts.get(current, 0) + len(piece)
                        yield current, piece
                        sent = e.start
                    current = vol
            if sc.end is not None and trailer_at is None:
                raise ArchiveCorrupt("corrupt archive: the tar stream ends without a trailer")
            upto = trailer_at if trailer_at is not None else sc.settled
            if upto > sent and current is not None:
                piece = bytes(window[:upto - sent])
                del window[:upto - sent]
                sha.update(piece)
                counts[current] = counts.get(current, 0) + len(piece)
                sent = upto
                yield current, piece
            if trailer_at is not None:
                tail += window
                window = bytearray()
        if trailer_at is None:
            raise ArchiveCorrupt(f"truncated archive: no trailer after {sent} bytes of data",
                                 hint="the backup was interrupted or the file was cut short")
        self.trailer = _check_trailer(bytes(tail), sha.hexdigest(), sent, counts, n_entries)
        if self.trailer.get("manifest_sha256") != self._manifest_sha:
            raise ArchiveCorrupt("corrupt archive: the manifest does not match the trailer's manifest_sha256")


def _volume_of(name: bytes) -> str | None:
    parts = name.split(b"/")
    if len(parts) < 2 or parts[0] != PREFIX.encode():
        return None
    return parts[1].decode(errors="replace")


def _check_trailer(tail: bytes, digest: str, nbytes: int, counts: dict, entries: dict) -> dict:
    if len(tail) < BLOCK or not _checksum_ok(tail[:BLOCK]):
        raise ArchiveCorrupt("truncated archive: the trailer is cut short")
    size = _number(tail[124:136])
    end = BLOCK + size + (-size % BLOCK)
    if len(tail) < end:
        raise ArchiveCorrupt("truncated archive: the trailer is cut short")
    try:
        t = json.loads(tail[BLOCK:BLOCK + size])
    except ValueError as e:
        raise ArchiveCorrupt("corrupt archive: the trailer is not valid JSON") from e
    if len(tail) < end + 2 * BLOCK:
        raise ArchiveCorrupt("truncated archive: the end-of-archive marker is missing")
    if any(tail[end:]) or any(tail[BLOCK + size:end]):
        raise ArchiveCorrupt("corrupt archive: data continues after the trailer")
    if t.get("data_bytes") != nbytes:
        raise ArchiveCorrupt(f"corrupt archive: {nbytes} bytes of data, the trailer says {t.get('data_bytes')}")
    seen = {v.get("name"): (v.get("bytes"), v.get("entries")) for v in t.get("volumes") or []}
    if seen != {k: (counts.get(k, 0), entries.get(k, 0)) for k in seen} or set(seen) != set(counts):
        raise ArchiveCorrupt("corrupt archive: per-volume sizes or entry counts do not match the trailer")
    if t.get("sha256") != digest:
        raise ArchiveCorrupt(f"corrupt archive: content sha256 {digest[:16]}... does not match the "
                             f"trailer's {str(t.get('sha256'))[:16]}...")
    return t


def tar_version(tar: str = "tar") -> str:
    import subprocess

    try:
        out = subprocess.run([tar, "--version"], capture_output=True, check=True).stdout.decode()
    except (OSError, subprocess.CalledProcessError) as e:
        raise DynvolError(f"cannot run {tar}: {e}", hint="install GNU tar") from e
    first = out.splitlines()[0] if out else ""
    if "GNU tar" not in first:
        raise DynvolError(f"{tar} is not GNU tar ({first!r})",
                          hint="dynvol needs GNU tar for xattrs, ACLs and sparse files")
    return first


def open_binary(path: str):
    """A file to read an archive from ('-' is stdin); NotFound/Permission map to dynvol errors."""
    import sys

    from dynvol.errors import NotFound, PermissionDenied

    if path == "-":
        return io.open(sys.stdin.fileno(), "rb", buffering=0, closefd=False)
    try:
        return open(path, "rb", buffering=0)
    except FileNotFoundError:
        raise NotFound(f"no such archive: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not an archive") from None
    except PermissionError as e:
        raise PermissionDenied(f"cannot read {path}: {e.strerror}") from e
