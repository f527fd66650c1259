"""The engine layer: the only place that talks to Docker (and, later, other engines).

Everything above this layer sees plain dataclasses (:class:`ContainerInfo`,
:class:`VolumeInfo`), never SDK objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class EngineMount:
    """A mount the engine itself configured (from inspect's Mounts)."""

    type: str
    source: str
    target: str
    name: str | None
    rw: bool
    propagation: str
    driver: str | None = None


@dataclass(frozen=True)
class ContainerInfo:
    id: str
    name: str
    pid: int
    status: str  # created, running, paused, restarting, removing, exited, dead
    started_at: str
    read_only: bool = False
    mounts: tuple[EngineMount, ...] = field(default=())
    masked_paths: tuple[str, ...] = field(default=())
    readonly_paths: tuple[str, ...] = field(default=())
    labels: dict = field(default_factory=dict)
    image: str = ""  # image ID: present locally for as long as the container exists
    userns_mode: str = ""  # HostConfig.UsernsMode ("host" opts out of an engine's userns-remap)
    security_opt: tuple[str, ...] = field(default=())
    apparmor: str = ""  # AppArmorProfile the engine applied ("" when AppArmor is off)

    @property
    def running(self) -> bool:
        return self.status in ("running", "paused") and self.pid > 0


@dataclass(frozen=True)
class VolumeInfo:
    name: str
    driver: str
    mountpoint: str
    options: dict
    labels: dict
    scope: str = "local"
    created_at: str = ""


def get_engine(host: str | None = None):
    """The engine for ``host`` (default: DOCKER_HOST, else the local socket)."""
    from dynvol.engine.docker import DockerEngine

    return DockerEngine(host)
