"""``dynvol``: the click group, lazy subcommand loading and the one place errors become exit codes."""

from __future__ import annotations

import importlib
import sys

import click

from dynvol import __version__
from dynvol.errors import DynvolError, ExitStatus

# command name -> "module:attribute"; modules load only when their command runs,
# so `dynvol attach` does not pay for rich or the Docker SDK.
COMMANDS = {
    "attach": "dynvol.cli.mounts:attach",
    "detach": "dynvol.cli.mounts:detach",
    "ls": "dynvol.cli.mounts:ls",
    "volume": "dynvol.cli.volumes:volume",
    "backup": "dynvol.cli.volumes:backup",
    "restore": "dynvol.cli.volumes:restore",
    "verify": "dynvol.cli.volumes:verify",
    "clone": "dynvol.cli.volumes:clone",
    "migrate": "dynvol.cli.volumes:migrate",
    "doctor": "dynvol.cli.doctor:doctor",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attr = COMMANDS[name].split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(__version__, "--version", prog_name="dynvol")
@click.pass_context
def cli(ctx, debug):
    """Hot-plug volumes into running containers, and manage Docker data volumes."""
    ctx.obj = {"debug": debug}


def _report(err: DynvolError) -> int:
    click.echo(f"dynvol: {err.message}", err=True)
    if err.hint:
        click.echo(f"hint: {err.hint}", err=True)
    return int(err.exit_code)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        code = cli.main(args=args, prog_name="dynvol", standalone_mode=False)
        sys.exit(code or 0)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(ExitStatus.USAGE if isinstance(e, click.UsageError) else ExitStatus.FAILED)
    except click.Abort:
        click.echo("dynvol: interrupted", err=True)
        sys.exit(ExitStatus.INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("dynvol: interrupted", err=True)
        sys.exit(ExitStatus.INTERRUPTED)
    except DynvolError as e:
        if debug:
            import traceback

            traceback.print_exc()
        sys.exit(_report(e))
    except BrokenPipeError:
        sys.exit(ExitStatus.FAILED)
