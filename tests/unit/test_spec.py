"""Spec parsing: Docker's -v and --mount syntax, and Docker's refusals."""

import pytest
from hypothesis import given, strategies as st

from dynvol.errors import UsageError
from dynvol.spec import MountSpec, check_unique_targets, parse_mount, parse_volume, to_volume_string

segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_.-", min_size=1, max_size=12).filter(
    lambda s: s not in (".", ".."))
abspath = st.lists(segment, min_size=1, max_size=4).map(lambda p: "/" + "/".join(p))
volname = st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{1,20}", fullmatch=True)


@given(src=abspath, dst=abspath, ro=st.booleans())
def test_bind_volume_form_round_trips(src, dst, ro):
    spec = parse_volume(f"{src}:{dst}" + (":ro" if ro else ""))
    assert spec == MountSpec(type="bind", source=src, target=dst, readonly=ro)
    assert parse_volume(to_volume_string(spec)) == spec


@given(name=volname, dst=abspath, ro=st.booleans())
def test_named_volume_form(name, dst, ro):
    spec = parse_volume(f"{name}:{dst}:{'ro' if ro else 'rw'}")
    assert (spec.type, spec.source, spec.target, spec.readonly) == ("volume", name, dst, ro)


@given(src=abspath, dst=abspath, ro=st.booleans(), key=st.sampled_from(["source", "src"]),
       tkey=st.sampled_from(["target", "destination", "dst"]))
def test_mount_form_matches_volume_form(src, dst, ro, key, tkey):
    m = parse_mount(f"type=bind,{key}={src},{tkey}={dst}" + (",readonly" if ro else ""))
    assert m == parse_volume(f"{src}:{dst}" + (":ro" if ro else ""))


@given(st.text(max_size=40))
def test_parsers_raise_only_usage_errors(text):
    for parse in (parse_volume, parse_mount):
        try:
            spec = parse(text)
        except UsageError as e:
            assert e.exit_code == 2 and "\n" not in e.message
        else:
            assert spec.target.startswith("/")


def test_target_is_normalized():
    assert parse_volume("/a:/x/../y//z/").target == "/y/z"


@pytest.mark.parametrize("spec, needle", [
    ("data/x:/x", "use absolute path"),
    ("./data:/x", "use absolute path"),
    ("/src:rel", "must be absolute"),
    ("/src:/dst:rx", "invalid mode: rx"),
    ("/src:/dst:ro,rw", "conflict"),
    ("/a:/b:/c:/d", "invalid volume specification"),
    (":/x", "invalid volume specification"),
    ("vol:/x:rshared", "propagation applies to bind"),
    ("/src:/x:nocopy", "nocopy applies to volumes"),
])
def test_volume_form_refusals(spec, needle):
    with pytest.raises(UsageError) as e:
        parse_volume(spec)
    assert needle in str(e.value)


@pytest.mark.parametrize("spec, needle", [
    ("type=bind,target=/x", "source is required"),
    ("type=bind,source=rel,target=/x", "must be absolute"),
    ("type=bind,source=/s", "target is required"),
    ("type=nfs,source=/s,target=/x", "invalid --mount type"),
    ("type=bind,source=/s,target=/x,bogus=1", "unexpected key 'bogus'"),
    ("type=bind,source=/s,target=/x,readonly=maybe", "invalid value for readonly"),
    ("type=bind,source=/s,target=/x,bind-propagation=sideways", "bind-propagation"),
    ("type=volume,source=v1,target=/x,bind-propagation=shared", "bind options are not valid"),
    ("type=bind,source=/s,target=/x,volume-nocopy", "volume options are not valid"),
])
def test_mount_form_refusals(spec, needle):
    with pytest.raises(UsageError) as e:
        parse_mount(spec)
    assert needle in str(e.value)


def test_mount_form_options():
    m = parse_mount("type=volume,source=v1,target=/x,volume-nocopy,volume-label=a=b,volume-opt=type=tmpfs")
    assert m.nocopy and m.volume_labels == (("a", "b"),) and m.volume_options == (("type", "tmpfs"),)
    b = parse_mount("type=bind,source=/s,target=/x,bind-propagation=rslave,bind-recursive=disabled,ro=1")
    assert (b.propagation, b.recursive, b.readonly) == ("rslave", False, True)
    assert parse_mount("target=/x").type == "volume"


def test_anonymous_volume():
    s = parse_volume("/data")
    assert s.type == "volume" and s.source is None and s.target == "/data"


def test_duplicate_targets_refused():
    with pytest.raises(UsageError, match="duplicate mount point"):
        check_unique_targets([parse_volume("/a:/x"), parse_volume("/b:/x/")])
