"""Where data and preprocessed caches live, and writing caches so that an interrupted
preprocessing never leaves a bad cache behind."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch

from .errors import UserError


def data_dir(config_value=None, env_var: str | None = None) -> Path | None:
    """The folder a task reads raw data from: its --set data_dir=..., else ``env_var``,
    else $GROKBENCH_DATA_DIR/<nothing more>, else None (the task then uses its bundled data)."""
    for value in (config_value, os.environ.get(env_var) if env_var else None,
                  os.environ.get("GROKBENCH_DATA_DIR")):
        if value:
            return Path(value).expanduser()
    return None


def cache_dir() -> Path:
    """$GROKBENCH_CACHE_DIR, else the user cache dir (e.g. ~/.cache/grokbench)."""
    env = os.environ.get("GROKBENCH_CACHE_DIR")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir
    return Path(user_cache_dir("grokbench"))


def cache_key(**settings) -> str:
    """A short hash of the settings a cached object was made with."""
    blob = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def atomic_write_bytes(path: Path, write) -> Path:
    """Call ``write(fileobj)`` on a temporary file beside ``path`` and rename it into place:
    a reader sees either no file or the whole file, never a half-written one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def cached(name: str, settings: dict, build):
    """Load ``name``'s cache made with these ``settings``, or ``build()`` it and save it
    atomically. A cache that fails to load is rebuilt rather than trusted."""
    path = cache_dir() / f"{name}-{cache_key(**settings)}.pt"
    if path.exists():
        try:
            return torch.load(path, weights_only=False)
        except Exception:
            path.unlink(missing_ok=True)
    obj = build()
    try:
        atomic_write_bytes(path, lambda fh: torch.save(obj, fh))
    except OSError as exc:
        raise UserError(f"cannot write the cache {path} ({exc.strerror}); "
                        "set GROKBENCH_CACHE_DIR to a writable folder") from None
    return obj
