"""Reaching a volume's files: straight from the host, or through a short-lived helper container.

- Local engine, ``local`` driver without driver options: the volume's
  Mountpoint on this host is its data; dynvol reads and writes it directly.
- Local engine, any other driver (or driver options, which mean the volume is
  only mounted while a container uses it): a helper container mounts the
  volume at /v and dynvol reaches it as ``/proc/PID/root/v``. Still host tools,
  still full fidelity.
- Remote engine (tcp://, ssh://, ...): the helper runs the work itself. dynvol
  copies this host's GNU tar, sh and a few coreutils (with their shared
  libraries and loader) into the helper, so the helper image only has to exist;
  it needs no tar of its own, and busybox's tar (which drops xattrs, ACLs and
  holes) is never used.
"""

from __future__ import annotations

import io
import os
import platform
import re
import shutil
import subprocess
import tarfile
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

from dynvol.errors import DynvolError, NotFound, Unsupported

TOOLS_DIR = "/.dynvol-tools"
TOOLS = ("tar", "sh", "mv", "rm", "mkdir", "sleep")
HELPER_ROOT = "/v"
DEFAULT_HELPER_IMAGE = "busybox:latest"
SLEEP_FOREVER = "2147483647"


def helper_image(image: str | None) -> str:
    return image or os.environ.get("DYNVOL_HELPER_IMAGE") or DEFAULT_HELPER_IMAGE


def tool(name: str) -> list[str]:
    """argv prefix that runs an injected tool inside the helper."""
    return [f"{TOOLS_DIR}/ld.so", "--library-path", TOOLS_DIR, f"{TOOLS_DIR}/{name}"]


@lru_cache(maxsize=1)
def tools_bundle() -> bytes:
    """A tar of this host's tools, their libraries and the dynamic loader, rooted at TOOLS_DIR."""
    files: dict[str, str] = {}
    loader = None
    for name in TOOLS:
        path = shutil.which(name) or (f"/bin/{name}" if os.path.exists(f"/bin/{name}") else None)
        if path is None:
            raise DynvolError(f"cannot find {name} on this host to copy into the helper container")
        files[name] = os.path.realpath(path)
        out = subprocess.run(["ldd", files[name]], capture_output=True, text=True).stdout
        for line in out.splitlines():
            m = re.search(r"=>\s*(/\S+)", line)
            if m:
                files[os.path.basename(m.group(1))] = os.path.realpath(m.group(1))
            elif line.strip().startswith("/"):
                loader = os.path.realpath(line.split()[0])
    if loader is None:
        raise Unsupported("cannot find this host's dynamic loader to run tools in the helper container")
    files["ld.so"] = loader
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        d = tarfile.TarInfo(TOOLS_DIR.lstrip("/"))
        d.type, d.mode = tarfile.DIRTYPE, 0o755
        t.addfile(d)
        for name, path in sorted(files.items()):
            ti = t.gettarinfo(path, arcname=f"{TOOLS_DIR.lstrip('/')}/{name}")
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = ""
            ti.mode = 0o755
            with open(path, "rb") as f:
                t.addfile(ti, f)
    return buf.getvalue()


@dataclass
class Access:
    """A way into one volume: ``path`` on this host, or ``helper`` (a container ID) on a remote engine."""

    engine: object
    volume: str
    path: str | None = None
    helper: str | None = None

    @property
    def remote(self) -> bool:
        return self.path is None

    def run(self, *argv: str) -> tuple[int, str]:
        """Run an injected tool in the helper; (exit code, stderr+stdout text)."""
        ex = self.engine.exec_stream(self.helper, [*tool(argv[0]), *argv[1:]])
        out = b"".join(ex.stdout_chunks())
        code = ex.finish()
        return code, (bytes(ex.stderr) + out).decode(errors="replace")

    def shell(self, script: str) -> tuple[int, str]:
        """Run a POSIX sh script in the helper; ``run NAME ARGS`` calls an injected tool."""
        prelude = f'D={TOOLS_DIR}; run() {{ "$D/ld.so" --library-path "$D" "$D/$@"; }}\n'
        return self.run("sh", "-c", prelude + script)


def is_direct(engine, vol) -> bool:
    if os.environ.get("DYNVOL_FORCE_HELPER"):
        return False
    return (engine.is_local and vol.driver == "local" and not vol.options and bool(vol.mountpoint)
            and os.path.isdir(vol.mountpoint))


@contextmanager
def open_volume(engine, vol, *, write: bool, image: str | None = None):
    """Yield an :class:`Access` to ``vol``; a helper container lives exactly as long as the block."""
    if is_direct(engine, vol):
        yield Access(engine, vol.name, path=vol.mountpoint)
        return
    image = helper_image(image)
    if not engine.image_exists(image):
        raise NotFound(f"helper image {image} is not on the engine at {engine.host}",
                       hint="pull it there (docker pull busybox), or pass --helper-image IMAGE")
    if not engine.is_local:
        _check_arch(engine)
    cid = engine.run_helper(image, [*tool("sleep"), SLEEP_FOREVER], files=tools_bundle(),
                            volumes={vol.name: (HELPER_ROOT, not write)},
                            labels={"dynvol.volume": vol.name})
    try:
        if engine.is_local:
            info = engine.container(cid)
            yield Access(engine, vol.name, path=f"/proc/{info.pid}/root{HELPER_ROOT}")
        else:
            yield Access(engine, vol.name, helper=cid)
    finally:
        engine.remove_container(cid)


def _check_arch(engine) -> None:
    info = engine.info()
    arch = info.get("Architecture", "")
    here = platform.machine()
    if info.get("OSType", "linux") != "linux" or (arch and arch != here):
        raise Unsupported(f"the engine at {engine.host} runs {info.get('OSType')}/{arch}, this host {here}: "
                          "dynvol cannot run its tar there", hint="run dynvol on a host of the same architecture")


def token() -> str:
    return uuid.uuid4().hex[:12]
