"""Atomic writes: build a folder or file beside its target, then rename it into place."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


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


@contextmanager
def atomic_file(target: Path) -> Iterator[BinaryIO]:
    """Yield a binary file beside `target`; on success rename it to `target`, on any error (a full disk, an
    interrupt) leave neither `target` nor the temporary file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
