"""The ``grokbench`` command line."""
from __future__ import annotations

import sqlite3
import sys

import click

from . import __version__
from .commands import COMMANDS
from .errors import Stopped, UserError
from .registry import get_registry
from .store import CORRUPT_FIX


def main():
    try:
        cli(standalone_mode=False)
    except UserError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except sqlite3.DatabaseError as exc:  # the results store is the only SQLite file read
        reason = " ".join(str(exc).split())
        reason = reason if len(reason) <= 120 else reason[:117] + "..."
        click.echo(f"Error: the results store cannot be read ({reason}); "
                   + ("is another program holding it?" if "locked" in reason else CORRUPT_FIX),
                   err=True)
        sys.exit(2)
    except OSError as exc:
        if not exc.filename:  # not about a file the user named: a bug, shown as one
            raise
        # a file that vanished, a full disk, a permission that changed after the checks made
        # before any work: still one line, no traceback
        click.echo(f"Error: cannot use {exc.filename} ({exc.strerror or exc}); check the path, "
                   "its permissions and the free space, or choose another", err=True)
        sys.exit(2)
    except click.UsageError as exc:  # a mistyped option or value: one line, as any bad input
        command = exc.ctx.command_path if exc.ctx else "grokbench"
        message = " ".join(exc.format_message().split()).rstrip(".")
        click.echo(f"Error: {message}; see `{command} --help`", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort as exc:  # click's form of KeyboardInterrupt
        if isinstance(exc.__cause__, Stopped):  # SIGTERM: what was kept, and how to go on
            if not exc.__cause__.said:
                click.echo(str(exc.__cause__), err=True)
            sys.exit(143)
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


class PluginCommands(click.Group):
    """The core commands, and those plugins register (``register_commands``). Plugins are loaded
    (which imports torch) only when a name that is not a core command is asked for, or the
    list is shown, so ``grokbench run ...`` starts no slower for them."""

    def _plugin_commands(self) -> dict:
        registry = get_registry()
        out = {}
        for name in registry.names("commands"):
            entry = registry.get("commands", name)
            if name in self.commands:
                raise UserError(f"plugin {entry.plugin!r} registers the command {name!r}, which "
                                "grokbench has already; the plugin must name it otherwise (or "
                                f"set GROKBENCH_DISABLE_PLUGINS={entry.plugin})")
            out[name] = entry.obj
        return out

    def list_commands(self, ctx):
        return sorted({*self.commands, *self._plugin_commands()})

    def get_command(self, ctx, cmd_name):
        return self.commands.get(cmd_name) or self._plugin_commands().get(cmd_name)


@click.group(cls=PluginCommands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="grokbench")
def cli():
    """grokbench: does method X make task Y generalize sooner, and does it avoid Softmax Collapse?"""


for _command in COMMANDS:
    cli.add_command(_command)
