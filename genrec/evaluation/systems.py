"""The systems `genrec eval` runs, by name: each is fitted on the protocol's training view (`fit(view)`) and
answers the recommend contract (`rank_batch`), so the runner treats them alike."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import GenrecError
from .protocols import TrainingView


def _llm(view: TrainingView, adapter=None, fit_config=None, progress: bool = True):
    """genrec fitted to the view by genrec.training.fit (weights per request type chosen on users held out of
    it), with the LoRA `adapter` when given."""
    from ..training.fit import FitConfig, fitted_recommender

    return fitted_recommender(view.catalog, view.sequences, view.users, adapter, fit_config or FitConfig(),
                              progress=progress)


def _baseline(cls_name: str, module: str = "baselines") -> Callable:
    def build(view: TrainingView, **_):
        from importlib import import_module

        return getattr(import_module(f"genrec.evaluation.{module}"), cls_name).fit(view)
    return build


# Imported when chosen: the LightFM peer needs the optional extra, the llm system loads models.
SYSTEMS: dict[str, Callable] = {
    "popularity": _baseline("Popularity"), "demographic": _baseline("DemographicPopularity"),
    "tfidf": _baseline("TfIdf"), "embedding": _baseline("EmbeddingKNN"), "itemknn": _baseline("ItemKNN"),
    "lightfm": _baseline("LightFMSystem", "peers"), "llm": _llm,
}


def build_system(name: str, view: TrainingView, adapter: str | None = None, fit_config=None, progress: bool = True):
    """The system `name` fitted on `view`; `adapter` and `fit_config` serve the llm system."""
    if name not in SYSTEMS:
        raise GenrecError(f"unknown system {name!r}; known: {', '.join(SYSTEMS)}")
    return SYSTEMS[name](view, adapter=adapter, fit_config=fit_config, progress=progress)
