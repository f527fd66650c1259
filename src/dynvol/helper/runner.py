"""Run a helper request in a single-threaded process and return its response.

Forks when this process has exactly one thread (about a millisecond); otherwise
starts a fresh interpreter (``python -m dynvol.helper``) and hands it the fds.
Either way the caller's namespaces never change.

The answer comes back over a SOCK_SEQPACKET socketpair as one message: the JSON
response, plus any fds the helper opened for the caller (e.g. detached mounts
cloned out of another container's namespace) as SCM_RIGHTS. The response's
``fds`` list holds those fds, renumbered into the caller's fd table; the caller
owns and must close them.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from dynvol.helper.request import Request

MAX_MESSAGE = 1 << 16
MAX_FDS = 64


def single_threaded() -> bool:
    return len(os.listdir("/proc/self/task")) == 1


def run(req: Request) -> dict:
    if single_threaded():
        return _run_forked(req)
    return _run_spawned(req)


def reply(sock: socket.socket, resp: dict) -> None:
    """Send one response (and the fds it lists) to the caller. Used by the helper side."""
    fds = resp.pop("fds", None) or []
    socket.send_fds(sock, [json.dumps(resp).encode()], fds)


def _failed(message: str) -> dict:
    return {"ok": False, "error": {"kind": "internal", "message": message}, "fds": []}


def _receive(sock: socket.socket) -> dict | None:
    """The helper's answer, or None if it closed the socket without one."""
    msg, fds, flags, _ = socket.recv_fds(sock, MAX_MESSAGE, MAX_FDS)
    if not msg or flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
        for fd in fds:
            os.close(fd)
        return None if not msg else _failed("helper answer was truncated")
    resp = json.loads(msg)
    resp["fds"] = fds
    return resp


def _run_forked(req: Request) -> dict:
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:  # child: one thread, a copy of the parent's fds
        code = 0
        try:
            parent.close()
            from dynvol.helper.ops import serve
            reply(child, serve(req))
        except BaseException:  # noqa: BLE001
            code = 1
        finally:
            os._exit(code)
    child.close()
    try:
        resp = _receive(parent)
    finally:
        parent.close()
        _, status = os.waitpid(pid, 0)
    return resp or _failed(f"helper died (wait status {status})")


def _run_spawned(req: Request) -> dict:
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        with child:
            proc = subprocess.run(
                [sys.executable, "-m", "dynvol.helper", "--reply-fd", str(child.fileno())],
                input=json.dumps(req.to_dict()).encode(), capture_output=True,
                pass_fds=[*req.fds(), child.fileno()], check=False,
            )
        resp = _receive(parent)
    finally:
        parent.close()
    return resp or _failed(f"helper exited {proc.returncode}: "
                           f"{proc.stderr.decode(errors='replace').strip()}")
