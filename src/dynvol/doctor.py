"""``dynvol doctor``: what this host, engine and container allow, and which attach strategies work.

Plain logic over probes (:mod:`dynvol.linux.features`), the engine's answers
and /proc. :func:`diagnose` returns one JSON-ready dict; :func:`explain` turns
facts into strategies with reasons in plain words, and is pure (unit-tested).
"""

from __future__ import annotations

import os

from dynvol.errors import DynvolError, EngineUnreachable, ExitStatus, NotFound
from dynvol.linux import features, mountinfo, procs, userns

DEV_SYMLINK = (
    "Symlinking a /dev node into a directory the container shares does not work: the container "
    "cannot see host devices. Its /dev is a private tmpfs the engine filled with a few safe nodes, "
    "so a symlink to /dev/sdb1 points at nothing inside, and a device node copied in is refused "
    "anyway, because the device cgroup only allows the devices the container was started with.")
REBIND = (
    "Mounting onto a host directory that is already bind-mounted into the container does not "
    "reach the container: Docker makes bind mounts rprivate, so a mount made on the host later "
    "stays on the host. The container keeps seeing the directory as it was (the new mount does "
    "not propagate into its mount namespace).")


def _seccomp(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Seccomp:"):
                    return {"0": "off", "1": "strict", "2": "filter"}.get(line.split()[1], line.split()[1])
    except OSError:
        pass
    return "unknown"


def _kernel() -> dict:
    probes = features.all_probes()
    return {"release": features.kernel_release(), "root": os.geteuid() == 0,
            "probes": [p.to_dict() for p in probes]}


def _engine_facts(engine) -> dict:
    try:
        info = engine.info()
    except EngineUnreachable as e:
        return {"reachable": False, "error": e.message}
    root_dir = info.get("DockerRootDir", "")
    out = {"reachable": True, "host": engine.host, "version": info.get("ServerVersion", ""),
           "storage_driver": info.get("Driver", ""), "root_dir": root_dir,
           "security_options": info.get("SecurityOptions") or [],
           "userns_remap": any("userns" in s for s in info.get("SecurityOptions") or [])}
    vols = os.path.join(root_dir, "volumes") if root_dir else ""
    if vols and os.path.isdir(vols) and os.geteuid() == 0:
        out["volumes_idmap"] = features.idmap_path(vols).to_dict()
    elif root_dir:
        out["volumes_idmap"] = {"name": "idmapped mounts on the volumes directory", "ok": False,
                                "detail": f"{vols} is not visible here (engine in another mount namespace?)"}
    return out


def _container_facts(engine, ref: str) -> dict:
    info = engine.container(ref)
    out = {"name": info.name, "id": info.id, "status": info.status, "running": info.running,
           "read_only_rootfs": info.read_only, "security_opt": list(info.security_opt),
           "apparmor": info.apparmor or "none", "mounts": []}
    entries = {}
    if info.running:
        try:
            in_ns = procs.in_user_namespace(info.pid)
            out["user_namespace"] = {"enabled": in_ns,
                                     "uid_map": [list(x) for x in userns.read_map(info.pid, "uid")],
                                     "gid_map": [list(x) for x in userns.read_map(info.pid, "gid")]}
            out["seccomp"] = _seccomp(info.pid)
            entries = {e.mountpoint: e for e in mountinfo.read(info.pid)}
        except OSError as e:
            out["user_namespace"] = {"enabled": None, "error": e.strerror}
    else:
        out["user_namespace"] = {"enabled": None, "error": "container is not running"}
    unconfined = any(s.replace("=", ":").startswith("seccomp:unconfined") for s in info.security_opt)
    out.setdefault("seccomp", "unconfined" if unconfined else "unknown (not running)")
    for m in info.mounts:
        e = entries.get(m.target)
        out["mounts"].append({"target": m.target, "type": m.type, "source": m.name or m.source,
                              "rw": m.rw, "configured_propagation": m.propagation or "",
                              "propagation": e.propagation if e else None})
    return out


def explain(facts: dict) -> list[dict]:
    """The attach strategies, whether each works here, and why (plain words). Pure."""
    k = facts["kernel"]
    probes = {p["name"]: p for p in k["probes"]}
    eng = facts.get("engine") or {}
    c = facts.get("container")
    need = ["new mount API", "mount_setattr", "openat2", "pidfd"]
    missing = [f"{n}: {probes[n]['detail']}" for n in need if n in probes and not probes[n]["ok"]]
    if not k["root"]:
        missing.insert(0, "dynvol must run as root (it enters mount namespaces)")
    if not eng.get("reachable", False):
        missing.append(f"the engine is not reachable: {eng.get('error', 'unknown')}")
    if c is not None and not c["running"]:
        missing.append(f"container {c['name']} is not running ({c['status']})")
    base_ok = not missing
    out = [{
        "name": "dynvol attach (new mount API)",
        "works": base_ok,
        "why": ("the host builds a detached mount (open_tree or fsmount), a single-threaded helper "
                "enters the container's mount namespace through a pidfd and move_mount()s it onto a "
                "target resolved with openat2(RESOLVE_IN_ROOT)") if base_ok else "; ".join(missing),
    }]
    idm = probes.get("idmapped mounts", {"ok": False, "detail": "not probed"})
    in_userns = bool(c and (c.get("user_namespace") or {}).get("enabled"))
    if not base_ok:
        why = "needs dynvol attach to work first"
    elif not idm["ok"]:
        why = idm["detail"]
    elif c is not None and not in_userns:
        why = "works, but this container has no user namespace: plain idmap changes nothing here"
    else:
        why = "MOUNT_ATTR_IDMAP maps the container's user namespace onto the mount"
        vi = eng.get("volumes_idmap")
        if vi and not vi["ok"]:
            why += f"; but volumes on this engine: {vi['detail']}"
    out.append({"name": "idmap option (-v SRC:DST:idmap)", "works": base_ok and idm["ok"], "why": why})
    out.append({"name": "--from and holder containers (clone from a container's namespace)",
                "works": base_ok,
                "why": ("open_tree(OPEN_TREE_CLONE) inside the source container's namespace; holders "
                        "need a local image with `sleep` (DYNVOL_HOLDER_IMAGE)") if base_ok
                else "needs dynvol attach to work first"})
    shared = [m["target"] for m in (c or {}).get("mounts", [])
              if (m.get("propagation") or "").startswith(("shared", "slave", "rshared"))]
    out.append({"name": "mount onto a host directory already bind-mounted into the container",
                "works": bool(shared),
                "why": REBIND + (" In this container only " + ", ".join(shared) + " receive host mounts "
                                 "(propagation slave or shared), so there it would work." if shared else "")})
    out.append({"name": "symlink a /dev node into a shared directory", "works": False, "why": DEV_SYMLINK})
    out.append({"name": "nsenter + mknod + mount of the backing block device (2015)",
                "works": bool(k["root"]) and (c is None or c["running"]),
                "why": ("works only for paths on block-device filesystems, briefly exposes the whole "
                        "device inside the container and needs CAP_SYS_ADMIN there; dynvol does not use it")})
    out.append({"name": "recreate the container with -v or --volumes-from", "works": True,
                "why": "always works, but stops the container: processes, connections and in-memory state are lost"})
    return out


def exit_code(facts: dict) -> int:
    k = facts["kernel"]
    probes = {p["name"]: p for p in k["probes"]}
    if not k["root"]:
        return ExitStatus.PERMISSION
    if any(not probes[n]["ok"] for n in ("new mount API", "mount_setattr", "openat2", "pidfd") if n in probes):
        return ExitStatus.UNSUPPORTED
    if not (facts.get("engine") or {}).get("reachable"):
        return ExitStatus.ENGINE
    c = facts.get("container")
    if c is not None and not c["running"]:
        return ExitStatus.FAILED
    return ExitStatus.OK


def diagnose(container: str | None = None, *, engine=None) -> dict:
    """Every fact doctor reports, the strategies, the hints and the exit code, as one dict."""
    if engine is None:
        from dynvol.engine import get_engine

        engine = get_engine()
    facts: dict = {"kernel": _kernel(), "engine": _engine_facts(engine)}
    if container is not None:
        if not facts["engine"]["reachable"]:
            raise EngineUnreachable(facts["engine"]["error"], hint="is dockerd running? is DOCKER_HOST right?")
        facts["container"] = _container_facts(engine, container)
    facts["strategies"] = explain(facts)
    hints = []
    c = facts.get("container")
    if c and (c.get("user_namespace") or {}).get("enabled"):
        root = c["user_namespace"]["uid_map"][0][1] if c["user_namespace"]["uid_map"] else "?"
        hints.append(f"{c['name']} runs in a user namespace (its root is host uid {root}): without idmap, "
                     f"host files show as nobody inside; attach with :idmap to map ownership")
    facts["hints"] = hints
    facts["exit_code"] = int(exit_code(facts))
    return facts


__all__ = ["diagnose", "explain", "exit_code", "DynvolError", "NotFound"]
