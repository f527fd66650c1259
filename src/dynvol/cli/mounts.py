"""``dynvol attach``, ``detach`` and ``ls``."""

from __future__ import annotations

import json
import time

import click

from dynvol.errors import UsageError


def _parse_specs(positional, volumes, mounts):
    from dynvol.spec import parse_mount, parse_volume

    return [parse_volume(v) for v in (*positional, *volumes)] + [parse_mount(m) for m in mounts]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("container")
@click.argument("specs", nargs=-1, metavar="[SRC:DST[:OPTS]]...")
@click.option("-v", "--volume", "volumes", multiple=True, metavar="SRC:DST[:OPTS]",
              help="Docker -v syntax; SRC is an absolute host path, a volume name, a block device "
                   "or ./IMAGE.img. OPTS: ro, rw, propagation, nocopy, nosuid, nodev, noexec.")
@click.option("--mount", "mounts", multiple=True, metavar="type=...,source=...,target=...",
              help="Docker --mount syntax (type=bind|volume|block|image|tmpfs).")
@click.option("--from", "volumes_from", multiple=True, metavar="CONTAINER[:TARGET][:ro|rw]",
              help="Take the volumes and binds of another container, as --volumes-from (live).")
@click.option("--replace", is_flag=True, help="Replace a dynvol mount already at the target.")
@click.option("--force", is_flag=True,
              help="Attach a block device or image even if it is mounted read-write elsewhere.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
def attach(container, specs, volumes, mounts, volumes_from, replace, force, as_json, quiet):
    """Attach mounts to a running CONTAINER, all or nothing, without restarting it."""
    from dynvol.attach import attach as do_attach

    parsed = _parse_specs(specs, volumes, mounts)
    if volumes_from:
        from dynvol.spec import parse_from

        for f in volumes_from:
            parse_from(f)  # bad syntax is a usage error before anything is looked up
    if not parsed and not volumes_from:
        raise UsageError("nothing to attach", hint="dynvol attach CONTAINER SRC:DST[:OPTS]")
    rows = do_attach(container, parsed, replace=replace, force=force, volumes_from=list(volumes_from))
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in rows]))
    elif not quiet:
        for r in rows:
            click.echo(f"attached {r.source} to {r.container}:{r.target} ({','.join(r.options)})")
    if not quiet:
        from dynvol.sources.idmap import hint

        note = hint(rows)
        if note:
            click.echo(note, err=True)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("container")
@click.argument("targets", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Detach every dynvol mount of CONTAINER.")
@click.option("--lazy", is_flag=True, help="Detach even if busy (MNT_DETACH); users keep access until done.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
def detach(container, targets, all_, lazy, as_json, quiet):
    """Detach dynvol mounts from a running CONTAINER by TARGET path (or --all)."""
    from dynvol.attach import detach as do_detach

    rows = do_detach(container, list(targets), all=all_, lazy=lazy)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in rows]))
    elif not quiet:
        for r in rows:
            click.echo(f"detached {r.container}:{r.target}")


def _ago(ts: float) -> str:
    s = int(time.time() - ts)
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= n:
            return f"{s // n}{unit} ago"
    return f"{s}s ago"


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("container", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="Print only CONTAINER:TARGET.")
def ls(container, as_json, quiet):
    """List what dynvol attached (to CONTAINER, or everywhere), checked against the kernel."""
    from dynvol.attach import ls as do_ls

    live = do_ls(container)
    if as_json:
        click.echo(json.dumps([lv.to_dict() for lv in live], indent=2))
        return
    if quiet:
        for lv in live:
            click.echo(f"{lv.attachment.container}:{lv.entry.mountpoint}")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("CONTAINER", "TARGET", "SOURCE", "TYPE", "OPTIONS", "ATTACHED"):
        table.add_column(col, overflow="fold")
    for lv in live:
        a = lv.attachment
        opts = ["ro" if lv.entry.readonly else "rw", lv.entry.propagation,
                *[o for o in a.options if o not in ("ro", "rw")]]
        table.add_row(a.container, lv.entry.mountpoint, a.source, a.type, ",".join(dict.fromkeys(opts)),
                      _ago(a.attached_at))
    Console(soft_wrap=True).print(table)
