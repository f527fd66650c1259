"""doctor's strategy logic on synthetic facts (no root, no engine)."""

from __future__ import annotations

import copy

from dynvol.doctor import explain, exit_code

PROBES = [{"name": n, "ok": True, "detail": "works"}
          for n in ("new mount API", "mount_setattr", "openat2", "pidfd", "idmapped mounts")]
FACTS = {
    "kernel": {"release": "6.8", "root": True, "probes": PROBES},
    "engine": {"reachable": True, "volumes_idmap": {"ok": True, "detail": "ext4 can be idmapped"}},
    "container": {"name": "app", "status": "running", "running": True,
                  "user_namespace": {"enabled": True, "uid_map": [[0, 100000, 65536]]},
                  "mounts": [{"target": "/data", "propagation": "private"}]},
}


def facts(**changes):
    f = copy.deepcopy(FACTS)
    for path, value in changes.items():
        d = f
        keys = path.split("__")
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = value
    return f


def by_name(strategies, prefix):
    return next(s for s in strategies if s["name"].startswith(prefix))


def test_everything_works():
    s = explain(FACTS)
    assert by_name(s, "dynvol attach")["works"]
    assert by_name(s, "idmap")["works"]
    assert not by_name(s, "symlink a /dev node")["works"]
    assert not by_name(s, "mount onto a host directory")["works"]
    assert by_name(s, "recreate")["works"]
    assert exit_code(FACTS) == 0


def test_the_two_tricks_are_explained_in_plain_words():
    s = explain(FACTS)
    dev = by_name(s, "symlink a /dev node")["why"]
    assert "private tmpfs" in dev and "device cgroup" in dev
    rebind = by_name(s, "mount onto a host directory")["why"]
    assert "rprivate" in rebind and "propagate" in rebind


def test_slave_mount_lets_the_rebind_trick_work_there():
    f = facts(container__mounts=[{"target": "/data", "propagation": "slave"}])
    r = by_name(explain(f), "mount onto a host directory")
    assert r["works"] and "/data" in r["why"]


def test_not_root():
    f = facts(kernel__root=False)
    s = by_name(explain(f), "dynvol attach")
    assert not s["works"] and "root" in s["why"]
    assert exit_code(f) == 4


def test_old_kernel():
    probes = copy.deepcopy(PROBES)
    probes[0] = {"name": "new mount API", "ok": False, "detail": "fsopen is missing: the kernel is older than 5.2"}
    f = facts(kernel__probes=probes)
    s = by_name(explain(f), "dynvol attach")
    assert not s["works"] and "older than 5.2" in s["why"]
    assert exit_code(f) == 5


def test_engine_unreachable_and_stopped_container():
    assert exit_code(facts(engine={"reachable": False, "error": "no socket"})) == 6
    f = facts(container__running=False, container__status="exited")
    assert "not running (exited)" in by_name(explain(f), "dynvol attach")["why"]
    assert exit_code(f) == 1


def test_idmap_without_user_namespace_is_a_no_op():
    f = facts(container__user_namespace={"enabled": False, "uid_map": [[0, 0, 4294967295]]})
    s = by_name(explain(f), "idmap")
    assert s["works"] and "changes nothing" in s["why"]


def test_idmap_unsupported():
    probes = copy.deepcopy(PROBES)
    probes[4] = {"name": "idmapped mounts", "ok": False, "detail": "tmpfs does not support idmapped mounts"}
    s = by_name(explain(facts(kernel__probes=probes)), "idmap")
    assert not s["works"] and "does not support" in s["why"]
