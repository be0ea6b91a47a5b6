"""A cache for results that are slow to compute and fully determined by their inputs (``tokcost validate``'s
leave-one-source-out cross-validation): one file per kind of result in the user's cache directory, holding the
hash of every input it was computed from (:func:`fingerprint`) and the result's text.

The cache only saves time: a missing, unreadable, corrupt or stale file is a miss (the caller recomputes), and a
directory that cannot be written is skipped without a word. Files are written atomically, so a run killed midway
or two runs at once never leave half a file.

Where: ``$TOKCOST_CACHE_DIR``, else ``$XDG_CACHE_HOME/tokcost``, else ``~/.cache/tokcost``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from tokcost.io.paths import PACKAGE_DIR
from tokcost.version import __version__

CACHE_ENV = "TOKCOST_CACHE_DIR"
FORMAT = 1  # the layout of a cache file; a file of another layout is a miss


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """The folder tokcost caches results in (it may not exist yet)."""
    env = os.environ if env is None else env
    if env.get(CACHE_ENV):
        return Path(env[CACHE_ENV])
    base = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "tokcost"


def fingerprint(*parts: str | bytes) -> str:
    """A SHA-256 of the parts, each length-prefixed (so that no two different lists of parts hash alike)."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """The hash of tokcost's version and of every file of the installed package (its code and its data files:
    engine profiles, thresholds), with the Python and numpy versions the numbers are computed with: any change to
    how a result is computed changes it."""
    import platform

    import numpy as np

    files = sorted(p for p in PACKAGE_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    parts: list[str | bytes] = [__version__, platform.python_version(), np.__version__]
    for path in files:
        parts += [path.relative_to(PACKAGE_DIR).as_posix(), path.read_bytes()]
    return fingerprint(*parts)


def _file(name: str) -> Path:
    return cache_dir() / f"{name}.json"


def read_cached(name: str, key: str) -> str | None:
    """The text stored as ``name`` when it was computed from the inputs ``key`` hashes, else None."""
    try:
        stored = json.loads(_file(name).read_bytes())
    except (OSError, ValueError):  # absent, unreadable, not JSON (a corrupt file)
        return None
    if not isinstance(stored, dict) or stored.get("format") != FORMAT or stored.get("key") != key:
        return None
    text = stored.get("text")
    return text if isinstance(text, str) else None


def write_cached(name: str, key: str, text: str) -> None:
    """Store ``text`` as ``name`` for the inputs ``key`` hashes, replacing what was there; silently nothing when
    the cache directory cannot be made or written."""
    from tokcost.io.atomic import write_atomic

    path = _file(name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps({"format": FORMAT, "key": key, "text": text}))
    except OSError:
        return


def validation_cache_key(measurements: str | os.PathLike, catalog, *, refit: bool, held_out: bool) -> str | None:
    """The hash of everything a validation result is computed from: tokcost's code and data files (engine
    profiles, thresholds), the measurements file, every preset the catalog holds, and the flags. None when a file
    cannot be read (no cache then: the computation reports what is wrong with it)."""
    try:
        parts: list[str | bytes] = [
            code_fingerprint(),
            f"refit={refit} held_out={held_out}",
            Path(measurements).read_bytes(),
        ]
        for kind in ("hardware", "models"):
            for preset_id in catalog.ids(kind):
                parts += [kind, preset_id, catalog.source_of(kind, preset_id).read_bytes()]
    except OSError:
        return None
    return fingerprint(*parts)
