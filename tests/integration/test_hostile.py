"""A hostile container swaps the target between a directory and symlinks while dynvol attaches.

Every attach must either land inside the container at a place that is not
/proc, /sys, /dev or the root, or fail cleanly (exit 1, one line, nothing left).
"""

from __future__ import annotations

import json

from tests.integration.conftest import cexec, docker, dynvol, mountinfo

SWAPPER = (
    "mkdir -p /t; while :; do "
    "rm -f /t/x 2>/dev/null; rmdir /t/x 2>/dev/null; mkdir /t/x 2>/dev/null; "
    "rmdir /t/x 2>/dev/null; ln -s /proc/sys /t/x 2>/dev/null; rm -f /t/x; "
    "ln -s / /t/x 2>/dev/null; rm -f /t/x; ln -s .. /t/x 2>/dev/null; rm -f /t/x; "
    "ln -s /sys/kernel /t/x 2>/dev/null; rm -f /t/x; mkdir /t/x 2>/dev/null; done"
)
FORBIDDEN = ("/proc", "/sys", "/dev")


def mount_points(info: str) -> list[str]:
    return [line.split()[4] for line in info.splitlines()]


def test_target_swapped_under_attach(containers, tmp_path, state_dir):
    src = tmp_path / "src"
    src.mkdir()
    (src / "marker").write_text("dynvol\n")
    c = containers.run()
    docker("exec", "-d", c, "sh", "-c", SWAPPER)
    host_before = open("/proc/self/mountinfo").read()
    baseline = set(mount_points(mountinfo(c)))
    landed, refused = [], 0
    for _ in range(60):
        r = dynvol("attach", c, f"{src}:/t/x", "--json")
        if r.returncode == 0:
            (row,) = json.loads(r.stdout)
            where = row["target"]
            new = [p for p in mount_points(mountinfo(c)) if p not in baseline]
            assert new == [where], (new, where)
            assert where not in ("/",) and not where.startswith(FORBIDDEN), where
            assert where in ("/t/x", "/t"), where
            landed.append(where)
            d = dynvol("detach", "--lazy", c, where)
            assert d.returncode == 0, d.stderr
        else:
            refused += 1
            err = r.stderr.decode()
            assert r.returncode in (1, 3), err
            assert err.startswith("dynvol: ") and len(err.splitlines()) <= 2, err
            assert "Traceback" not in err
        assert set(mount_points(mountinfo(c))) == baseline
    # nothing leaked to the host (other engines may come and go on a shared host, so only
    # mounts that could be ours count), and procfs/sysfs inside are untouched
    host_new = set(open("/proc/self/mountinfo").read().splitlines()) - set(host_before.splitlines())
    assert not [l for l in host_new if str(src) in l or "/t/x" in l or l.split()[4] in ("/t", "/")]
    assert cexec(c, "cat", "/proc/sys/kernel/ostype").stdout == b"Linux\n"
    assert landed or refused
    assert dynvol("ls", c, "--json").stdout.strip() == b"[]"
