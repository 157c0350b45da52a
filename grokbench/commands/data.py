"""``grokbench data``: fetch a task's raw data, on explicit request only.

A task that can download its data says so with its ``download`` class attribute
(``{"url": ..., "filename": ..., "sha256": ...}``, a :class:`grokbench.Download`); tasks whose
data is bundled or generated leave it None.
"""
from __future__ import annotations

from pathlib import Path

import click

from ..data import default_download_dir, download, sha256_of
from ..errors import UserError
from ..registry import get_registry


@click.group()
def data():
    """Download the raw data of tasks that do not ship theirs (e.g. imdb)."""


@data.command()
@click.argument("task")
@click.option("--dest", type=click.Path(file_okay=False), default=None,
              help="folder to save into (default: $GROKBENCH_DATA_DIR or the user data dir, "
                   "where the task looks)")
@click.option("--url", default=None, help="download from this mirror instead of the official URL")
@click.option("--sha256", default=None,
              help="expected checksum (default: the official file's); the file is kept only if it matches")
@click.option("--quiet", "-q", is_flag=True, help="no progress bar")
def fetch(task, dest, url, sha256, quiet):
    """Download TASK's data file, check its sha256 and save it where TASK finds it."""
    task_cls = get_registry().get("tasks", task).obj
    spec = task_cls.download
    if not spec:
        raise UserError(f"task {task!r} has nothing to download (its data is bundled or generated)")
    folder = Path(dest).expanduser() if dest else default_download_dir()
    path = folder / spec["filename"]
    expected = sha256 or spec.get("sha256")
    if path.is_file() and expected and sha256_of(path) == expected.lower():
        click.echo(f"{path} is already there and its sha256 matches")
        return
    download(url or spec["url"], path, expected, progress=not quiet)
    click.echo(f"saved {path}" + (" (sha256 checked)" if expected else ""))
    if dest:
        click.echo(f"use it with --set data_dir={path} or GROKBENCH_{task.upper()}_DIR={path}")
