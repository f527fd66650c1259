"""Run a helper request in a single-threaded process and return its response.

Forks when this process has exactly one thread (about a millisecond); otherwise
starts a fresh interpreter (``python -m dynvol.helper``) and hands it the fds.
Either way the caller's namespaces never change.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from dynvol.helper.request import Request


def single_threaded() -> bool:
    return len(os.listdir("/proc/self/task")) == 1


def run(req: Request) -> dict:
    if single_threaded():
        return _run_forked(req)
    return _run_spawned(req)


def _run_forked(req: Request) -> dict:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: one thread, a copy of the parent's fds
        code = 0
        try:
            os.close(r)
            from dynvol.helper.ops import serve
            data = json.dumps(serve(req)).encode()
            with os.fdopen(w, "wb") as f:
                f.write(data)
        except BaseException:  # noqa: BLE001
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        return {"ok": False, "error": {"kind": "internal",
                                       "message": f"helper died (wait status {status})"}}
    return json.loads(data)


def _run_spawned(req: Request) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "dynvol.helper"], input=json.dumps(req.to_dict()).encode(),
        capture_output=True, pass_fds=req.fds(), check=False,
    )
    if proc.returncode != 0 or not proc.stdout:
        return {"ok": False, "error": {"kind": "internal",
                                       "message": f"helper exited {proc.returncode}: "
                                                  f"{proc.stderr.decode(errors='replace').strip()}"}}
    return json.loads(proc.stdout)
