"""attach / detach / ls against a real dockerd, checked from inside the container."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from dynvol.state import Store
from tests.integration.conftest import cexec, cread, docker, dynvol, mountinfo, out, pid_of


def ok(*args, **kw):
    r = dynvol(*args, **kw)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode()


def proc1_start(container: str) -> str:
    return cread(container, "/proc/1/stat").split()[21]


def test_hot_attach_directory_live_then_detach(container, hostdir, state_dir):
    pid, start = pid_of(container), proc1_start(container)
    assert cread(container, "/data/seed.txt") == "seed\n"  # the image's own /data

    ok("attach", container, f"{hostdir}:/data")
    assert cread(container, "/data/hello.txt") == "hello from the host\n"
    assert cexec(container, "test", "-e", "/data/seed.txt", check=False).returncode != 0
    (hostdir / "live.txt").write_text("changed on the host\n")
    assert cread(container, "/data/live.txt") == "changed on the host\n"
    cexec(container, "sh", "-c", "echo from inside > /data/inside.txt")
    assert (hostdir / "inside.txt").read_text() == "from inside\n"
    assert (pid_of(container), proc1_start(container)) == (pid, start)

    ok("detach", container, "/data")
    assert cread(container, "/data/seed.txt") == "seed\n"
    assert cexec(container, "test", "-e", "/data/hello.txt", check=False).returncode != 0
    assert f" /data " not in mountinfo(container).replace(" /data/", "")
    assert ok("ls", container, "--json").strip() == "[]"
    assert (pid_of(container), proc1_start(container)) == (pid, start)


def test_readonly_write_fails_inside(container, hostdir, state_dir):
    ok("attach", container, "-v", f"{hostdir}:/ro:ro")
    r = cexec(container, "sh", "-c", "echo x > /ro/new", check=False)
    assert r.returncode != 0 and b"Read-only file system" in r.stderr
    assert not (hostdir / "new").exists()
    line = next(l for l in mountinfo(container).splitlines() if l.split()[4] == "/ro")
    assert line.split()[5].split(",")[0] == "ro"


def test_file_over_file_and_missing_target_created(container, hostdir, state_dir):
    ok("attach", container, f"{hostdir}/hello.txt:/etc/app/hello.conf:ro")
    assert cread(container, "/etc/app/hello.conf") == "hello from the host\n"
    assert cexec(container, "stat", "-c", "%u:%g", "/etc/app").stdout.decode().strip() == "0:0"
    ok("detach", container, "/etc/app/hello.conf")
    assert cread(container, "/etc/app/hello.conf") == ""  # the empty placeholder, as Docker leaves


def test_named_volume_and_mount_form(container, volumes, state_dir):
    vol = volumes.create()
    mp = out("volume", "inspect", "-f", "{{.Mountpoint}}", vol)
    with open(os.path.join(mp, "v.txt"), "w") as f:
        f.write("in the volume\n")
    ok("attach", container, "--mount", f"type=volume,source={vol},target=/vol")
    assert cread(container, "/vol/v.txt") == "in the volume\n"
    cexec(container, "sh", "-c", "echo back > /vol/w.txt")
    with open(os.path.join(mp, "w.txt")) as f:
        assert f.read() == "back\n"
    (row,) = json.loads(ok("ls", container, "--json"))
    assert (row["type"], row["source"], row["target"]) == ("volume", vol, "/vol")


def test_missing_named_volume_is_created_like_docker_run(container, volumes, state_dir):
    name = volumes.track(f"dvv-new-{os.getpid()}")
    ok("attach", container, f"{name}:/newvol")
    assert out("volume", "inspect", "-f", "{{.Driver}}", name) == "local"
    cexec(container, "touch", "/newvol/ok")


def test_several_specs_all_or_nothing(container, hostdir, state_dir):
    before = mountinfo(container)
    r = dynvol("attach", container, f"{hostdir}:/new/a", f"{hostdir}/hello.txt:/bin")
    assert r.returncode == 1
    assert "is a directory" in r.stderr.decode()
    assert mountinfo(container) == before
    assert cexec(container, "test", "-e", "/new", check=False).returncode != 0  # created dirs rolled back
    assert Store(str(state_dir)).list() == []


def test_replace(container, hostdir, tmp_path, state_dir):
    other = tmp_path / "other"
    other.mkdir()
    (other / "o.txt").write_text("other\n")
    ok("attach", container, f"{hostdir}:/x")
    r = dynvol("attach", container, f"{other}:/x")
    assert r.returncode == 1 and b"already attached" in r.stderr
    assert cread(container, "/x/hello.txt")
    ok("attach", "--replace", container, f"{other}:/x")
    assert cread(container, "/x/o.txt") == "other\n"
    assert cexec(container, "test", "-e", "/x/hello.txt", check=False).returncode != 0
    rows = json.loads(ok("ls", container, "--json"))
    assert [(r["source"], r["target"]) for r in rows] == [(str(other), "/x")]
    assert sum(1 for l in mountinfo(container).splitlines() if l.split()[4] == "/x") == 1


def test_paused_container(container, hostdir, state_dir):
    docker("pause", container)
    try:
        ok("attach", container, f"{hostdir}:/p")
    finally:
        docker("unpause", container)
    assert cread(container, "/p/hello.txt") == "hello from the host\n"


def test_id_prefix_and_positional(container, hostdir, state_dir):
    cid = out("inspect", "-f", "{{.Id}}", container)
    ok("attach", cid[:12], f"{hostdir}:/byid")
    assert cread(container, "/byid/hello.txt")
    assert ok("ls", "-q") .strip() == f"{container}:/byid"


def test_detach_never_touches_engine_mounts(container, state_dir):
    before = mountinfo(container)
    for target in ("/proc/kcore", "/etc/hosts", "/dev/shm", "/"):
        r = dynvol("detach", container, target)
        assert r.returncode == 3, (target, r.stderr)
        assert r.stderr.decode().startswith(f"dynvol: no dynvol mount at {container}:{target}")
    assert mountinfo(container) == before


def test_busy_detach_lists_holders_then_lazy(container, hostdir, state_dir):
    ok("attach", container, f"{hostdir}:/busy")
    docker("exec", "-d", "-w", "/busy", container, "sleep", "1000")
    time.sleep(0.5)
    r = dynvol("detach", container, "/busy")
    err = r.stderr.decode()
    assert r.returncode == 1 and "busy" in err and "sleep" in err and "cwd" in err
    assert cread(container, "/busy/hello.txt")  # still attached
    ok("detach", "--lazy", container, "/busy")
    assert cexec(container, "test", "-e", "/busy/hello.txt", check=False).returncode != 0
    assert ok("ls", container, "-q") == ""


def test_ls_survives_manual_umount_restart_and_crash(container, hostdir, state_dir):
    ok("attach", container, f"{hostdir}:/m1", f"{hostdir}:/m2", f"{hostdir}:/m3")
    # a manual umount from inside the namespace
    subprocess.run(["nsenter", "-t", str(pid_of(container)), "-m", "umount", "/m1"], check=True)
    # a crash between recording and placing: a row for a mount that never arrived
    store = Store(str(state_dir))
    (row,) = [r for r in store.list() if r.target == "/m2"]
    row.id, row.mnt_id, row.target = None, 999999, "/never"
    store.add(row)
    # a crash before the resolved target was recorded: the row names another path
    (m3,) = [r for r in store.list() if r.target == "/m3"]
    store.update_target(m3.id, "/m3-unresolved")
    assert [r["target"] for r in json.loads(ok("ls", container, "--json"))] == ["/m2", "/m3"]
    assert len(Store(str(state_dir)).list()) == 2
    docker("restart", "-t", "0", container)
    assert ok("ls", "--json").strip() == "[]"
    assert Store(str(state_dir)).list() == []
    assert cexec(container, "test", "-e", "/m2/hello.txt", check=False).returncode != 0


def test_in_process_api(container, hostdir, state_dir):
    from dynvol.attach import attach, detach, ls
    from dynvol.spec import parse_volume

    (row,) = attach(container, [parse_volume(f"{hostdir}:/api:ro")])
    assert row.target == "/api" and row.options == ["ro"]
    assert cread(container, "/api/hello.txt")
    assert [lv.entry.mountpoint for lv in ls(container)] == ["/api"]
    assert [a.target for a in detach(container, ["/api"])] == ["/api"]
    assert ls(container) == []
