"""Median latency of volumes-from and holder-backed attaches, in one run, with ratios.

rows (in-process dynvol.attach.attach() + detach(), each rep timed as a whole):
  plain bind (reference)      a host directory, the cheapest attach
  --from running container    the mount cloned out of a running source container's namespace
  holder volume, shared       a tmpfs volume whose holder container already runs
  holder volume, new holder   a tmpfs volume: create holder, clone, attach, detach, remove holder
  recreate --volumes-from     the classic way: docker rm -f app + docker run --volumes-from src
Uses DOCKER_HOST. Usage: bench/attach_from.py [--reps N]
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
IMAGE = "dynvol-busybox"


def sh(*cmd, check=True):
    return subprocess.run(cmd, capture_output=True, check=check)


def median_ms(fn, reps):
    out = []
    for i in range(reps):
        t0 = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
    return statistics.median(out) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=30)
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(ROOT, "src"))
    os.environ.setdefault("DYNVOL_STATE_DIR", tempfile.mkdtemp(prefix="dynvol-bench-state-"))
    from dynvol.attach import attach, detach
    from dynvol.engine import get_engine
    from dynvol.spec import parse_volume

    engine = get_engine()
    tag = f"dynvol-bench-from-{os.getpid()}"
    app, src, keeper, vol, tvol = f"{tag}-app", f"{tag}-src", f"{tag}-keep", f"{tag}-vol", f"{tag}-tvol"
    hostdir = tempfile.mkdtemp(prefix="dynvol-bench-from-", dir="/var/tmp")
    run = ("docker", "run", "-d", "--network", "none")
    rows: dict[str, float] = {}
    try:
        sh("docker", "volume", "create", vol)
        sh("docker", "volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", tvol)
        sh(*run, "--name", src, "-v", f"{vol}:/data", IMAGE, "sleep", "1000000")
        sh("docker", "exec", src, "sh", "-c", "echo x > /data/f")
        sh(*run, "--name", app, IMAGE, "sleep", "1000000")
        sh(*run, "--name", keeper, IMAGE, "sleep", "1000000")

        def cycle(specs=(), volumes_from=()):
            def go(i):
                attach(app, [parse_volume(s.format(i=i)) for s in specs],
                       volumes_from=[v.format(i=i) for v in volumes_from], engine=engine)
                detach(app, [], all=True, engine=engine)
            return go

        # sanity: each way really shows the content inside, else its time means nothing
        attach(app, [], volumes_from=[f"{src}:/data"], engine=engine)
        assert sh("docker", "exec", app, "cat", "/data/f").stdout == b"x\n", "--from failed"
        detach(app, [], all=True, engine=engine)

        rows["plain bind (reference)"] = median_ms(cycle([f"{hostdir}:/b{{i}}"]), args.reps)
        rows["--from running container"] = median_ms(cycle(volumes_from=[f"{src}:/data"]), args.reps)
        # another container keeps the holder alive: the shared case
        attach(keeper, [parse_volume(f"{tvol}:/t")], engine=engine)
        rows["holder volume, shared"] = median_ms(cycle([f"{tvol}:/t{{i}}"]), args.reps)
        detach(keeper, [], all=True, engine=engine)
        rows["holder volume, new holder"] = median_ms(cycle([f"{tvol}:/t{{i}}"]), args.reps)

        def recreate(i):
            sh("docker", "rm", "-f", app)
            sh(*run, "--name", app, "--volumes-from", src, IMAGE, "sleep", "1000000")

        reps = max(5, args.reps // 3)
        rows["recreate --volumes-from"] = median_ms(recreate, reps)
        assert sh("docker", "exec", app, "cat", "/data/f").stdout == b"x\n", "recreate baseline failed"
    finally:
        sh("docker", "rm", "-f", app, src, keeper, check=False)
        for cid in engine.find_containers("dynvol.holder"):
            sh("docker", "rm", "-f", cid, check=False)
        sh("docker", "volume", "rm", "-f", vol, tvol, check=False)

    ref, recreate_ms = rows["plain bind (reference)"], rows["recreate --volumes-from"]
    print(f"volumes-from and holder attach+detach, median of {args.reps} (recreate: {max(5, args.reps // 3)})")
    print(f"{'method':<28}{'median ms':>11}{'vs bind':>10}{'vs recreate':>13}")
    for k, v in rows.items():
        print(f"{k:<28}{v:>11.2f}{v / ref:>9.2f}x{v / recreate_ms:>12.3f}x")


if __name__ == "__main__":
    main()
