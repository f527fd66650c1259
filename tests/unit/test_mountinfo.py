from dynvol.linux.mountinfo import parse, parse_line, subtree_ids

SAMPLE = """\
75 51 0:40 / / rw,relatime master:2 - overlay overlay rw,lowerdir=/l
76 75 0:43 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
105 75 254:0 /srv/a\\040b /data\\040dir ro,relatime shared:7 - ext4 /dev/vda rw
106 105 0:50 / /data\\040dir/sub rw - tmpfs tmpfs rw
107 106 0:51 / /data\\040dir/sub/deeper rw shared:3 master:1 - tmpfs tmpfs rw
"""


def test_fields_and_escapes():
    e = parse_line(SAMPLE.splitlines()[2])
    assert (e.mnt_id, e.parent_id, e.dev, e.root, e.mountpoint, e.fstype, e.source) == \
        (105, 75, (254, 0), "/srv/a b", "/data dir", "ext4", "/dev/vda")
    assert e.readonly and e.propagation == "shared"


def test_propagation_names():
    entries = parse(SAMPLE)
    assert [e.propagation for e in entries] == ["slave", "private", "shared", "private", "rshared+slave"]


def test_subtree():
    entries = parse(SAMPLE)
    assert subtree_ids(entries, 105) == {105, 106, 107}
    assert subtree_ids(entries, 107) == {107}
