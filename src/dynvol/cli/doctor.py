"""``dynvol doctor [CONTAINER]``."""

from __future__ import annotations

import json

import click


def _mark(ok) -> str:
    return "ok " if ok else "no " if ok is not None else "?  "


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("container", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON document.")
def doctor(container, as_json):
    """Check the kernel, the engine and (optionally) CONTAINER; say which attach strategies work."""
    from dynvol.doctor import diagnose

    facts = diagnose(container)
    if as_json:
        click.echo(json.dumps(facts, indent=2))
        return facts["exit_code"]
    k, e = facts["kernel"], facts["engine"]
    click.echo(f"kernel {k['release']}" + ("" if k["root"] else " (not root: some probes need root)"))
    for p in k["probes"]:
        click.echo(f"  {_mark(p['ok'])} {p['name']}: {p['detail']}")
    if e.get("reachable"):
        click.echo(f"engine Docker {e['version']} at {e['host']}, storage driver {e['storage_driver']}"
                   + (", userns-remap on" if e["userns_remap"] else ""))
        click.echo(f"  security options: {', '.join(e['security_options']) or 'none'}")
        if "volumes_idmap" in e:
            click.echo(f"  {_mark(e['volumes_idmap']['ok'])} volumes: {e['volumes_idmap']['detail']}")
    else:
        click.echo(f"engine: unreachable: {e.get('error')}")
    c = facts.get("container")
    if c:
        un = c.get("user_namespace") or {}
        click.echo(f"container {c['name']} ({c['status']})")
        if un.get("enabled") is None:
            click.echo(f"  user namespace: unknown ({un.get('error')})")
        else:
            maps = "; ".join(" ".join(map(str, x)) for x in un["uid_map"])
            click.echo(f"  user namespace: {'yes' if un['enabled'] else 'no'} (uid_map {maps})")
        click.echo(f"  read-only rootfs: {'yes' if c['read_only_rootfs'] else 'no'}")
        click.echo(f"  seccomp: {c['seccomp']}; AppArmor: {c['apparmor']}"
                   + (f"; security-opt: {', '.join(c['security_opt'])}" if c["security_opt"] else ""))
        if not c["mounts"]:
            click.echo("  mounts: none besides the root filesystem")
        for m in c["mounts"]:
            click.echo(f"  mount {m['target']}: {m['type']} {m['source']} ({'rw' if m['rw'] else 'ro'}), "
                       f"propagation {m['propagation'] or m['configured_propagation'] or 'unknown'}")
    click.echo("strategies")
    for s in facts["strategies"]:
        click.echo(f"  {'works' if s['works'] else 'fails'}: {s['name']}")
        click.echo(f"         {s['why']}")
    for h in facts["hints"]:
        click.echo(f"hint: {h}", err=True)
    return facts["exit_code"]
