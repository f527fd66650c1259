"""Docker engine adapter.

Hot read-only calls (container and volume inspect) go through a minimal GET
over the engine's unix socket, because importing the Docker SDK costs ~170 ms,
four times the whole budget of one CLI attach. Every other call, and every
non-unix DOCKER_HOST, goes through the Docker SDK for Python.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import urllib.parse
from functools import cached_property

from dynvol.engine import ContainerInfo, EngineMount, VolumeInfo
from dynvol.errors import Conflict, DynvolError, EngineUnreachable, NotFound

DEFAULT_HOST = "unix:///var/run/docker.sock"
API_VERSION = "v1.41"


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


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
            conn = _UnixHTTPConnection(self.host[len("unix://"):], self.timeout)
            try:
                conn.request("GET", f"/{API_VERSION}{path}")
                resp = conn.getresponse()
                body = resp.read()
            except OSError as e:
                raise self._unreachable(e.strerror or e) from e
            finally:
                conn.close()
            try:
                return resp.status, json.loads(body) if body else None
            except ValueError:
                return resp.status, {"message": body.decode(errors="replace")}
        api = self.api
        try:
            resp = api._get(api._url("{0}", path.lstrip("/")))  # noqa: SLF001 - SDK transport
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
            return docker.DockerClient(base_url=self.host, version="auto", timeout=int(self.timeout))
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
        if not ref or "/" in ref.lstrip("/"):
            raise NotFound(f"no such container: {ref!r}")
        status, data = self._get(f"/containers/{urllib.parse.quote(ref.lstrip('/'), safe='')}/json")
        if status == 404:
            raise NotFound(f"no such container: {ref}", hint="see `docker ps -a`")
        if status != 200:
            msg = data.get("message") if isinstance(data, dict) else data
            raise DynvolError(f"inspect container {ref}: {msg}")
        return _container_info(data)

    def containers(self, *, all: bool = True) -> list[ContainerInfo]:
        status, data = self._get(f"/containers/json?all={int(all)}")
        if status != 200:
            raise DynvolError(f"list containers: {data}")
        out = []
        for c in data:
            try:
                out.append(self.container(c["Id"]))
            except NotFound:
                continue
        return out

    # ------------------------------------------------------------ volumes

    def volume(self, name: str) -> VolumeInfo:
        status, data = self._get(f"/volumes/{urllib.parse.quote(name, safe='')}")
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
    )


def _volume_info(d: dict) -> VolumeInfo:
    return VolumeInfo(name=d["Name"], driver=d.get("Driver", "local"), mountpoint=d.get("Mountpoint", ""),
                      options=dict(d.get("Options") or {}), labels=dict(d.get("Labels") or {}),
                      scope=d.get("Scope", "local"), created_at=d.get("CreatedAt", ""))
