"""The one-call API: genrec.recommend() over a Recommender kept per (catalog, adapter, base model)."""

from __future__ import annotations

import threading
from pathlib import Path

from .data.catalog import Catalog
from .model.base_model import BaseModelConfig
from .ranking.contract import Recommendation
from .ranking.diversity import Diversity
from .ranking.recommender import Recommender, RecommenderConfig
from .resources import shipped

DEMO_DIR = Path(__file__).resolve().parent / "demo"
_LOCK = threading.Lock()
_CACHE: dict[tuple, Recommender] = {}


def demo_catalog() -> Catalog:
    """The bundled demo catalog (fictional products written for genrec)."""
    return Catalog.load(DEMO_DIR / "catalog.jsonl")


def demo_adapter() -> Path | None:
    """The bundled demo adapter, when this release ships one."""
    folder = shipped("adapters") / "demo"
    return folder if (folder / "adapter_config.json").exists() else None


def demo_logs() -> dict[str, list[str]]:
    """The demo shop's purchase history: the simulated shoppers' sequences (genrec/demo/shoppers, written by
    genrec.demo.simulate), what a real shop passes as `Recommender(logs=...)`."""
    from .data.dataset import Dataset

    return Dataset.load(DEMO_DIR / "shoppers").sequences


def get_recommender(catalog: Catalog | str | Path | None = None, adapter: str | Path | None = None,
                    base_model: str | None = None, quantization: str = "none") -> Recommender:
    """A Recommender for these settings, built once per process and reused (models take seconds to load)."""
    key = (catalog if isinstance(catalog, Catalog) else str(catalog), str(adapter), base_model, quantization)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        logs = None
        if catalog is None:  # the demo shop: its catalog, adapter (if bundled) and purchase history
            cat, logs = demo_catalog(), demo_logs()
            adapter = adapter if adapter is not None else demo_adapter()
        else:
            cat = catalog if isinstance(catalog, Catalog) else Catalog.load(catalog)
        if adapter == "none":  # explicit zero-shot, also on the demo catalog
            adapter = None
        config = RecommenderConfig(base=BaseModelConfig(path=base_model, quantization=quantization))
        if len(_CACHE) >= 2:  # each holds a model: keep memory bounded
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = rec = Recommender(cat, adapter=adapter, config=config, logs=logs)
        return rec


def recommend(profile, k: int = 10, catalog: Catalog | str | Path | None = None,
              adapter: str | Path | None = None, explain: bool = True, base_model: str | None = None,
              quantization: str = "none", diversity: Diversity | None = None, **filters) -> list[Recommendation]:
    """Top-k items of `catalog` (default: the demo catalog) for a new user's `profile` (UserProfile, dict
    or JSON). `adapter`: a folder; None is the demo adapter on the demo catalog (if bundled), "none" forces
    zero-shot. Filters: categories/category, min_price, max_price, exclude, candidates, exclude_recent.
    `diversity`: genrec.Diversity (default: one item per variant family, no MMR)."""
    rec = get_recommender(catalog, adapter, base_model, quantization)
    return rec.recommend(profile, k=k, explain=explain, diversity=diversity, **filters)
