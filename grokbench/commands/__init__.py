"""The ``grokbench`` commands, one module each; :mod:`grokbench.cli` gathers them into one group.

Only these modules and ``cli.py`` import click: the library modules they call (engine, sweep,
leaderboard, render, check, plot, ...) are usable without it. Their imports are at module top,
but for optional extras and matplotlib (README, "Code layout": ``grokbench --help``'s time).
"""
from .claims import claims
from .data import data
from .export import export
from .landscape import landscape
from .leaderboard import leaderboard
from .plot import plot
from .plugins import list_cmd, plugins
from .run import run
from .show import show
from .sweep import sweep

COMMANDS = (run, show, plugins, list_cmd, sweep, leaderboard, plot, data, export, landscape, claims)
