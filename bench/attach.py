"""Median latency of one hot attach, four ways, in one run, with ratios.

rows:
  dynvol CLI          `dynvol attach C SRC:DST` as a new process (what a user types)
  dynvol API          dynvol.attach.attach() in-process
  2015 nsenter script bench/nsenter-2015.sh (nsenter + mknod of the host disk + mount + bind)
  recreate container  docker rm -f + docker run with the extra -v (what people do today)
Only the attach is timed; each detach/cleanup happens outside the timer.
Other benches (bench/attach_*.py) add their own rows when present.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DYNVOL = os.path.join(ROOT, ".venv", "bin", "dynvol")
IMAGE = "dynvol-busybox"


def sh(*cmd, check=True):
    return subprocess.run(cmd, capture_output=True, check=check)


def timed(fn, reps, cleanup=None):
    out = []
    for i in range(reps):
        t0 = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
        if cleanup:
            cleanup(i)
    return statistics.median(out), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=30)
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(ROOT, "src"))
    os.environ.setdefault("DYNVOL_STATE_DIR", tempfile.mkdtemp(prefix="dynvol-bench-state-"))
    from dynvol.attach import attach, detach
    from dynvol.spec import parse_volume

    src = tempfile.mkdtemp(prefix="dynvol-bench-src-", dir="/var/tmp")
    with open(os.path.join(src, "f"), "w") as f:
        f.write("x\n")
    name = f"dynvol-bench-{os.getpid()}"
    sh("docker", "run", "-d", "--network", "none", "--name", name, IMAGE, "sleep", "1000000")
    pid = sh("docker", "inspect", "-f", "{{.State.Pid}}", name).stdout.decode().strip()
    rows = {}
    try:
        # warm caches equally for everyone
        sh(DYNVOL, "attach", "-q", name, f"{src}:/warm")
        sh(DYNVOL, "detach", "-q", name, "/warm")

        rows["dynvol CLI"] = timed(
            lambda i: sh(DYNVOL, "attach", "-q", name, f"{src}:/cli{i}"), args.reps,
            lambda i: sh(DYNVOL, "detach", "-q", name, f"/cli{i}"))[0]
        rows["dynvol API"] = timed(
            lambda i: attach(name, [parse_volume(f"{src}:/api{i}")]), args.reps,
            lambda i: detach(name, [f"/api{i}"]))[0]

        def script(i):
            sh(os.path.join(HERE, "nsenter-2015.sh"), name, src, f"/old{i}")

        def script_cleanup(i):
            sh("nsenter", "-t", pid, "-m", "umount", f"/old{i}")

        # sanity: the baseline really works (content visible inside), else its time means nothing
        script(0)
        assert sh("docker", "exec", name, "cat", "/old0/f").stdout == b"x\n", "2015 script failed"
        script_cleanup(0)
        rows["2015 nsenter script"] = timed(script, args.reps, script_cleanup)[0]

        reps = max(5, args.reps // 3)

        def recreate(i):
            sh("docker", "rm", "-f", name)
            sh("docker", "run", "-d", "--network", "none", "--name", name, "-v", f"{src}:/re{i}",
               IMAGE, "sleep", "1000000")

        rows["recreate container"] = timed(recreate, reps)[0]
    finally:
        sh("docker", "rm", "-f", name, check=False)

    extra = []
    for mod in ("attach_sources", "attach_from"):
        path = os.path.join(HERE, f"{mod}.py")
        if os.path.exists(path):
            extra.append(subprocess.run([sys.executable, path], capture_output=True, text=True))

    script_t, recreate_t = rows["2015 nsenter script"], rows["recreate container"]
    print(f"single hot attach, median of {args.reps} (recreate: {max(5, args.reps // 3)})")
    print(f"{'method':<22}{'median ms':>11}{'vs script':>11}{'vs recreate':>13}")
    for k, v in rows.items():
        print(f"{k:<22}{v * 1000:>11.2f}{v / script_t:>10.2f}x{v / recreate_t:>12.3f}x")
    cli, api = rows["dynvol CLI"], rows["dynvol API"]
    print()
    print("targets:")
    print(f"  CLI <= 1.0x script          {cli / script_t:.2f}x  {'met' if cli <= script_t else 'NOT met'}")
    print(f"  API median <= 5 ms          {api * 1000:.2f} ms  {'met' if api <= 0.005 else 'NOT met'}")
    print(f"  CLI >= 10x faster than recreate  {recreate_t / cli:.1f}x  "
          f"{'met' if recreate_t / cli >= 10 else 'NOT met'}")
    print(f"  API >= 10x faster than recreate  {recreate_t / api:.1f}x  "
          f"{'met' if recreate_t / api >= 10 else 'NOT met'}")
    for r in extra:
        print()
        print(r.stdout.rstrip() or f"(sub-bench failed: {r.stderr.strip().splitlines()[-1:]})")


if __name__ == "__main__":
    main()
