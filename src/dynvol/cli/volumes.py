"""``dynvol volume ls|inspect``, ``backup``, ``restore``, ``verify``, ``clone`` and ``migrate``."""

from __future__ import annotations

import json
import sys

import click

CTX = {"help_option_names": ["-h", "--help"]}


def _warn(quiet: bool):
    def warn(msg: str) -> None:
        if not quiet:
            click.echo(f"dynvol: warning: {msg}", err=True)
    return warn


def _show(quiet: bool, as_json: bool) -> bool:
    from dynvol.volumes.progress import enabled

    return enabled(quiet=quiet, as_json=as_json)


def _human(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1000
    return str(n)


def _consistency(pause: bool, stop: bool) -> str:
    from dynvol.errors import UsageError

    if pause and stop:
        raise UsageError("give --pause or --stop, not both")
    return "pause" if pause else "stop" if stop else "live"


def _quiesce_options(f):
    f = click.option("--stop-timeout", type=int, default=10, show_default=True, metavar="SECONDS",
                     help="With --stop: seconds to wait before killing.")(f)
    f = click.option("--stop", is_flag=True, help="Stop the containers using the volume while it is read, "
                                                  "then start them again.")(f)
    f = click.option("--pause", is_flag=True, help="Pause the containers using the volume while it is read.")(f)
    return f


def _common(f):
    f = click.option("-q", "--quiet", is_flag=True, help="Print nothing on success; no progress bar.")(f)
    f = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")(f)
    f = click.option("--helper-image", metavar="IMAGE",
                     help="Image for helper containers (non-local drivers, remote engines).")(f)
    return f


# ---------------------------------------------------------------- volume ls / inspect


@click.group(context_settings=CTX)
def volume():
    """List and inspect data volumes, with every container using them."""


@volume.command("ls", context_settings=CTX)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="Print only volume names.")
def volume_ls(as_json, quiet):
    """List volumes: driver, size, labels and the containers using each (dynvol attachments too)."""
    from dynvol.volumes.inventory import ls

    rows = ls(sizes=not quiet)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if quiet:
        for r in rows:
            click.echo(r["name"])
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("VOLUME", "DRIVER", "SIZE", "LABELS", "CONTAINERS"):
        table.add_column(col, overflow="fold")
    for r in rows:
        users = ", ".join(f"{c['name']}:{c['target']}" + (" (dynvol)" if c["via"] == "dynvol" else "")
                          for c in r["containers"])
        labels = ",".join(f"{k}={v}" for k, v in sorted(r["labels"].items()))
        table.add_row(r["name"], r["driver"], _human(r["size"]), labels or "-", users or "-")
    Console(soft_wrap=True).print(table)


@volume.command("inspect", context_settings=CTX)
@click.argument("names", nargs=-1, required=True, metavar="VOLUME...")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the default output is JSON too).")
def volume_inspect(names, as_json):
    """Show one or more volumes as JSON: driver, options, labels, size and every user."""
    from dynvol.volumes.inventory import inspect

    click.echo(json.dumps([inspect(n) for n in names], indent=2))


# ---------------------------------------------------------------- backup / restore / verify


@click.command(context_settings=CTX)
@click.argument("source", metavar="SOURCE")
@click.option("-o", "--output", metavar="FILE", help="Archive file, or - for stdout. "
              "Default: SOURCE-YYYYmmdd-HHMMSS.tar.zst here.")
@click.option("--compress", "compression", default="zstd", show_default=True, metavar="zstd|gzip|none",
              help="Compression of the tar stream.")
@click.option("--level", type=int, help="Compression level (zstd 1-19, default 1; gzip 1-9, default 6).")
@_quiesce_options
@_common
def backup(source, output, compression, level, pause, stop, stop_timeout, helper_image, as_json, quiet):
    """Back up SOURCE (a volume, or container:NAME for all its volumes) into one archive.

    The archive is a tar stream (zstd by default) with a manifest first and a
    sha256 trailer last. Writing FILE is atomic: it appears only when complete.
    """
    import time

    from dynvol.volumes.backup import backup as do_backup

    from dynvol.volumes.archive import check_compression

    mode = _consistency(pause, stop)
    check_compression(compression, level)
    if output is None:
        ext = {"zstd": ".tar.zst", "gzip": ".tar.gz", "none": ".tar"}[compression]
        output = f"{source.replace(':', '-')}-{time.strftime('%Y%m%d-%H%M%S')}{ext}"
    res = do_backup(source, output, compression=compression, level=level, mode=mode, stop_timeout=stop_timeout,
                    helper_image=helper_image, show_progress=_show(quiet, as_json), warn=_warn(quiet))
    if as_json:
        click.echo(json.dumps(res), err=output == "-")
    elif not quiet:
        click.echo(f"backed up {', '.join(res['volumes'])} to {output}: {_human(res['data_bytes'])} -> "
                   f"{_human(res['archive_bytes'])} in {res['seconds']:.1f}s, sha256 {res['sha256'][:16]}",
                   err=output == "-")


@click.command(context_settings=CTX)
@click.argument("archive", metavar="ARCHIVE")
@click.option("--to", "to", metavar="VOLUME", help="Restore into this volume instead of the saved name.")
@click.option("--into", "into", metavar="CONTAINER:/PATH",
              help="Restore into the volume mounted at PATH in a running CONTAINER.")
@click.option("--force", is_flag=True, help="Replace the contents of a volume that is not empty.")
@_common
def restore(archive, to, into, force, helper_image, as_json, quiet):
    """Restore ARCHIVE (- for stdin): staged, verified, then swapped in.

    A missing volume is created with the saved driver, options and labels.
    """
    from dynvol.volumes.restore import restore as do_restore

    res = do_restore(archive, to=to, into=into, force=force, helper_image=helper_image,
                     show_progress=_show(quiet, as_json), warn=_warn(quiet))
    if as_json:
        click.echo(json.dumps(res))
    elif not quiet:
        for v in res["volumes"]:
            click.echo(f"restored {v['from']} into {v['to']}{' (created)' if v['created'] else ''}")


@click.command(context_settings=CTX)
@click.argument("archive", metavar="ARCHIVE")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest and trailer as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing; the exit status says it all.")
def verify(archive, as_json, quiet):
    """Check ARCHIVE (- for stdin): manifest, framing, byte count and content sha256."""
    from dynvol.volumes.restore import verify as do_verify

    res = do_verify(archive, show_progress=_show(quiet, as_json))
    if as_json:
        click.echo(json.dumps(res))
    elif not quiet:
        m, t = res["manifest"], res["trailer"]
        click.echo(f"{archive}: ok: {', '.join(v['name'] for v in m['volumes'])}, "
                   f"{_human(t['data_bytes'])} of data, sha256 {t['sha256']}, dynvol {m['dynvol_version']}")


# ---------------------------------------------------------------- clone / migrate


@click.command(context_settings=CTX)
@click.argument("src", metavar="SRC")
@click.argument("dst", metavar="DST")
@click.option("--force", is_flag=True, help="Replace the contents of DST if it is not empty.")
@_quiesce_options
@_common
def clone(src, dst, force, pause, stop, stop_timeout, helper_image, as_json, quiet):
    """Copy volume SRC to DST on the same engine (DST is created like SRC if missing)."""
    from dynvol.volumes.transfer import clone as do_clone

    res = do_clone(src, dst, force=force, mode=_consistency(pause, stop), stop_timeout=stop_timeout,
                   helper_image=helper_image, show_progress=_show(quiet, as_json), warn=_warn(quiet))
    if as_json:
        click.echo(json.dumps(res))
    elif not quiet:
        click.echo(f"cloned {src} to {dst}: {_human(res['bytes'])}")


@click.command(context_settings=CTX)
@click.argument("volume_name", metavar="VOLUME")
@click.option("--to-host", required=True, metavar="URL", help="The destination engine (anything DOCKER_HOST accepts).")
@click.option("--as", "as_name", metavar="NAME", help="Name of the volume on the destination (default: the same).")
@click.option("--force", is_flag=True, help="Replace the contents of the destination volume if not empty.")
@_quiesce_options
@_common
def migrate(volume_name, to_host, as_name, force, pause, stop, stop_timeout, helper_image, as_json, quiet):
    """Stream VOLUME to another engine, with no file in between."""
    from dynvol.volumes.transfer import migrate as do_migrate

    res = do_migrate(volume_name, to_host, name=as_name, force=force, mode=_consistency(pause, stop),
                     stop_timeout=stop_timeout, helper_image=helper_image, show_progress=_show(quiet, as_json),
                     warn=_warn(quiet))
    if as_json:
        click.echo(json.dumps(res))
    elif not quiet:
        click.echo(f"migrated {volume_name} to {to_host} as {res['destination']}: {_human(res['bytes'])}")


