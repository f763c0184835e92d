"""Small file helpers shared by the engine."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB pieces (files may be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` at once (a temporary file beside it, then a rename): a crash
    leaves the old file or the new one, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def put_back(path: Path, old: bytes | None) -> None:
    """Undo a write of `path` whose earlier bytes were `old` (None: there was no file)."""
    if old is None:
        path.unlink(missing_ok=True)
    else:
        atomic_write(path, old)
