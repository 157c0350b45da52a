"""Files that come in and go out at the boundary: output paths checked before any work (and
never replaced when they are not ours), and JSON-lines input read line by line, bounded."""
from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from .errors import UserError

#: the longest line a JSON-lines input may have (a results line with its curve is ~100 kB):
#: ``--from /dev/zero`` must not read until memory runs out
MAX_LINE = 64 << 20


def output_file(path, fix: str = "choose another path", force: bool | None = None) -> Path:
    """The regular file that writing to ``path`` replaces, checked before any work is done.

    A rename into place replaces whatever has the name, so a symlink would become a file and a
    FIFO or device (``/dev/null``, ``/dev/full``) a regular file: a symlink is followed (its
    target is written, the link stays) and anything but a regular file or a new name is
    refused. The folder must exist or be creatable, and be writable. ``force=False`` also
    refuses an existing file (``--force`` overwrites). ``fix`` says how to choose another path."""
    path = Path(path)
    real = Path(os.path.realpath(path))
    if os.path.lexists(real):
        mode = os.stat(real).st_mode
        if stat.S_ISDIR(mode):
            raise UserError(f"{path} is a folder, not a file; {fix}")
        if not stat.S_ISREG(mode):
            raise UserError(f"{path} is not a regular file (a device, FIFO or socket) and is "
                            f"never replaced; {fix}")
        if force is False:
            raise UserError(f"{path} exists; add --force to overwrite it, or {fix}")
    folder = real.parent
    while not os.path.lexists(folder) and folder != folder.parent:
        folder = folder.parent  # the nearest existing folder, where a missing one is created
    if not folder.is_dir():
        raise UserError(f"cannot write {path}: {folder} is not a folder; {fix}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"cannot write {path}: the folder {folder} is not writable; {fix}")
    return real


def read_jsonl(path, fix: str) -> Iterator[tuple[int, object]]:
    """(line number, parsed value) of each non-blank line of a JSON-lines file, read one line at
    a time; a line that is not JSON, too long, or not text is a one-line :class:`UserError`
    naming the file, the line and ``fix``."""
    try:
        fh = open(path, encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"no file {path}; {fix}") from None
    except OSError as exc:
        raise UserError(f"cannot read {path} ({exc.strerror}); {fix}") from None
    with fh:  # a pipe is fine: lines are bounded, not the file
        n = 0
        try:
            while True:
                line = fh.readline(MAX_LINE + 1)
                if not line:
                    return
                n += 1
                if len(line) > MAX_LINE:
                    raise UserError(f"{path}:{n} is longer than {MAX_LINE >> 20} MB; {fix}")
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UserError(f"{path}:{n} is not JSON ({exc.msg}); {fix}") from None
                yield n, value
        except UnicodeDecodeError:
            raise UserError(f"{path}:{n + 1} is not UTF-8 text; {fix}") from None
        except OSError as exc:
            raise UserError(f"cannot read {path} ({exc.strerror}); {fix}") from None
