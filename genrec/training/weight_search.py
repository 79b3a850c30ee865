"""The weight search of a fit (genrec.training.fit): held-out cases with every part's exact score of every item,
and coordinate ascent over a grid of weights on them, one request type at a time."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

from ..data.cases import Case, request_type
from ..ranking.contract import CatalogMask
from ..ranking.prior import COMPONENTS, ItemPrior, PriorWeights
from ..ranking.shop import TypeWeights

if TYPE_CHECKING:
    from .fit import FitConfig

PARTS = ("model",) + COMPONENTS
UNSEARCHED = ("budget",)  # shops' logs hold no budgets: its weight stays at the PriorWeights default


class CaseScores:
    """Held-out cases with every part's score of every item (rows PARTS; a part that does not apply is 0), so
    any weights rank them by one product. A case whose profile has an occupation also keeps its parts with the
    occupation left out of the text and lexical parts (`without_demographic_words`). `model_rows[n]`: the model's
    score of every item for case n, or None where the model did not score it (model passes are dear, so an
    adapter's model scores fewer users than the prior); the model part is searched only on `with_model()`."""

    def __init__(self, prior: ItemPrior, mask: CatalogMask, cases: list[Case], model_rows=None,
                 exact_items: int = 3000, pool: int = 200, progress: bool = True):
        catalog = prior.catalog
        self.cases, self.items, self.parts, self.hits, self.types = cases, [], [], [], []
        self.alt: dict[int, np.ndarray] = {}  # case -> its text and lexical rows without the occupation
        self.demographic_words = True
        self.model_on = False  # is the model part searched (with_model)?
        ids = np.array([it.item_id for it in catalog])
        worded = self.WORDED
        for n, c in enumerate(tqdm(cases, desc="scoring held-out cases", unit="case", disable=not progress)):
            allowed = mask.allowed(c.filters, c.profile)
            recent = [catalog.get(r.item_id) for r in c.profile.recent_items]
            m = np.zeros((len(PARTS), len(catalog)), dtype=np.float32)
            if model_rows is not None and model_rows[n] is not None:
                m[0] = np.where(allowed, model_rows[n], 0.0)
            for name, v in prior.components(c.profile, recent).items():
                m[PARTS.index(name)] = v
            alt = None
            if c.profile.occupation:
                alt = np.zeros((len(worded), len(catalog)), dtype=np.float32)
                for name, v in prior.components(c.profile, recent, ("text", "lexical"), False).items():
                    alt[worded.index(PARTS.index(name))] = v
            keep = np.nonzero(allowed)[0]
            if len(catalog) > exact_items:  # what any positive mix can put in its top 10
                rows = [row for row in (m if alt is None else np.vstack([m, alt])) if row.any()]
                top = [keep[np.argpartition(-row[keep], min(pool, len(keep)) - 1)[:pool]] for row in rows]
                keep = np.unique(np.concatenate(top)) if top else keep[:pool]
            self.items.append(keep)
            self.parts.append(m[:, keep])
            if alt is not None:
                self.alt[n] = alt[:, keep]
            self.hits.append(np.isin(ids[keep], list(c.targets)))
            self.types.append(request_type(c.profile, prior.new_items_only(allowed)))

    WORDED = [PARTS.index("text"), PARTS.index("lexical")]  # the parts that read the profile's words

    def without_demographic_words(self) -> CaseScores:
        """The same cases scored with the occupation left out of the text and lexical parts."""
        other = copy.copy(self)
        other.demographic_words = False
        return other

    def with_model(self) -> CaseScores:
        """The same cases with the model part searched too (on cases it did not score, it is 0)."""
        other = copy.copy(self)
        other.model_on = True
        return other

    def case_parts(self, i: int) -> np.ndarray:
        m = self.parts[i]
        if not self.demographic_words and i in self.alt:
            m = m.copy()
            m[self.WORDED] = self.alt[i]
        return m

    def live_parts(self, idx: Sequence[int]) -> list[int]:
        """Parts with a non-zero value in any of these cases, less the unsearched ones."""
        live = np.zeros(len(PARTS), dtype=bool)
        for i in idx:
            live |= np.abs(self.case_parts(i)).max(1) > 0
        live[0] &= self.model_on
        return [p for p in np.nonzero(live)[0] if PARTS[p] not in UNSEARCHED]

    def per_case(self, idx: Sequence[int], weights: np.ndarray) -> np.ndarray:
        """NDCG@10 of each case `idx` (columns) for each row of `weights` (grid, parts); ties in catalog order."""
        disc = 1.0 / np.log2(np.arange(2, 12))
        out = np.zeros((len(weights), len(idx)))
        for col, i in enumerate(idx):
            m, hit, items = self.case_parts(i), self.hits[i], self.items[i]
            n_rel = int(hit.sum())
            if not n_rel or not len(items):
                continue
            score = weights @ m
            take = min(10, len(items))
            top = np.argpartition(-score, take - 1, axis=1)[:, :take]
            keys = np.take_along_axis(score, top, 1)
            top = np.take_along_axis(top, np.lexsort((top, -keys), axis=1), 1)
            out[:, col] = hit[top] @ disc[:take] / disc[:min(n_rel, 10)].sum()
        return out

    def ndcg(self, idx: Sequence[int], weights: np.ndarray) -> np.ndarray:
        """Mean NDCG@10 over the cases `idx` for each row of `weights`."""
        return self.per_case(idx, weights).mean(1) if len(idx) else np.zeros(len(weights))


def coordinate_ascent(scores: CaseScores, idx: Sequence[int], grid: Sequence[float], passes: int, tolerance: float,
                      start: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """The weights (over PARTS) with the best mean NDCG@10 on `idx`: from `start`, or from the best single part;
    then, part by part, the grid value with the best score, taken only when it gains more than `tolerance`."""
    live = scores.live_parts(idx)
    if not live:
        return (start if start is not None else np.zeros(len(PARTS))), 0.0
    if start is None:
        units = np.eye(len(PARTS))[live]
        alone = scores.ndcg(idx, units)
        w = units[int(np.argmax(alone))]
    else:
        w = start.copy()
    best = float(scores.ndcg(idx, w[None])[0])
    grid = np.asarray(grid, dtype=np.float64)
    for _ in range(passes):
        moved = False
        for p in live:
            cand = np.tile(w, (len(grid), 1))
            cand[:, p] = grid
            s = scores.ndcg(idx, cand)
            s[~cand.any(1)] = -1.0  # all-zero weights rank nothing
            j = int(np.argmax(s))
            if s[j] > best + tolerance:
                w, best, moved = cand[j], float(s[j]), True
        if not moved:
            break
    return w, best


def choose_weights(scores: CaseScores, idx: Sequence[int], ref: np.ndarray, config: FitConfig, start: bool = True,
                   afresh: bool = False) -> tuple[np.ndarray, float, bool, float | None]:
    """One request type's weights on its cases `idx`: (weights, NDCG@10, demographic_words, NDCG@10 without the
    occupation in the text parts or None when no case has one). With too few cases, `ref` (the pooled
    weights). Else coordinate ascent from `ref` (`start`), or from the best single part (not `start`, or also
    that with `afresh`), kept over `ref` only when clearly better (FitConfig.min_gain_se); then the same
    without the occupation in the text and lexical parts, taken when it gains."""
    w, s = ref, float(scores.ndcg(idx, ref[None])[0])
    if len(idx) < config.min_cases:
        return w, s, True, None
    begin = ref if start else None
    own, own_s = coordinate_ascent(scores, idx, config.grid, config.passes, config.tolerance, begin)
    if afresh and begin is not None:
        alt, alt_s = coordinate_ascent(scores, idx, config.grid, config.passes, config.tolerance)
        own, own_s = (alt, alt_s) if alt_s > own_s else (own, own_s)
    if begin is None or _clearly_better(scores, idx, own, ref, config.min_gain_se):
        w, s = own, own_s
    if not any(i in scores.alt for i in idx):
        return w, s, True, None
    wordless, s_words = coordinate_ascent(scores.without_demographic_words(), idx, config.grid, config.passes,
                                       config.tolerance, begin)
    if s_words > s + config.tolerance:
        return wordless, s_words, False, s_words
    return w, s, True, s_words


def _clearly_better(scores: CaseScores, idx: Sequence[int], own: np.ndarray, pooled: np.ndarray, n_se: float) -> bool:
    a, b = scores.per_case(idx, np.stack([own, pooled]))
    diff = a - b
    se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else np.inf
    return bool(diff.mean() > n_se * se and diff.mean() > 0)


def to_type_weights(w: np.ndarray, demographic_words: bool = True) -> TypeWeights:
    searched = {name: float(w[PARTS.index(name)]) for name in COMPONENTS if name not in UNSEARCHED}
    return TypeWeights(model=float(w[0]), prior=PriorWeights(**searched), demographic_words=demographic_words)



def prior_only(w: np.ndarray) -> np.ndarray:
    """A copy of the weights `w` (over PARTS) with the model's set to 0."""
    w = w.copy()
    w[0] = 0.0
    return w


def choose_model_weight(scores: CaseScores, idx: Sequence[int], w: np.ndarray, fallback: float,
                        config: FitConfig) -> tuple[np.ndarray, dict]:
    """`w` (the prior's weights, chosen without the model on every held-out user) with the model's weight chosen
    on the cases `idx` that the model scored, the prior fixed: the grid value with the best NDCG@10, taken over 0
    only for a gain (FitConfig.tolerance, min_gain_se). The prior's weights are not chosen again on these few
    users: they would fit them, not the shop. With fewer than FitConfig.min_cases of them, `fallback`."""
    w = prior_only(w)
    if len(idx) < config.min_cases:
        w[0] = fallback
        return w, {"cases": len(idx)}
    on = scores.with_model()
    grid = np.asarray(config.grid, dtype=np.float64)
    cand = np.tile(w, (len(grid), 1))
    cand[:, 0] = grid
    s = on.ndcg(idx, cand)
    zero, j = int(np.flatnonzero(grid == 0)[0]), int(np.argmax(s))
    if not (s[j] > s[zero] + config.tolerance and _clearly_better(on, idx, cand[j], cand[zero], config.min_gain_se)):
        j = zero
    return cand[j], {"cases": len(idx), "ndcg@10": float(s[j]), "without_model_ndcg@10": float(s[zero]),
                     "model_alone_ndcg@10": float(on.ndcg(idx, np.eye(len(PARTS))[:1])[0])}
