"""``python -m dynvol.helper``: read one JSON request on stdin, answer one JSON response on stdout."""

import json
import sys

from dynvol.helper.ops import serve
from dynvol.helper.request import Request


def main() -> int:
    req = Request.from_dict(json.load(sys.stdin))
    json.dump(serve(req), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
