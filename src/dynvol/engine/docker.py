"""Docker engine adapter.

Hot read-only calls (container and volume inspect) go through a minimal GET
over the engine's unix socket, because importing the Docker SDK costs ~170 ms,
four times the whole budget of one CLI attach. Every other call, and every
non-unix DOCKER_HOST, goes through the Docker SDK for Python.
"""

from __future__ import annotations

import json
import os
import socket
import re
from functools import cached_property

from dynvol.engine import ContainerInfo, EngineMount, VolumeInfo
from dynvol.errors import Conflict, DynvolError, EngineUnreachable, NotFound

DEFAULT_HOST = "unix:///var/run/docker.sock"
API_VERSION = "v1.41"
# Names, IDs and ID prefixes of containers and volumes: nothing in them needs URL quoting.
_REF = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


def _quote(s: str) -> str:
    from urllib.parse import quote  # not at import time: the attach path never needs it

    return quote(s, safe="")


def _unix_get(path: str, url: str, timeout: float) -> tuple[int, bytes]:
    """One HTTP/1.0 GET over a unix socket: the server closes after the body, so no chunking.

    http.client would pull in the email package (~20 ms of imports) for this one request.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(f"GET {url} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
        chunks = []
        while data := s.recv(65536):
            chunks.append(data)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        raise OSError(f"malformed reply from the engine: {head[:80]!r}") from None
    return status, body


class DockerEngine:
    name = "docker"

    def __init__(self, host: str | None = None, *, timeout: float = 60.0):
        self.host = host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST
        self.timeout = timeout

    # ------------------------------------------------------------ transport

    def _unreachable(self, cause: object) -> EngineUnreachable:
        return EngineUnreachable(f"cannot reach the Docker engine at {self.host}: {cause}",
                                 hint="is dockerd running? is DOCKER_HOST right?")

    def _get(self, path: str) -> tuple[int, object]:
        """GET ``path`` from the engine API; returns (status, decoded JSON)."""
        if self.host.startswith("unix://"):
            try:
                status, body = _unix_get(self.host[len("unix://"):], f"/{API_VERSION}{path}", self.timeout)
            except OSError as e:
                raise self._unreachable(e.strerror or e) from e
            try:
                return status, json.loads(body) if body else None
            except ValueError:
                return status, {"message": body.decode(errors="replace")}
        api = self.api
        try:
            # path is already quoted and may carry a query: no _url() (it would quote '?').
            resp = api._get(f"{api.base_url}/v{api._version}{path}")  # noqa: SLF001 - SDK transport
        except Exception as e:  # noqa: BLE001 - transport errors differ by scheme
            raise self._unreachable(e) from e
        try:
            return resp.status_code, resp.json()
        except ValueError:
            return resp.status_code, {"message": resp.text}

    @cached_property
    def client(self):
        import docker

        try:
            # ssh:// goes through the system ssh client, as the docker CLI does (no paramiko)
            return docker.DockerClient(base_url=self.host, version="auto", timeout=int(self.timeout),
                                       use_ssh_client=self.host.startswith("ssh://"))
        except docker.errors.DockerException as e:
            raise self._unreachable(e) from e

    @property
    def api(self):
        return self.client.api

    def sdk_call(self, what: str, fn, *args, **kwargs):
        """Run an SDK call, mapping its errors into dynvol's."""
        import docker
        import requests

        try:
            return fn(*args, **kwargs)
        except docker.errors.NotFound as e:
            raise NotFound(f"{what}: {e.explanation or e}") from e
        except docker.errors.APIError as e:
            if e.status_code == 409:
                raise Conflict(f"{what}: {e.explanation or e}") from e
            raise DynvolError(f"{what}: {e.explanation or e}") from e
        except (requests.exceptions.ConnectionError, docker.errors.DockerException) as e:
            raise self._unreachable(e) from e

    # ------------------------------------------------------------ containers

    def container(self, ref: str) -> ContainerInfo:
        """Inspect a container by name, ID or unique ID prefix."""
        if not _REF.match(ref):
            raise NotFound(f"no such container: {ref!r}", hint="see `docker ps -a`")
        status, data = self._get(f"/containers/{ref.lstrip('/')}/json")
        if status == 404:
            raise NotFound(f"no such container: {ref}", hint="see `docker ps -a`")
        if status != 200:
            msg = data.get("message") if isinstance(data, dict) else data
            raise DynvolError(f"inspect container {ref}: {msg}")
        return _container_info(data)

    # ------------------------------------------------------------ holders, images, engine info
    # (volumes-from and holder containers: containers dynvol creates only to make the
    # engine mount a volume, removed when the last attachment using them goes)

    def find_containers(self, label: str) -> list[str]:
        """IDs of containers (any state) carrying ``label`` ("key" or "key=value")."""
        filters = _quote(json.dumps({"label": [label]}))
        status, data = self._get(f"/containers/json?all=1&filters={filters}")
        if status != 200:
            raise DynvolError(f"list containers labelled {label}: {data}")
        return [c["Id"] for c in data]

    def image_exists(self, ref: str) -> bool:
        status, _ = self._get(f"/images/{_quote(ref)}/json")
        return status == 200

    def info(self) -> dict:
        """The engine's /info (ServerVersion, storage driver, security options, root dir, arch)."""
        status, data = self._get("/info")
        if status != 200:
            raise DynvolError(f"engine info: {data}")
        return data

    def run_holder(self, volume: str, *, image: str, command: list[str], target: str,
                   labels: dict) -> ContainerInfo:
        """Create and start a container that only keeps ``volume`` mounted at ``target``.

        No network, no capabilities, the volume's content is never copied into
        (nocopy). Removed again if it does not start.
        """
        from docker.types import Mount

        api = self.api
        host_config = api.create_host_config(
            mounts=[Mount(target, volume, type="volume", no_copy=True)], network_mode="none",
            cap_drop=["ALL"], security_opt=["no-new-privileges"], restart_policy={"Name": "no"})
        c = self.sdk_call(f"create a holder container for volume {volume}", api.create_container,
                          image, entrypoint=command[:1], command=command[1:], labels=labels,
                          host_config=host_config, network_disabled=True)
        try:
            self.sdk_call(f"start the holder container for volume {volume}", api.start, c["Id"])
            info = self.container(c["Id"])
            if not info.running:
                raise DynvolError(f"the holder container for volume {volume} exited ({info.status})")
        except BaseException:
            self.remove_container(c["Id"])
            raise
        return info

    def remove_container(self, ref: str) -> None:
        """Force-remove a container dynvol created; its named volumes stay."""
        try:
            self.sdk_call(f"remove container {ref}", self.api.remove_container, ref, force=True, v=False)
        except NotFound:
            pass

    # ------------------------------------------------------------ volumes

    def volume(self, name: str) -> VolumeInfo:
        if not _REF.match(name):
            raise NotFound(f"no such volume: {name!r}", hint="see `docker volume ls`")
        status, data = self._get(f"/volumes/{name}")
        if status == 404:
            raise NotFound(f"no such volume: {name}", hint="see `docker volume ls`")
        if status != 200:
            raise DynvolError(f"inspect volume {name}: {data}")
        return _volume_info(data)

    def create_volume(self, name: str | None = None, *, driver: str | None = None,
                      options: dict | None = None, labels: dict | None = None) -> VolumeInfo:
        kwargs = {"driver": driver or "local", "driver_opts": options or None, "labels": labels or None}
        if name:
            kwargs["name"] = name
        v = self.sdk_call(f"create volume {name or '(anonymous)'}", self.api.create_volume, **kwargs)
        return _volume_info(v)

    def remove_volume(self, name: str, *, force: bool = False) -> None:
        self.sdk_call(f"remove volume {name}", self.api.remove_volume, name, force=force)

    # ------------------------------------------------------------ data volumes (issue 4: backup,
    # restore, clone, migrate). Kept together at the end of the class on purpose.

    @property
    def is_local(self) -> bool:
        """True when the engine runs on this machine, so its volume paths and PIDs are ours too."""
        return self.host.startswith("unix://")

    def volumes(self) -> list[VolumeInfo]:
        status, data = self._get("/volumes")
        if status != 200:
            raise DynvolError(f"list volumes: {data}")
        return [_volume_info(v) for v in (data or {}).get("Volumes") or []]

    def volume_sizes(self) -> dict[str, int]:
        """Bytes used per volume, as `docker system df -v` computes them (-1 when unknown)."""
        status, data = self._get("/system/df")
        if status != 200:
            raise DynvolError(f"disk usage: {data}")
        return {v["Name"]: int((v.get("UsageData") or {}).get("Size", -1))
                for v in (data or {}).get("Volumes") or []}

    def containers_using_volume(self, name: str) -> list[ContainerInfo]:
        """Every container (running or not) whose engine-configured mounts include volume ``name``."""
        flt = _quote(json.dumps({"volume": [name]}))
        status, data = self._get(f"/containers/json?all=1&filters={flt}")
        if status != 200:
            raise DynvolError(f"list containers using volume {name}: {data}")
        out = []
        for c in data:
            try:
                info = self.container(c["Id"])
            except NotFound:
                continue
            if any(m.type == "volume" and m.name == name for m in info.mounts):
                out.append(info)
        return out

    def pause(self, ref: str) -> None:
        self.sdk_call(f"pause container {ref}", self.api.pause, ref)

    def unpause(self, ref: str) -> None:
        self.sdk_call(f"unpause container {ref}", self.api.unpause, ref)

    def stop(self, ref: str, *, timeout: int = 10) -> None:
        self.sdk_call(f"stop container {ref}", self.api.stop, ref, timeout=timeout)

    def start(self, ref: str) -> None:
        self.sdk_call(f"start container {ref}", self.api.start, ref)

    def run_helper(self, image: str, command: list[str], *, volumes: dict[str, tuple[str, bool]],
                   files: bytes | None = None, labels: dict | None = None) -> str:
        """Start a short-lived helper container (no network, root, no restart) and return its ID.

        ``volumes`` maps a volume name to (target, read_only). ``files`` is a tar
        archive copied into the container's / before it starts.
        """
        binds = [f"{name}:{target}:{'ro' if ro else 'rw'}" for name, (target, ro) in volumes.items()]
        # SYS_ADMIN: trusted.* xattrs can only be read and written with it.
        host_config = self.api.create_host_config(binds=binds, network_mode="none", auto_remove=False,
                                                  cap_add=["SYS_ADMIN"])
        c = self.sdk_call(f"create helper container from {image}", self.api.create_container,
                          image, command=command, user="0:0", host_config=host_config,
                          network_disabled=True, labels={"dynvol.helper": "1", **(labels or {})},
                          entrypoint=[])
        cid = c["Id"]
        try:
            if files is not None:
                self.sdk_call("copy tools into the helper container", self.api.put_archive, cid, "/", files)
            self.sdk_call("start helper container", self.api.start, cid)
        except BaseException:
            self.remove_container(cid)
            raise
        return cid

    def exec_stream(self, ref: str, command: list[str], *, stdin: bool = False) -> "ExecStream":
        """Run ``command`` in a running container with its stdio as a raw stream (see :class:`ExecStream`)."""
        ex = self.sdk_call(f"exec in {ref}", self.api.exec_create, ref, command, stdin=stdin, stdout=True,
                           stderr=True, tty=False)
        sock = self.sdk_call(f"exec in {ref}", self.api.exec_start, ex["Id"], socket=True)
        return ExecStream(self, ex["Id"], sock)

    def exec_status(self, exec_id: str) -> int | None:
        return self.sdk_call("inspect exec", self.api.exec_inspect, exec_id).get("ExitCode")


def _container_info(d: dict) -> ContainerInfo:
    state = d.get("State", {})
    host = d.get("HostConfig", {}) or {}
    mounts = tuple(
        EngineMount(type=m.get("Type", ""), source=m.get("Source", ""), target=m.get("Destination", ""),
                    name=m.get("Name"), rw=bool(m.get("RW")), propagation=m.get("Propagation", ""),
                    driver=m.get("Driver"))
        for m in d.get("Mounts") or [])
    status = state.get("Status", "")
    return ContainerInfo(
        id=d["Id"], name=d.get("Name", "").lstrip("/"), pid=int(state.get("Pid") or 0),
        status=status, started_at=state.get("StartedAt", ""), read_only=bool(host.get("ReadonlyRootfs")),
        mounts=mounts, masked_paths=tuple(host.get("MaskedPaths") or ()),
        readonly_paths=tuple(host.get("ReadonlyPaths") or ()),
        labels=dict((d.get("Config") or {}).get("Labels") or {}),
        image=d.get("Image", ""), userns_mode=host.get("UsernsMode") or "",
        security_opt=tuple(host.get("SecurityOpt") or ()), apparmor=d.get("AppArmorProfile") or "",
    )


def _volume_info(d: dict) -> VolumeInfo:
    return VolumeInfo(name=d["Name"], driver=d.get("Driver", "local"), mountpoint=d.get("Mountpoint", ""),
                      options=dict(d.get("Options") or {}), labels=dict(d.get("Labels") or {}),
                      scope=d.get("Scope", "local"), created_at=d.get("CreatedAt", ""))


class ExecStream:
    """The hijacked stdio of one ``docker exec``: write stdin, read demultiplexed stdout.

    Docker multiplexes stdout and stderr on one connection in frames of an
    8-byte header (stream, 0, 0, 0, big-endian size) and a payload.
    """

    def __init__(self, engine: DockerEngine, exec_id: str, sock):
        self.engine = engine
        self.exec_id = exec_id
        self._io = sock
        self.sock = getattr(sock, "_sock", sock)
        self.stderr = bytearray()
        self._buf = b""

    def write(self, data) -> None:
        self.sock.sendall(data)

    def close_stdin(self) -> None:
        import socket as _s

        try:
            self.sock.shutdown(_s.SHUT_WR)
        except OSError:
            pass

    def _recv(self, n: int) -> bytes:
        return self.sock.recv(n)

    def _exact(self, n: int) -> bytes | None:
        parts, got = [], 0
        while got < n:
            b = self._recv(min(n - got, 1 << 20))
            if not b:
                return None
            parts.append(b)
            got += len(b)
        return b"".join(parts)

    def stdout_chunks(self):
        """Yield stdout payloads until the stream ends; stderr is kept in :attr:`stderr`."""
        while True:
            head = self._exact(8)
            if head is None:
                return
            stream, size = head[0], int.from_bytes(head[4:8], "big")
            while size:
                b = self._recv(min(size, 1 << 20))
                if not b:
                    return
                size -= len(b)
                if stream == 1:
                    yield b
                else:
                    self.stderr += b

    def finish(self) -> int:
        """Drain the output, close the stream and return the exit code."""
        for _ in self.stdout_chunks():
            pass
        self.close()
        for _ in range(100):
            code = self.engine.exec_status(self.exec_id)
            if code is not None:
                return code
            import time

            time.sleep(0.05)
        return -1

    def close(self) -> None:
        for s in (self._io, self.sock):
            try:
                s.close()
            except OSError:
                pass
