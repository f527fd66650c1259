"""``python -m dynvol.helper [--reply-fd N]``: read one JSON request on stdin and answer it.

With ``--reply-fd`` the answer (and any fds it carries) goes over that
SOCK_SEQPACKET socket; without it, as JSON on stdout (then no fds can travel).
"""

import json
import socket
import sys

from dynvol.helper.ops import serve
from dynvol.helper.request import Request
from dynvol.helper.runner import reply  # imported now: after setns the host's files are out of sight


def main(argv: list[str]) -> int:
    req = Request.from_dict(json.load(sys.stdin))
    resp = serve(req)
    if len(argv) == 2 and argv[0] == "--reply-fd":
        with socket.socket(fileno=int(argv[1])) as sock:
            reply(sock, resp)
        return 0
    if resp.pop("fds", None):
        resp = {"ok": False, "error": {"kind": "internal", "message": "this answer carries fds: use --reply-fd"}}
    json.dump(resp, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
