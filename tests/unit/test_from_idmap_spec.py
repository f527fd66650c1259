"""Parsing of --from references and idmap options."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dynvol.errors import UsageError
from dynvol.spec import FromSpec, idmap_ranges, parse_from, parse_idmap, parse_mount, parse_volume


@pytest.mark.parametrize("ref,want", [
    ("db", FromSpec("db")),
    ("db:ro", FromSpec("db", None, "ro")),
    ("db:rw", FromSpec("db", None, "rw")),
    ("db:/data", FromSpec("db", "/data")),
    ("db:/data/../srv/", FromSpec("db", "/srv")),
    ("db:/data:ro", FromSpec("db", "/data", "ro")),
    ("/db", FromSpec("db")),
    ("0123abcdef", FromSpec("0123abcdef")),
])
def test_parse_from(ref, want):
    assert parse_from(ref) == want


@pytest.mark.parametrize("ref,needle", [
    ("", "is not a container name"),
    ("db:x", "unknown mode 'x'"),
    ("db:/data:rx", "unknown mode 'rx'"),
    ("db:/data:ro:more", "invalid --from"),
    ("db:ro:/data", "invalid --from"),
    ("a b", "is not a container name"),
])
def test_parse_from_rejects(ref, needle):
    with pytest.raises(UsageError) as e:
        parse_from(ref)
    assert needle in e.value.message
    assert "\n" not in e.value.message


def test_idmap_in_volume_and_mount_syntax():
    assert parse_volume("/a:/b:idmap").idmap == ""
    assert parse_volume("/a:/b").idmap is None
    assert parse_volume("/a:/b:ro,idmap=uids=0-1000-10").idmap == "uids=0-1000-10"
    assert parse_mount("type=bind,src=/a,dst=/b,idmap").idmap == ""
    m = parse_mount("type=bind,src=/a,dst=/b,idmap=gids=0-5-1;uids=0-1000-10#10-2000-5")
    assert m.idmap == "uids=0-1000-10#10-2000-5;gids=0-5-1"
    assert "idmap=uids=0-1000-10#10-2000-5;gids=0-5-1" in m.options()
    assert "idmap" in parse_volume("/a:/b:idmap").options()


@pytest.mark.parametrize("value,needle", [
    ("uids=1-2", "expected FROM-TO-COUNT"),
    ("uids=1-2-0", "count must be positive"),
    ("uids=1-0-4294967295", "within"),
    ("uids=0-1-2;uids=0-1-2", "expected uids="),
    ("foo=1-2-3", "expected uids="),
    ("uids=0-10-5#3-100-5", "uids ranges overlap"),
    ("gids=0-10-5#20-12-5", "gids ranges overlap"),
    ("uids=@1-2-3", "relative"),
    ("uids=a-b-c", "expected FROM-TO-COUNT"),
])
def test_bad_idmap(value, needle):
    with pytest.raises(UsageError) as e:
        parse_idmap(value)
    assert needle in e.value.message


ranges = st.lists(st.tuples(st.integers(0, 2**20), st.integers(0, 2**20), st.integers(1, 2**10)),
                  min_size=1, max_size=5)


def _disjoint(rs):
    for side in (0, 1):
        spans = sorted((r[side], r[side] + r[2]) for r in rs)
        if any(spans[i][1] > spans[i + 1][0] for i in range(len(spans) - 1)):
            return False
    return True


@given(uids=ranges, gids=ranges)
def test_idmap_roundtrip(uids, gids):
    text = "uids=" + "#".join(f"{a}-{b}-{n}" for a, b, n in uids) + ";gids=" + \
           "#".join(f"{a}-{b}-{n}" for a, b, n in gids)
    if not (_disjoint(uids) and _disjoint(gids)):
        with pytest.raises(UsageError):
            parse_idmap(text)
        return
    canon = parse_idmap(text)
    assert idmap_ranges(canon) == {"uids": tuple(uids), "gids": tuple(gids)}
    assert parse_idmap(canon) == canon
    assert parse_volume(f"/s:/t:{'idmap=' + canon}").idmap == canon


@given(st.text(max_size=30))
def test_parse_idmap_never_crashes(value):
    try:
        parse_idmap(value)
    except UsageError as e:
        assert "\n" not in e.message


@given(st.text(max_size=40))
def test_parse_from_never_crashes(value):
    try:
        f = parse_from(value)
    except UsageError:
        return
    assert f.container and ":" not in f.container
    assert f.mode in (None, "ro", "rw")
    assert f.target is None or f.target.startswith("/")
