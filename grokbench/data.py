"""Where data and preprocessed caches live, and writing caches so that an interrupted
preprocessing never leaves a bad cache behind."""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import pickle
import stat
import sys
import tempfile
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import torch
from platformdirs import user_cache_dir, user_data_dir
from tqdm import tqdm

from .errors import UserError
from .files import output_file


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
    return Path(user_cache_dir("grokbench"))


def cache_key(**settings) -> str:
    """A short hash of the settings a cached object was made with."""
    blob = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _umask() -> int:
    mask = os.umask(0o22)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, write) -> Path:
    """Call ``write(fileobj)`` on a temporary file beside ``path`` and rename it into place:
    a reader sees either no file or the whole file, never a half-written one. A symlink is
    written through and anything but a regular file refused (:func:`output_file`), never
    replaced by the rename; the file gets the permissions open() would give."""
    path = output_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        # the permissions open() would give: an existing file's, else those of the umask
        # (mkstemp's file is private)
        os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode) if path.exists() else 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def cached(name: str, settings: dict, build, keys=None):
    """Load ``name``'s cache made with these ``settings``, or ``build()`` it and save it
    atomically. ``keys``: the keys the cached dict must have.

    Caches hold tensors (in dicts and lists), so they are loaded with ``weights_only=True``:
    a full unpickler would run whatever code a planted file names. A file that holds anything
    else, or a cache of the wrong shape, is refused with the fix (delete it), not loaded nor
    silently replaced; a file cut short (an interrupted or damaged write) is rebuilt."""
    path = cache_dir() / f"{name}-{cache_key(**settings)}.pt"
    if path.exists() or path.is_symlink():
        obj = _load_cache(path)
        if obj is not None:
            if keys is not None and not (isinstance(obj, dict) and set(keys) <= set(obj)):
                raise UserError(f"the cache {path} does not hold {name} data (expected a dict "
                                f"with {', '.join(sorted(keys))}): delete it and run again to "
                                "rebuild it")
            return obj
    obj = build()
    try:
        atomic_write_bytes(path, lambda fh: torch.save(obj, fh))
    except OSError as exc:
        raise UserError(f"cannot write the cache {path} ({exc.strerror}); "
                        "set GROKBENCH_CACHE_DIR to a writable folder") from None
    return obj


def _load_cache(path: Path):
    """The cached object, or None when the file is cut short or corrupt (it is removed)."""
    if not path.is_file():
        raise UserError(f"the cache {path} is not a file (a folder or a broken link?): "
                        "remove it and run again to rebuild it")
    try:
        with warnings.catch_warnings():  # torch warns about a planted file's pickle protocol
            warnings.simplefilter("ignore")
            return torch.load(path, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" in str(exc).lower():
            raise UserError(f"the cache {path} holds objects other than tensors, so it was not "
                            "loaded (loading it could run code); delete it and run again to "
                            "rebuild it") from None
    except OSError as exc:
        raise UserError(f"cannot read the cache {path} ({exc.strerror}); delete it and run "
                        "again, or set GROKBENCH_CACHE_DIR to another folder") from None
    except Exception:
        pass
    path.unlink(missing_ok=True)
    return None


def balanced_indices(labels: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` indices drawn without replacement with the classes as equal as possible (the
    first ``n % classes`` classes get one more), shuffled, reproducible from ``generator``."""
    classes = torch.unique(labels)
    per_class, extra = divmod(n, len(classes))
    picked = []
    for i, c in enumerate(classes.tolist()):
        pool = torch.nonzero(labels == c).flatten()
        want = per_class + (i < extra)
        if want > len(pool):
            raise UserError(f"asked for {n} class-balanced samples, but class {c} has only "
                            f"{len(pool)}; use a smaller n_train")
        picked.append(pool[torch.randperm(len(pool), generator=generator)[:want]])
    out = torch.cat(picked)
    return out[torch.randperm(len(out), generator=generator)]


def default_download_dir() -> Path:
    """Where ``grokbench data fetch`` saves files and tasks look last:
    $GROKBENCH_DATA_DIR, else the user data dir (e.g. ~/.local/share/grokbench/data)."""
    env = os.environ.get("GROKBENCH_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return Path(user_data_dir("grokbench")) / "data"


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, dest: Path, sha256: str | None = None, progress: bool = True,
             timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest``, checking its sha256 while it streams; the file appears
    (atomically) only when complete and correct. Only ever called on a user's explicit request."""
    dest = Path(dest)
    digest = hashlib.sha256()

    def write(fh):
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            received = 0
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                      desc=dest.name, disable=not progress, file=sys.stderr) as bar:
                for block in iter(lambda: resp.read(1 << 20), b""):
                    fh.write(block)
                    digest.update(block)
                    received += len(block)
                    bar.update(len(block))
            if total is not None and received != total:
                raise UserError(f"download of {url} stopped after {received} of {total} bytes; "
                                "run the same command again")
        if sha256 and digest.hexdigest() != sha256.lower():
            raise UserError(f"{url} has sha256 {digest.hexdigest()}, expected {sha256}: the file "
                            "is corrupt or not the official one; nothing was saved, try again")

    try:
        return atomic_write_bytes(dest, write)
    except http.client.HTTPException as exc:  # e.g. the connection dropped mid-file
        raise UserError(f"download of {url} broke off ({exc!r}); run the same command again") from None
    except (urllib.error.URLError, OSError) as exc:  # HTTPError is a URLError
        if isinstance(exc, urllib.error.HTTPError):
            reason: object = f"HTTP {exc.code} {exc.reason}"
        else:
            reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
        raise UserError(f"cannot download {url} to {dest} ({reason}); check the network "
                        "connection, or download it yourself and put it there") from None
