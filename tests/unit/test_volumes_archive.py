"""The archive format without Docker or root: framing, scanning, hashing, damage detection."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynvol.errors import UsageError
from dynvol.volumes import archive as A


def gnu_tar_stream(root, member_root: str) -> bytes:
    return subprocess.run(["tar", *A.tar_create_args(member_root), "-C", str(root), "."],
                          capture_output=True, check=True).stdout


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("tree")
    (root / "d" / "e").mkdir(parents=True)
    (root / "small.txt").write_text("hi\n")
    (root / ("long-" + "x" * 180)).write_text("long name\n")  # pax path record
    (root / "d" / "e" / "ünïcode").write_bytes(os.urandom(3000))
    with open(os.path.join(os.fsencode(root), b"bad-\xff"), "wb") as f:
        f.write(b"not utf-8 name")
    with open(root / "sparse", "wb") as f:  # PAX 1.0 sparse member
        f.seek(1 << 20)
        f.write(b"x" * 100)
        f.truncate(4 << 20)
    os.symlink("nowhere", root / "dangling")
    os.link(root / "small.txt", root / "hard")
    return root


def make_archive(streams: list[tuple[str, bytes]], compression="none", level=None) -> tuple[bytes, dict]:
    level = A.check_compression(compression, level)
    out = io.BytesIO()
    m = A.new_manifest([{"name": n, "driver": "local"} for n, _ in streams], source="x",
                       compression=compression, level=level, consistency="live", tar_version="t")
    w = A.ArchiveWriter(out.write, m, compression=compression, level=level)
    for name, s in streams:
        sc = A.TarScanner()
        sc.feed(s)
        w.data(s[:sc.end])
        w.end_volume(name, sc.end, sc.entries)
    trailer = w.close()
    return out.getvalue(), trailer


def read_all(data: bytes, chunk=1 << 20):
    r = A.ArchiveReader(io.BytesIO(data), chunk=chunk)
    r.read_manifest()
    got: dict[str, bytearray] = {}
    for vol, piece in r.data():
        got.setdefault(vol, bytearray()).extend(piece)
    return r, got


def test_scanner_finds_every_entry_and_the_end(tree):
    s = gnu_tar_stream(tree, "volumes/v")
    sc = A.TarScanner()
    entries = sc.feed(s)
    names = {e.name for e in entries}
    assert b"volumes/v/" in names and b"volumes/v/sparse" in names
    assert b"volumes/v/long-" + b"x" * 180 in names and b"volumes/v/bad-\xff" in names
    assert sc.end is not None and not any(s[sc.end:])
    # what Python's tarfile sees, up to the end marker, is the same member list
    with tarfile.open(fileobj=io.BytesIO(s[:sc.end] + A.EOT)) as t:
        assert len(t.getmembers()) == sc.entries


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=5000), min_size=1, max_size=60))
def test_scanner_is_independent_of_chunking(tree, cuts):
    s = gnu_tar_stream(tree, "volumes/v")
    whole = A.TarScanner()
    want = [(e.start, e.name) for e in whole.feed(s)]
    sc, got, i = A.TarScanner(), [], 0
    for c in cuts * (len(s) // sum(cuts) + 1):
        if i >= len(s):
            break
        got += [(e.start, e.name) for e in sc.feed(s[i:i + c])]
        i += c
    assert got == want and sc.end == whole.end


@pytest.mark.parametrize("compression", ["zstd", "gzip", "none"])
@pytest.mark.parametrize("chunk", [7, 512, 1 << 20])
def test_roundtrip_two_volumes(tree, compression, chunk):
    a, b = gnu_tar_stream(tree, "volumes/a"), gnu_tar_stream(tree, "volumes/b")
    data, trailer = make_archive([("a", a), ("b", b)], compression)
    r, got = read_all(data, chunk)
    assert r.manifest["volumes"][1]["name"] == "b" and r.manifest["compression"] == compression
    assert r.trailer == trailer
    assert bytes(got["a"]) + A.EOT == a[:len(got["a"])] + A.EOT
    assert len(got["a"]) + len(got["b"]) == trailer["data_bytes"]
    # the data part is plain GNU tar: tar itself extracts it
    with tarfile.open(fileobj=io.BytesIO(bytes(got["b"]) + A.EOT)) as t:
        assert "volumes/b/small.txt" in t.getnames()


def test_archive_is_a_plain_tar_with_manifest_first_and_trailer_last(tree):
    data, _ = make_archive([("v", gnu_tar_stream(tree, "volumes/v"))])
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        names = t.getnames()
        assert names[0] == A.MANIFEST_NAME and names[-1] == A.TRAILER_NAME
        assert json.load(t.extractfile(A.TRAILER_NAME))["sha256"]


@pytest.mark.parametrize("compression", ["zstd", "gzip", "none"])
def test_no_byte_flip_changes_the_content_silently(tree, compression):
    """A flipped bit is reported, or it hit a don't-care bit (gzip header mtime, unused deflate bits)."""
    data, _ = make_archive([("v", gnu_tar_stream(tree, "volumes/v"))], compression)
    _, want = read_all(data)
    detected = 0
    for at in range(0, len(data), max(1, len(data) // 300)):
        bad = bytearray(data)
        bad[at] ^= 0x01
        try:
            r, got = read_all(bytes(bad))
        except A.ArchiveCorrupt:
            detected += 1
            continue
        assert got == want and r.trailer is not None, f"flip at byte {at} changed the content silently"
    assert detected > 0.9 * len(range(0, len(data), max(1, len(data) // 300)))


@pytest.mark.parametrize("compression", ["zstd", "gzip", "none"])
def test_every_truncation_is_detected(tree, compression):
    data, _ = make_archive([("v", gnu_tar_stream(tree, "volumes/v"))], compression)
    for keep in list(range(0, len(data), max(1, len(data) // 50))) + [len(data) - 1]:
        with pytest.raises(A.ArchiveCorrupt) as e:
            read_all(data[:keep])
        assert e.value.message.startswith(("truncated archive", "not a dynvol archive", "corrupt archive"))


def test_foreign_tar_is_not_a_dynvol_archive(tree):
    s = gnu_tar_stream(tree, None)
    with pytest.raises(A.ArchiveCorrupt, match="not a dynvol archive"):
        read_all(s)


def test_trailing_garbage_is_detected(tree):
    data, _ = make_archive([("v", gnu_tar_stream(tree, "volumes/v"))])
    with pytest.raises(A.ArchiveCorrupt, match="after the trailer"):
        read_all(data + b"garbage" + bytes(1000))


def test_compression_levels_are_checked():
    assert A.check_compression("zstd", None) == 1 and A.check_compression("gzip", None) == 6
    with pytest.raises(UsageError, match="out of range"):
        A.check_compression("gzip", 10)
    with pytest.raises(UsageError, match="unknown compression"):
        A.check_compression("lz4", None)


def test_manifest_checks():
    with pytest.raises(A.ArchiveCorrupt, match="not a dynvol archive"):
        A.check_manifest({"format": "other"})
    with pytest.raises(A.ArchiveCorrupt, match="version 99"):
        A.check_manifest({"format": A.FORMAT_NAME, "format_version": 99})
    m = A.new_manifest([{"name": "v", "driver": "local", "options": {"o": "1"}, "labels": {"l": "2"}}],
                       source="v", compression="zstd", level=3, consistency="pause", tar_version="t")
    assert A.check_manifest(m)["volumes"][0] == {"name": "v", "driver": "local", "options": {"o": "1"},
                                                  "labels": {"l": "2"}, "path": "volumes/v"}
