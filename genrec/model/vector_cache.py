"""Text vectors kept on disk across processes: a shop's fit, its evaluation and its service each encode the same
item texts, and encoding is the largest part of a fit on a CPU (benchmarks/results/fit_cost.md); a refit after a
catalog change encodes only the items whose text changed."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..files import atomic_file

log = logging.getLogger(__name__)

MAX_SEGMENTS = 16  # more segment files than this are merged into one when the next one is written


def text_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class VectorCache:
    """One encoder's vectors by text, in `folder`. Each write adds a segment file (written beside it and renamed
    into place), so concurrent processes never overwrite each other's vectors and a reader never sees half a
    file; a vector read back is the one written, bit for bit. A cache that cannot be read or written is
    skipped with a warning: it only saves time."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def _segments(self) -> list[Path]:
        return sorted(self.folder.glob("seg-*.npz")) if self.folder.is_dir() else []

    def _read(self) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        for seg in self._segments():
            try:
                with np.load(seg) as z:
                    found.update(zip((row.tobytes() for row in z["keys"]), z["vectors"]))
            except (OSError, ValueError, KeyError) as e:  # merged away by another process, or damaged
                log.debug("vector cache: skipped %s (%r)", seg, e)
        return found

    def _write(self, keys: list[bytes], vectors: np.ndarray) -> None:
        with atomic_file(self.folder / f"seg-{uuid.uuid4().hex}.npz") as f:
            # keys as (n, 16) bytes: numpy's fixed-width bytes type would drop a key's trailing zero bytes
            np.savez(f, keys=np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 16),
                     vectors=vectors.astype(np.float32))

    def _merge(self) -> None:
        segments = self._segments()
        if len(segments) <= MAX_SEGMENTS:
            return
        merged = self._read()
        self._write(list(merged), np.stack(list(merged.values())))
        for seg in segments:
            seg.unlink(missing_ok=True)

    def encode(self, texts: Sequence[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """(texts, dim) vectors: those of texts seen before from the cache, the others from `encode` (one call,
        in the order given), which are then kept. Equal texts get equal vectors."""
        keys = [text_key(t) for t in texts]
        try:
            found = self._read()
        except OSError as e:
            log.warning("vector cache %s unreadable (%s); encoding without it", self.folder, e)
            found = {}
        missing = [(k, t) for k, t in zip(keys, texts) if k not in found]
        if missing:
            # every missing text as given, repeats too: on an empty cache the encoder sees the batches it saw
            # before there was a cache, so the first run's vectors are the ones it gave then
            fresh = np.asarray(encode([t for _, t in missing]), dtype=np.float32)
            new: dict[bytes, np.ndarray] = {}
            for (k, _), vec in zip(missing, fresh):
                new.setdefault(k, vec)  # a repeated text gets its first vector, as it will from the cache later
            found.update(new)
            try:
                self._write(list(new), np.stack(list(new.values())))
                self._merge()
            except OSError as e:
                log.warning("vector cache %s not written (%s); it only saves time", self.folder, e)
        if not keys:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32)
