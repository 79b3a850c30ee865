"""The systems `genrec eval` runs, by name: each is fitted on the protocol's training view (`fit(view)`) and
answers the recommend contract (`rank_batch`), so the runner treats them alike."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import GenrecError
from .protocols import TrainingView


def _llm(view: TrainingView, adapter=None, fit_config=None, progress: bool = True, with_adapter: bool = False):
    """genrec fitted to the view by genrec.training.fit (weights per request type chosen on users held out of
    it), zero-shot or `with_adapter`. Given an `adapter`, both fit on the users and items its training left out
    (and the seeded draw beside them), so the model's weight is chosen on requests it never saw and the two
    systems share their held-out cases and prior weights: their difference is the model's alone."""
    from ..training.fit import FitConfig, adapter_holdout, fitted_recommender

    holdout = adapter_holdout(adapter, view.sequences) if adapter else None
    return fitted_recommender(view.catalog, view.sequences, view.users, adapter if with_adapter else None,
                              fit_config or FitConfig(), progress=progress, holdout=holdout,
                              paired=bool(adapter))


def _llm_adapter(view: TrainingView, adapter=None, fit_config=None, progress: bool = True):
    if not adapter:
        raise GenrecError("the llm+adapter system needs --adapter DIR")
    return _llm(view, adapter, fit_config, progress, with_adapter=True)


def _baseline(cls_name: str, module: str = "baselines") -> Callable:
    def build(view: TrainingView, **_):
        from importlib import import_module

        return getattr(import_module(f"genrec.evaluation.{module}"), cls_name).fit(view)
    return build


# Imported when chosen: the LightFM peer needs the optional extra, the llm system loads models.
SYSTEMS: dict[str, Callable] = {
    "popularity": _baseline("Popularity"), "demographic": _baseline("DemographicPopularity"),
    "tfidf": _baseline("TfIdf"), "embedding": _baseline("EmbeddingKNN"), "itemknn": _baseline("ItemKNN"),
    "lightfm": _baseline("LightFMSystem", "peers"), "llm": _llm, "llm+adapter": _llm_adapter,
}
LLM_SYSTEMS = ("llm", "llm+adapter")  # genrec itself: without and with the LoRA adapter


def build_system(name: str, view: TrainingView, adapter: str | None = None, fit_config=None, progress: bool = True):
    """The system `name` fitted on `view`; `fit_config` serves the llm systems, `adapter` llm+adapter (llm is
    genrec fitted without one, on the same held-out users, so one run measures what the adapter adds)."""
    if name not in SYSTEMS:
        raise GenrecError(f"unknown system {name!r}; known: {', '.join(SYSTEMS)}")
    return SYSTEMS[name](view, adapter=adapter if name in LLM_SYSTEMS else None, fit_config=fit_config,
                         progress=progress)
