"""Median attach latency per source type, in one run, against a plain bind, with the classic ways.

rows (each timed from the call to a mount visible in the container; detach is outside the timer):
  dynvol bind                 dynvol.attach.attach() of a host directory: the reference row
  dynvol tmpfs                type=tmpfs,tmpfs-size=16m
  dynvol image                type=image of a 16 MiB ext4 file (blkid detects the type)
  dynvol image fstype=ext4    the same with fstype given (no blkid run)
  nsenter tmpfs               nsenter -t PID -m sh -c 'mkdir -p T && mount -t tmpfs ...'
  losetup+nsenter image       losetup --find --show, then nsenter + mknod of the loop device +
                              mount + rm of the node (the container has no loop device node)
Uses DOCKER_HOST if it answers, else starts a private engine with scripts/engine.
Usage: bench/attach_sources.py [--reps N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
IMAGE = "dynvol-busybox"


def sh(*cmd, check=True) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, check=check)


def timed(fn, reps, cleanup):
    out = []
    for i in range(reps):
        t0 = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
        cleanup(i)
    return statistics.median(out)


def ensure_engine() -> None:
    if os.environ.get("DOCKER_HOST") and sh("docker", "version", check=False).returncode == 0:
        return
    if sh("docker", "version", check=False).returncode == 0:
        return
    os.environ["DOCKER_HOST"] = sh(os.path.join(ROOT, "scripts", "engine"), "start",
                                   "/tmp/dynvol-bench-engine").stdout.decode().strip()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=30)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/attach_sources.py: run as root")
    ensure_engine()
    sys.path.insert(0, os.path.join(ROOT, "src"))
    os.environ.setdefault("DYNVOL_STATE_DIR", tempfile.mkdtemp(prefix="dynvol-bench-state-"))
    from dynvol.attach import attach, detach
    from dynvol.linux import loop
    from dynvol.spec import parse_mount, parse_volume

    work = tempfile.mkdtemp(prefix="dynvol-bench-sources-", dir="/var/tmp")
    src = os.path.join(work, "dir")
    os.mkdir(src)
    with open(os.path.join(src, "f"), "w") as f:
        f.write("x\n")
    img = os.path.join(work, "disk.img")
    sh("mkfs.ext4", "-q", "-F", img, "16M")
    sh("debugfs", "-w", "-R", "mkdir marker", img)
    name = f"dynvol-bench-sources-{os.getpid()}"
    sh("docker", "run", "-d", "--network", "none", "--name", name, IMAGE, "sleep", "1000000")
    pid = sh("docker", "inspect", "-f", "{{.State.Pid}}", name).stdout.decode().strip()

    def inside(*cmd) -> bytes:
        return sh("docker", "exec", name, *cmd).stdout

    def ns(script: str) -> None:
        sh("nsenter", "-t", pid, "-m", "sh", "-c", script)

    rows: dict[str, float] = {}
    try:
        api = {
            "dynvol bind": lambda i: [parse_volume(f"{src}:/b{i}")],
            "dynvol tmpfs": lambda i: [parse_mount(f"type=tmpfs,target=/b{i},tmpfs-size=16m")],
            "dynvol image": lambda i: [parse_mount(f"type=image,source={img},target=/b{i}")],
            "dynvol image fstype=ext4": lambda i: [parse_mount(f"type=image,source={img},target=/b{i},"
                                                                "fstype=ext4")],
        }
        checks = {"dynvol bind": ("cat", "/b0/f"), "dynvol tmpfs": ("stat", "-f", "-c", "%T", "/b0"),
                  "dynvol image": ("ls", "/b0/marker"), "dynvol image fstype=ext4": ("ls", "/b0/marker")}
        for label, specs in api.items():
            # warm up, and check the row really mounts what it claims
            attach(name, specs(0))
            inside(*checks[label])
            detach(name, ["/b0"])
            rows[label] = timed(lambda i: attach(name, specs(i)), args.reps,
                                lambda i: detach(name, [f"/b{i}"]))
        if loop.devices_of(img):
            sys.exit("loop device left behind after detach")

        def ns_tmpfs(i):
            ns(f"mkdir -p /n{i} && mount -t tmpfs -o size=16m tmpfs /n{i}")

        def ns_umount(i):
            ns(f"umount /n{i}")

        ns_tmpfs(0)
        assert inside("stat", "-f", "-c", "%T", "/n0").strip() == b"tmpfs"
        ns_umount(0)
        rows["nsenter tmpfs"] = timed(ns_tmpfs, args.reps, ns_umount)

        devs: dict[int, str] = {}

        def losetup_mount(i):
            dev = sh("losetup", "--find", "--show", img).stdout.decode().strip()
            devs[i] = dev
            rdev = os.stat(dev).st_rdev
            ns(f"mknod /dev/dv-bench b {os.major(rdev)} {os.minor(rdev)} && mkdir -p /l{i} && "
               f"mount -t ext4 /dev/dv-bench /l{i} && rm /dev/dv-bench")

        def losetup_cleanup(i):
            ns(f"umount /l{i}")
            sh("losetup", "-d", devs.pop(i))

        losetup_mount(0)
        assert inside("ls", "/l0/marker") is not None
        losetup_cleanup(0)
        rows["losetup+nsenter image"] = timed(losetup_mount, args.reps, losetup_cleanup)
    finally:
        sh("docker", "rm", "-f", name, check=False)
        shutil.rmtree(work, ignore_errors=True)

    ref = rows["dynvol bind"]
    classic = {"dynvol tmpfs": "nsenter tmpfs", "dynvol image": "losetup+nsenter image",
               "dynvol image fstype=ext4": "losetup+nsenter image"}
    print(f"attach latency by source type, median of {args.reps}")
    print(f"{'method':<27}{'median ms':>11}{'vs bind':>10}{'vs classic':>12}")
    for k, v in rows.items():
        vs = f"{v / rows[classic[k]]:>11.2f}x" if k in classic else f"{'':>12}"
        print(f"{k:<27}{v * 1000:>11.2f}{v / ref:>9.2f}x{vs}")


if __name__ == "__main__":
    main()
