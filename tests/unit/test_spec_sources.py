"""Spec parsing for block devices, images, tmpfs, subpaths and mount flags."""

import pytest
from hypothesis import given, strategies as st

from dynvol.errors import UsageError
from dynvol.linux import consts as C
from dynvol.sources import mount_attrs
from dynvol.spec import format_size, parse_mount, parse_size, parse_volume

segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=10)
relpath = st.lists(segment, min_size=1, max_size=4).map("/".join)


@given(n=st.integers(min_value=0, max_value=2 ** 50))
def test_size_round_trips(n):
    assert parse_size(format_size(n)) == n


@given(n=st.integers(min_value=1, max_value=4096), unit=st.sampled_from(["", "k", "m", "g", "K", "M", "G"]),
       tail=st.sampled_from(["", "b", "B", "ib", "iB"]))
def test_size_suffixes_are_binary(n, unit, tail):
    if not unit and tail.startswith("i"):
        return
    assert parse_size(f"{n}{unit}{tail}") == n * 1024 ** " kmg".index(unit.lower() or " ")


@given(mode=st.integers(min_value=0, max_value=0o7777))
def test_tmpfs_mode_is_octal(mode):
    m = parse_mount(f"type=tmpfs,target=/t,tmpfs-mode={mode:o}")
    assert m.tmpfs_mode == mode
    assert f"tmpfs-mode={mode:o}" in m.options()


def test_tmpfs_issue_example():
    m = parse_mount("type=tmpfs,target=/scratch,tmpfs-size=64m,tmpfs-mode=1770,uid=1000,gid=100")
    assert (m.type, m.source, m.target) == ("tmpfs", None, "/scratch")
    assert (m.tmpfs_size, m.tmpfs_mode, m.uid, m.gid) == (64 << 20, 0o1770, 1000, 100)
    assert m.options() == ["rw", "tmpfs-size=64m", "tmpfs-mode=1770", "uid=1000", "gid=100"]


def test_options_field_takes_csv_quoting_like_docker():
    m = parse_mount('type=image,source=./d.img,target=/d,"options=ro,noatime,data=ordered",fstype=ext4')
    assert m.readonly and m.fstype == "ext4" and m.source == "./d.img"
    assert m.fs_options == ("noatime", "data=ordered")
    m = parse_mount('type=block,source=/dev/sdb1,target=/d,"options=nosuid,noexec,defaults"')
    assert m.nosuid and m.noexec and not m.nodev and m.fs_options == ()


@given(name=segment, ext=st.sampled_from([".img", ".raw", ".iso", ".IMG"]), up=st.booleans(),
       ro=st.booleans())
def test_relative_image_in_volume_form(name, ext, up, ro):
    src = ("../" if up else "./") + name + ext
    m = parse_volume(f"{src}:/data" + (":ro" if ro else ""))
    assert (m.type, m.source, m.target, m.readonly) == ("image", src, "/data", ro)


def test_other_relative_sources_keep_dockers_refusal():
    for spec in ("./data:/x", "../dir:/x", "./disk.img.bak:/x"):
        with pytest.raises(UsageError, match="use absolute path"):
            parse_volume(spec)


def test_absolute_image_path_stays_a_bind_of_a_file():
    assert parse_volume("/srv/disk.img:/disk.img").type == "bind"


@given(flags=st.lists(st.sampled_from(["nosuid", "nodev", "noexec"]), min_size=1, unique=True),
       ro=st.booleans())
def test_mount_flags_in_both_forms(flags, ro):
    v = parse_volume("/s:/x:" + ",".join(flags + (["ro"] if ro else [])))
    m = parse_mount("type=bind,source=/s,target=/x," + ",".join(flags) + (",readonly" if ro else ""))
    assert v == m
    want = {"nosuid": C.MOUNT_ATTR_NOSUID, "nodev": C.MOUNT_ATTR_NODEV, "noexec": C.MOUNT_ATTR_NOEXEC}
    bits = sum(want[f] for f in flags) | (C.MOUNT_ATTR_RDONLY if ro else 0)
    assert mount_attrs(v) == bits
    assert all(f in v.options() for f in flags)


@given(sub=relpath)
def test_subpath_is_normalized_and_relative(sub):
    m = parse_mount(f"type=volume,source=vol1,target=/x,volume-subpath=./{sub}/")
    assert m.subpath == sub


@given(sub=relpath, ups=st.integers(min_value=1, max_value=6))
def test_subpath_escaping_lexically_is_refused(sub, ups):
    depth = sub.count("/") + 1
    escaping = sub + "/.." * (depth + ups - 1) if ups > 1 else "../" + sub
    with pytest.raises(UsageError, match="escapes the volume root|relative path"):
        parse_mount(f"type=volume,source=vol1,target=/x,volume-subpath={escaping}")


@pytest.mark.parametrize("prop", ["shared", "rshared"])
def test_readonly_with_shared_propagation_conflicts(prop):
    with pytest.raises(UsageError, match="conflicts with read-only"):
        parse_volume(f"/s:/x:ro,{prop}")
    with pytest.raises(UsageError, match="conflicts with read-only"):
        parse_mount(f"type=bind,source=/s,target=/x,readonly,bind-propagation={prop}")
    assert parse_volume("/s:/x:ro,rslave").propagation == "rslave"


def test_block_device_volume_form_is_a_bind_until_planned():
    # whether /dev/sdb1 is a block device is known only to the planner
    m = parse_volume("/dev/sdb1:/data")
    assert (m.type, m.source) == ("bind", "/dev/sdb1")


@pytest.mark.parametrize("spec, needle", [
    ("type=tmpfs,target=/x,fstype=ext4", "fstype is not valid for type=tmpfs"),
    ("type=bind,source=/s,target=/x,tmpfs-size=1m", "tmpfs-size is not valid for type=bind"),
    ("type=bind,source=/s,target=/x,options=noatime", "options is not valid for type=bind"),
    ("type=image,source=/i,target=/x,volume-subpath=a", "volume-subpath is not valid"),
    ("type=tmpfs,source=x,target=/x", "source is not allowed for type=tmpfs"),
    ("type=image,target=/x", "source is required for type=image"),
    ("type=block,target=/x", "source is required for type=block"),
    ("type=block,source=dev/sdb,target=/x", "must be absolute"),
    ("type=tmpfs,target=/x,tmpfs-size=lots", "invalid value for tmpfs-size"),
    ("type=tmpfs,target=/x,tmpfs-size=-1m", "invalid value for tmpfs-size"),
    ("type=tmpfs,target=/x,tmpfs-mode=800", "invalid value for tmpfs-mode"),
    ("type=tmpfs,target=/x,tmpfs-mode=17777", "invalid value for tmpfs-mode"),
    ("type=tmpfs,target=/x,uid=root", "invalid value for uid"),
    ("type=tmpfs,target=/x,gid=-5", "invalid value for gid"),
    ("type=tmpfs,target=/x,bind-propagation=shared", "bind options are not valid for type=tmpfs"),
    ("type=image,source=/i,target=/x,volume-nocopy", "volume options are not valid for type=image"),
    ('type=image,source=/i,target=/x,"options=ro,rw"', "ro and rw conflict"),
    ("type=image,source=/i,target=/x,fstype=Ext 4", "invalid value for fstype"),
    ("type=volume,source=vol1,target=/x,volume-subpath=/abs", "relative path"),
    ("type=volume,source=vol1,target=/x,volume-subpath=a/../../b", "escapes the volume root"),
    ("type=volume,source=./d.img,target=/x", "use absolute path"),
    ("type=tmpfs,target=/x,frobnicate", "unexpected key 'frobnicate'"),
    ("type=nfs,target=/x", "invalid --mount type"),
])
def test_refusals(spec, needle):
    with pytest.raises(UsageError) as e:
        parse_mount(spec)
    assert needle in str(e.value)
    assert e.value.exit_code == 2 and "\n" not in e.value.message


@given(st.text(max_size=60))
def test_new_keys_raise_only_usage_errors(text):
    for prefix in ("type=tmpfs,target=/t,", "type=image,source=./i.img,target=/t,",
                   "type=volume,source=vol1,target=/t,volume-subpath="):
        try:
            spec = parse_mount(prefix + text)
        except UsageError as e:
            assert e.exit_code == 2 and "\n" not in e.message
        else:
            assert spec.target.startswith("/")
            assert spec.subpath is None or not spec.subpath.startswith(("/", "../"))
