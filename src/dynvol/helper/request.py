"""The helper's request and response, as plain JSON-serializable data.

attach request::

    {"op": "attach", "pidfd": 5, "pid": 1234,
     "placements": [{"fd": 7, "target": "/data", "kind": "dir", "create": true,
                     "owner": [0, 0], "replace": null | {"target": "/data", "mnt_id": 812}}]}

detach request::

    {"op": "detach", "pidfd": 5, "pid": 1234, "lazy": false,
     "targets": [{"target": "/data", "mnt_id": 812}]}

probe request (resolve targets only, change nothing)::

    {"op": "probe", "pidfd": 5, "pid": 1234, "targets": ["/data"]}

clone request (detached recursive clones of mounts inside *this* container, for
another one: live volumes-from and holder containers)::

    {"op": "clone", "pidfd": 5, "pid": 1234, "sources": ["/data"]}

    results: [{"path": "/data", "kind": "dir", "fd": 0}]  (fd: index into the response's "fds")

Response: ``{"ok": true, "results": [...]}`` or ``{"ok": false, "error": {...}}``
where an error is ``{"kind": "kernel"|"target"|"busy", "message": ..., "index": i, ...}``.
fds are numbers in the helper's own fd table: a forked helper inherits them, a
spawned one receives them through ``pass_fds``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Replace:
    target: str
    mnt_id: int


@dataclass
class Placement:
    fd: int
    target: str
    kind: str  # "dir" or "file": what the source is, and so what the target must be
    create: bool = True
    owner: tuple[int, int] = (0, 0)  # host uid/gid for targets the helper creates
    replace: Replace | None = None


@dataclass
class Target:
    target: str
    mnt_id: int


@dataclass
class Request:
    op: str
    pid: int
    pidfd: int | None = None
    placements: list[Placement] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    probe: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # clone: mount points inside the container
    lazy: bool = False

    def fds(self) -> list[int]:
        out = [p.fd for p in self.placements]
        if self.pidfd is not None:
            out.append(self.pidfd)
        return out

    def renumbered(self, mapping: dict[int, int]) -> "Request":
        """A copy whose fds are renumbered (caller's fd -> helper's fd), for a helper that
        received them over SCM_RIGHTS rather than inheriting them."""
        d = self.to_dict()
        for p in d["placements"]:
            p["fd"] = mapping[p["fd"]]
        if d["pidfd"] is not None:
            d["pidfd"] = mapping[d["pidfd"]]
        return Request.from_dict(d)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Request":
        placements = [Placement(**{**p, "owner": tuple(p.get("owner", (0, 0))),
                                   "replace": Replace(**p["replace"]) if p.get("replace") else None})
                      for p in d.get("placements", [])]
        targets = [Target(**t) for t in d.get("targets", [])]
        return cls(op=d["op"], pid=d["pid"], pidfd=d.get("pidfd"), placements=placements,
                   targets=targets, probe=list(d.get("probe", [])), sources=list(d.get("sources", [])),
                   lazy=d.get("lazy", False))
