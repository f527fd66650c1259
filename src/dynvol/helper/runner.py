"""Run a helper request in a single-threaded process and return its response.

The first request forks a *resident* helper if this process has exactly one
thread; later requests reuse it (no fork per attach), even after the caller
has started threads. The resident closes every fd it inherited but its
socket, so it never pins a mount, receives each request's fds over SCM_RIGHTS,
and goes back to the host mount namespace after each request. If the caller
had threads before any helper existed, each request starts a fresh interpreter
(``python -m dynvol.helper``) instead. Either way the caller's namespaces never
change.

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
import sys
import threading

from dynvol.helper.request import Request

MAX_MESSAGE = 1 << 16
MAX_FDS = 64


def single_threaded() -> bool:
    return len(os.listdir("/proc/self/task")) == 1


def run(req: Request) -> dict:
    resident = _Resident.get()
    if resident is not None:
        return resident.request(req)
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


class _Resident:
    """A helper forked once, while this process was single-threaded, serving requests in turn."""

    _current: "_Resident | None" = None
    _lock = threading.Lock()

    def __init__(self):
        self.sock, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.owner = os.getpid()
        self.pid = os.fork()
        if self.pid == 0:
            code = 1
            try:
                self.sock.close()
                code = _serve_forever(child)
            finally:
                os._exit(code)
        child.close()

    @classmethod
    def get(cls) -> "_Resident | None":
        """The live resident of this process, forking one if it may; None if it may not."""
        r = cls._current
        if r is not None and r.owner == os.getpid():
            return r
        if not single_threaded():
            return None
        cls._current = cls()  # an inherited one (caller forked) is not ours to use
        return cls._current

    def request(self, req: Request) -> dict:
        with self._lock:
            try:
                socket.send_fds(self.sock, [json.dumps(req.to_dict()).encode()], req.fds())
                resp = _receive(self.sock)
            except OSError as e:
                resp = None
                why = str(e)
            else:
                why = "closed its socket"
            if resp is None:  # it died: reap it, and let the next request fork a new one
                self.close()
                return _failed(f"helper died ({why})")
            return resp

    def close(self) -> None:
        if _Resident._current is self:
            _Resident._current = None
        self.sock.close()
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def _serve_forever(sock: socket.socket) -> int:
    """The resident's loop. Runs in a forked child with one thread."""
    keep = sock.fileno()
    os.closerange(3, keep)
    os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))
    from dynvol.helper.ops import serve
    from dynvol.linux import consts as C
    from dynvol.linux import syscalls as sc

    host_ns = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    while True:
        msg, fds, flags, _ = socket.recv_fds(sock, MAX_MESSAGE, MAX_FDS)
        if not msg:
            return 0  # the caller went away
        try:
            req = Request.from_dict(json.loads(msg))
            req = req.renumbered(dict(zip(req.fds(), fds)))
            resp = serve(req)
        finally:
            for fd in fds:
                os.close(fd)
        # Back home before answering; if that fails, never serve again from the wrong place.
        sc.setns(host_ns, C.CLONE_NEWNS, step="return to the host mount namespace")
        out = list(resp.get("fds") or ())
        try:
            reply(sock, resp)
        finally:
            for fd in out:
                os.close(fd)


def _run_spawned(req: Request) -> dict:
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        with child:
            import subprocess  # only this fallback needs it

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
