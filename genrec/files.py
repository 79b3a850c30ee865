"""Atomic folder writes: build a folder beside its target, then rename it into place."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_folder(target: Path, done_marker: str | None = None) -> Iterator[Path]:
    """Yield a temporary folder beside `target`; on success rename it to `target`, on any error (or a kill)
    leave no `target` and no temporary folder. `done_marker`: a file whose presence in an existing
    `target` means another process already finished it (a lost race for a cache), which is not an error."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        yield tmp
        try:
            os.rename(tmp, target)
        except OSError:
            if done_marker is None or not (target / done_marker).exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
