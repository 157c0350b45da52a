"""The ``grokbench`` command line."""
from __future__ import annotations

import sqlite3
import sys

import click

from . import __version__
from .commands import COMMANDS
from .errors import UserError


def main():
    try:
        cli(standalone_mode=False)
    except UserError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except sqlite3.DatabaseError as exc:  # the results store is the only SQLite file read
        from .store import CORRUPT_FIX
        reason = " ".join(str(exc).split())
        reason = reason if len(reason) <= 120 else reason[:117] + "..."
        click.echo(f"Error: the results store cannot be read ({reason}); "
                   + ("is another program holding it?" if "locked" in reason else CORRUPT_FIX),
                   err=True)
        sys.exit(2)
    except click.UsageError as exc:  # a mistyped option or value: one line, as any bad input
        command = exc.ctx.command_path if exc.ctx else "grokbench"
        message = " ".join(exc.format_message().split()).rstrip(".")
        click.echo(f"Error: {message}; see `{command} --help`", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="grokbench")
def cli():
    """grokbench: does method X make task Y generalize sooner, and does it avoid Softmax Collapse?"""


for _command in COMMANDS:
    cli.add_command(_command)
