"""``dynvol doctor``: facts checked against the engine and the container themselves."""

from __future__ import annotations

import json

from tests.integration.conftest import docker, dynvol, out
from tests.integration.engines import userns_engine, userns_engine_host  # noqa: F401 (fixtures)


def doctor(*args, env=None):
    r = dynvol("doctor", *args, env=env)
    return r, (json.loads(r.stdout) if "--json" in args and r.stdout else None)


def strategy(facts, prefix):
    return next(s for s in facts["strategies"] if s["name"].startswith(prefix))


def test_doctor_host_and_engine(state_dir):
    r, facts = doctor("--json")
    assert r.returncode == 0, r.stderr.decode()
    probes = {p["name"]: p["ok"] for p in facts["kernel"]["probes"]}
    assert probes == {"new mount API": True, "mount_setattr": True, "openat2": True, "pidfd": True,
                      "idmapped mounts": True}
    assert facts["engine"]["storage_driver"] == out("info", "-f", "{{.Driver}}")
    assert facts["engine"]["version"] == out("version", "-f", "{{.Server.Version}}")
    assert facts["engine"]["userns_remap"] is False
    assert strategy(facts, "dynvol attach")["works"] is True
    assert facts["exit_code"] == 0


def test_doctor_container_mounts_and_the_two_tricks(containers, tmp_path, state_dir):
    name = containers.run("--read-only", "-v", f"{tmp_path}:/host", "--security-opt", "seccomp=unconfined")
    r, facts = doctor(name, "--json")
    assert r.returncode == 0, r.stderr.decode()
    c = facts["container"]
    assert c["name"] == name and c["running"] is True
    assert c["read_only_rootfs"] is True
    assert c["user_namespace"]["enabled"] is False
    assert c["seccomp"] == "off"
    (m,) = c["mounts"]
    assert (m["target"], m["type"], m["propagation"]) == ("/host", "bind", "private")
    dev = strategy(facts, "symlink a /dev node")
    assert dev["works"] is False and "private tmpfs" in dev["why"] and "device cgroup" in dev["why"]
    rebind = strategy(facts, "mount onto a host directory")
    assert rebind["works"] is False and "rprivate" in rebind["why"] and "propagate" in rebind["why"]
    assert facts["hints"] == []


def test_doctor_human_output(container, state_dir):
    r, _ = doctor(container)
    assert r.returncode == 0
    text = r.stdout.decode()
    for needle in ("kernel ", "new mount API", "openat2", "idmapped mounts", "storage driver",
                   f"container {container} (running)", "user namespace: no", "read-only rootfs: no",
                   "seccomp: filter", "fails: symlink a /dev node", "works: dynvol attach"):
        assert needle in text, needle


def test_doctor_userns_container_hints_idmap(userns_engine, state_dir):
    app = userns_engine.run()
    env = {"DOCKER_HOST": userns_engine.host}
    r, facts = doctor(app, "--json", env=env)
    assert r.returncode == 0, r.stderr.decode()
    assert facts["engine"]["userns_remap"] is True
    un = facts["container"]["user_namespace"]
    assert un["enabled"] is True and un["uid_map"][0] == [0, 100000, 65536]
    assert strategy(facts, "idmap option")["works"] is True
    r, _ = doctor(app, env=env)
    hints = r.stderr.decode().splitlines()
    assert len(hints) == 1 and hints[0].startswith("hint: ") and ":idmap" in hints[0]


def test_doctor_stopped_and_missing_container(containers, state_dir):
    stopped = containers.create()
    r, facts = doctor(stopped, "--json")
    assert r.returncode == 1
    assert strategy(facts, "dynvol attach")["works"] is False
    assert "is not running (created)" in strategy(facts, "dynvol attach")["why"]
    r, _ = doctor("no-such-container")
    assert r.returncode == 3
    assert r.stderr.decode().splitlines()[0] == "dynvol: no such container: no-such-container"


def test_doctor_engine_unreachable(tmp_path, state_dir):
    r, facts = doctor("--json", env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    assert r.returncode == 6
    assert facts["engine"]["reachable"] is False
    assert "not reachable" in strategy(facts, "dynvol attach")["why"]
    assert docker("version").returncode == 0  # the real engine was not touched
