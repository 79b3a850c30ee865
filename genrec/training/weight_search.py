"""The weight search of a fit (genrec.training.fit): held-out cases with every part's exact score of every item,
and coordinate ascent over a grid of weights on them, one request type at a time."""

from __future__ import annotations

import copy
import hashlib
import threading
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

from ..data.cases import NEW_ITEMS, Case, request_type
from ..data.profile import UserProfile
from ..evaluation import metrics
from ..evaluation.stats import paired_t_p, standard_error, two_way_clustered_p
from ..ranking.content import profile_text
from ..ranking.contract import CatalogMask
from ..ranking.prior import COMPONENTS, ItemPrior, PriorWeights, z_stats
from ..ranking.shop import TypeWeights

if TYPE_CHECKING:
    from .fit import FitConfig

PARTS = ("model",) + COMPONENTS
OWN_TEXT = ("text", "nearest", "lexical", "interest")  # parts that score a new item by its own text alone
UNSEARCHED = ("budget",)  # shops' logs hold no budgets: its weight stays at the PriorWeights default
DISCOUNT = 1.0 / np.log2(np.arange(2, 12))  # NDCG@10's discount of ranks 1..10
IDEAL = np.array([DISCOUNT[:n].sum() for n in range(11)])  # NDCG@10's ideal gain with n targets


def wordings(profile: UserProfile) -> tuple[UserProfile, ...]:
    """The profile as the text and lexical parts read it: as given and, where it has an occupation, without it
    (CaseScores scores both, so a fit can tell whether the occupation's words help)."""
    return (profile, replace(profile, occupation=None)) if profile.occupation else (profile,)


def _top10(score: np.ndarray) -> np.ndarray:
    """Each row's 10 best columns (last axis; fewer where there are fewer), best first, ties in column (catalog)
    order, also for the last places: of several columns tied for 10th place, the first ones get in. So a top 10
    depends on the scores alone, not on which other columns are there: what lets CaseScores drop the columns that
    cannot get in (_contenders) and rank the rest as before."""
    take = min(10, score.shape[-1])
    top = np.argpartition(-score, take - 1, axis=-1)[..., :take]
    kth = np.take_along_axis(score, top, -1).min(-1)
    tied = (score >= kth[..., None]).sum(-1) > take  # argpartition picked among the columns tied for the last place
    if tied.any():
        sub, at_kth = score[tied], kth[tied][:, None]
        above, level = sub > at_kth, sub == at_kth
        first = np.cumsum(level, -1) <= take - above.sum(-1, keepdims=True)
        top[tied] = np.nonzero(above | (level & first))[1].reshape(-1, take)
    keys = np.take_along_axis(score, top, -1)
    return np.take_along_axis(top, np.lexsort((top, -keys), axis=-1), -1)


PIVOTS = (32, 128)  # items each column is checked against by _contenders, in rounds: a few pivots drop most
# columns cheaply, more drop more of the rest (each pivot costs a comparison per column and part)


def _contenders(rows: np.ndarray, sides: Sequence[np.ndarray] = ()) -> np.ndarray:
    """Which columns (items, in catalog order) of `rows` (a case's part values, every reading of them) any
    weighting with weights >= 0 can put in the top 10: a column that 10 columns before it in the catalog match or
    beat on every row ranks below all ten under any such weights (ties go to the first in the catalog, _top10),
    as z-scores too (a rising map of each row). Checked against the columns highest on all rows together (PIVOTS),
    so a few columns that cannot get in stay: exact, not minimal. `sides`: each column's half of the catalog in
    partitions that views rank alone (CaseScores.item_fold); a column stays where fewer than 10 columns of its own
    half beat it. A held-out case's top 10s are fought over by a sixth of amazon_office's items
    (benchmarks/results/fit_cost.md); the weight search ranks only those."""
    n = rows.shape[1]
    if n <= 10:
        return np.ones(n, dtype=bool)
    rows = rows[np.ptp(rows, axis=1) > 0]  # a constant row ranks nothing
    low, span = rows.min(1, keepdims=True), np.ptp(rows, axis=1, keepdims=True)
    high = -((rows - low) / span).sum(0)
    keep = np.ones(n, dtype=bool)
    for count in PIVOTS:
        pivots, cols = np.sort(np.argpartition(high, min(count, n) - 1)[:count]), np.nonzero(keep)[0]
        beaten = pivots[:, None] < cols[None, :]  # (pivots, columns): pivot before the column and >= on all rows
        for row in rows:
            beaten &= row[pivots, None] >= row[None, cols]
        still = beaten.sum(0) < 10
        for side in sides:
            still |= (beaten & (side[pivots, None] == side[None, cols])).sum(0) < 10
        keep[cols] = still
    return keep


class CaseScores:
    """Held-out cases with every part's score of every item (rows PARTS; a part that does not apply is 0), so
    any weights rank them by one product. A case whose profile has an occupation also keeps its parts with the
    occupation left out of the text and lexical parts. `model_rows[n]`: the model's score of every item for case
    n, or None where the model did not score it (model passes are dear, so an adapter's model scores fewer users
    than the prior). `view()` gives the same cases without the occupation's words, with the prior's parts
    standardised (z-scores over each case's allowed items, as the recommender computes them), or with the model
    part searched too."""

    def __init__(self, prior: ItemPrior | None, mask: CatalogMask | None, cases: list[Case], model_rows=None,
                 exact_items: int = 3000, pool: int = 200, progress: bool = True, item_partitions: int = 3):
        self.cases, self.items, self.parts, self.hits, self.types = cases, [], [], [], []
        self.targets: list[np.ndarray] = []  # case -> catalog rows of its allowed targets, kept items or not
        # case -> whether each row (PARTS, then alt's) is non-zero over its items, raw and standardised: the parts
        # a search may move, as they were before the items that cannot reach a top 10 were dropped
        self.live: list[tuple[np.ndarray, np.ndarray]] = []
        # case -> the partitions of the catalog into halves (item_fold) whose halves it may rank alone (None: any):
        # the items dropped from new-item cases are those that cannot reach the top 10 of their own half either
        self.halves: list[int | None] = []
        self.alt: dict[int, np.ndarray] = {}  # case -> its text and lexical rows without the occupation
        # case -> mean and deviation of each row over its allowed items (the prior's rows; then alt's)
        self.stats: list[tuple[np.ndarray, np.ndarray]] = []
        self.demographic_words = True
        self.standardised = False
        self.model_on = False  # is the model part searched?
        self.item_half: int | None = None  # rank only the items of this half of the catalog (item_fold), or all
        self.ids: list[str] = []  # catalog row -> item ID, what item_fold hashes
        self._item_folds: dict[int, np.ndarray] = {}  # partition -> each catalog row's half
        # (view, cases) -> per_case's batches of them; shared by the views, which copy this object
        self._batches: OrderedDict[tuple, list] = OrderedDict()
        self._batches_lock = threading.Lock()  # the request types are searched on threads
        if prior is None:
            return
        catalog = prior.catalog
        ids = np.array([it.item_id for it in catalog])
        self.ids = ids.tolist()
        worded = self.WORDED
        recents = [[catalog.get(r.item_id) for r in c.profile.recent_items] for c in cases]
        if prior.tfidf is not None:  # every case's lexical queries in one call
            prior.tfidf.prime([profile_text(p, r) for c, r in zip(cases, recents) for p in wordings(c.profile)])
        for n, c in enumerate(tqdm(cases, desc="scoring held-out cases", unit="case", disable=not progress)):
            allowed = mask.allowed(c.filters, c.profile)
            recent = recents[n]
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
            self.types.append(request_type(c.profile, prior.new_items_only(allowed)))
            halves = item_partitions if self.types[-1] == NEW_ITEMS else 0  # only new items are searched by halves
            self._add(m, alt, allowed, np.isin(ids, list(c.targets)), exact_items, pool, halves)

    @classmethod
    def of_parts(cls, parts: Sequence[np.ndarray], allowed: Sequence[np.ndarray], hits: Sequence[np.ndarray],
                 item_partitions: int = 3, contenders: bool = True) -> CaseScores:
        """Cases given by their parts' values (each (PARTS, items)), allowed items and targets (masks), as a
        study or a test of the search states them; each may be ranked on halves of the items of
        `item_partitions` partitions. `contenders` False keeps every allowed item (what a test compares with)."""
        scores = cls(None, None, [])
        scores.ids = [str(j) for j in range(max(map(len, allowed), default=0))]  # rows stand for items
        for m, a, h in zip(parts, allowed, hits):
            scores._add(np.asarray(m, dtype=np.float32), None, a, h, halves=item_partitions if contenders else None)
        return scores

    def extend(self, other: CaseScores) -> None:
        """Append `other`'s cases (over the same catalog): another fold of held-out users or items, scored by the
        signals fitted without it."""
        if other.ids != self.ids:
            raise ValueError("cases scored over another catalog")
        offset = len(self.parts)
        self.cases = self.cases + other.cases
        for name in ("items", "parts", "hits", "types", "stats", "targets", "live", "halves"):
            getattr(self, name).extend(getattr(other, name))
        self.alt.update({offset + i: v for i, v in other.alt.items()})
        self._batches.clear()

    def _add(self, m: np.ndarray, alt: np.ndarray | None, allowed: np.ndarray, hits: np.ndarray,
             exact_items: int = 3000, pool: int = 200, halves: int | None = 0) -> None:
        """Keep one case: its parts `m`, `alt` (without the occupation) and targets `hits` over the items that any
        weights >= 0 can put in its top 10 of the items it may rank (`allowed`), or of their half in `halves`
        partitions of the catalog (_contenders; None: every allowed item). With more than `exact_items` allowed
        items, first the union of every part's top `pool` (not exact: a blend can lift an item no part alone
        does); the NDCG's ideal still counts every allowed target."""
        rows = m if alt is None else np.vstack([m, alt])
        mean, sd = z_stats(rows, allowed)
        mean[0], sd[0] = 0.0, 1.0  # the model's log-probabilities join the prior as they are
        mean, sd = mean.astype(np.float32), sd.astype(np.float32)
        self.stats.append((mean, sd))
        keep = np.nonzero(allowed)[0]
        self.targets.append(np.nonzero(allowed & hits)[0])
        if len(allowed) > exact_items:
            top = [keep[np.argpartition(-row[keep], min(pool, len(keep)) - 1)[:pool]] for row in rows if row.any()]
            keep = np.unique(np.concatenate(top)) if top else keep[:pool]
        values = rows[:, keep]
        self.live.append((np.abs(values).max(1, initial=0) > 0,
                          np.abs((values - mean[:, None]) / sd[:, None]).max(1, initial=0) > 0))
        if halves is not None:
            keep = keep[_contenders(values, [self.item_fold(keep, p) for p in range(halves)])]
        self.halves.append(halves)
        if alt is not None:
            self.alt[len(self.parts)] = alt[:, keep]
        self.items.append(keep)
        self.parts.append(m[:, keep])
        self.hits.append(hits[keep])

    WORDED = [PARTS.index("text"), PARTS.index("lexical")]  # the parts that read the profile's words

    def fold(self, i: int) -> int:
        """Case i's fold (0 or 1) for cross-validation: by its user, so a user's cases stay together."""
        key = self.cases[i].user if i < len(self.cases) else str(i)
        return zlib.crc32(key.encode()) % 2

    def view(self, demographic_words: bool | None = None, standardised: bool | None = None,
             model_on: bool | None = None, item_half: int | None = None) -> CaseScores:
        """The same cases with the occupation left out of the text and lexical parts (`demographic_words`
        False), the prior's parts standardised, the model part searched too (on cases it did not score, it
        is 0), or each case ranking only the items of one half of the catalog (`item_half` h: side h % 2 of
        partition h // 2, item_fold; the parts keep their values over the whole request, as z-scores are
        served); None keeps this view's setting."""
        other = copy.copy(self)
        for name, value in (("demographic_words", demographic_words), ("standardised", standardised),
                            ("model_on", model_on), ("item_half", item_half)):
            if value is not None:
                setattr(other, name, value)
        return other

    def case_parts(self, i: int) -> np.ndarray:
        m = self.parts[i]
        worded = not self.demographic_words and i in self.alt
        if worded:
            m = m.copy()
            m[self.WORDED] = self.alt[i]
        if self.standardised:
            mean, sd = self.stats[i]
            rows = np.arange(len(PARTS))
            if worded:
                rows[self.WORDED] = len(PARTS) + np.arange(len(self.WORDED))
            m = (m - mean[rows, None]) / sd[rows, None]
        return m

    def item_fold(self, items: np.ndarray, partition: int = 0) -> np.ndarray:
        """The side (0 or 1) of each of these catalog rows in one of several seeded random partitions of the
        catalog into halves: a bit of a hash of the partition and the item ID. Not crc32's parity: it is
        linear, so partitions salted by a prefix came out alike."""
        if partition not in self._item_folds:
            self._item_folds[partition] = np.array(
                [hashlib.blake2b(f"{partition}:{k}".encode(), digest_size=1).digest()[0] & 1 for k in self.ids],
                dtype=np.int8)
        return self._item_folds[partition][items]

    def in_half(self, rows: np.ndarray, half: int) -> np.ndarray:
        """Which of these catalog rows are in `half` of the catalog (side half % 2 of partition half // 2)."""
        return self.item_fold(rows, half // 2) == half % 2

    def columns(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Case i's parts, targets and catalog rows, over its items in this view's half of the catalog (of those
        that can reach a top 10: _add)."""
        m, hit, items = self.case_parts(i), self.hits[i], self.items[i]
        if self.item_half is not None:
            if self.halves[i] is not None and self.item_half // 2 >= self.halves[i]:
                raise ValueError(f"case {i} kept the items that reach the top 10 of the whole request, not of "
                                 f"half {self.item_half} of the catalog")
            keep = self.in_half(items, self.item_half)
            m, hit, items = m[:, keep], hit[keep], items[keep]
        return m, hit, items

    def targets_in_view(self, i: int) -> np.ndarray:
        """Case i's targets (catalog rows) in this view's half of the catalog: those an NDCG's ideal counts."""
        rows = self.targets[i]
        return rows if self.item_half is None else rows[self.in_half(rows, self.item_half)]

    def live_parts(self, idx: Sequence[int]) -> list[int]:
        """Parts with a non-zero value in any of these cases (over all their items, as this view reads them),
        less the unsearched ones."""
        live = np.zeros(len(PARTS), dtype=bool)
        for i in idx:
            rows = self.live[i][1 if self.standardised else 0]
            case = rows[:len(PARTS)].copy()
            if not self.demographic_words and i in self.alt:
                case[self.WORDED] = rows[len(PARTS):]
            live |= case
        live[0] &= self.model_on
        return [p for p in np.nonzero(live)[0] if PARTS[p] not in UNSEARCHED]

    def per_case(self, idx: Sequence[int], weights: np.ndarray) -> np.ndarray:
        """NDCG@10 of each case `idx` (columns) for each row of `weights` (grid, parts); ties in catalog order.
        Cases are ranked together, by how many items each ranks (padded to the widest of a batch with items
        that rank last), in one product and one top-10 per batch: case by case, a small catalog's search spent
        most of its time in numpy's per-call overhead (benchmarks/results/fit_cost.md)."""
        out = np.zeros((len(weights), len(idx)))
        for cols, parts, hit, pad, n_targets in self.batches(idx):
            score = weights @ parts  # (cases, grid, items)
            score += pad[:, None, :]  # padding ranks last
            top = _top10(score)  # (cases, grid, 10)
            gained = np.take_along_axis(hit[:, None, :], top, 2) @ DISCOUNT[:top.shape[2]]
            out[:, cols] = (gained / IDEAL[np.minimum(n_targets, 10)][:, None]).T
        return out

    BATCH_VALUES = 200_000  # scores held at once by per_case (cases x 10 weightings x items): 1.6 MB of float64,
    # which stays in cache; batches of 32 MB were slower than case by case on a 1,682-item catalog
    KEPT_BATCHES_BYTES = 256 * 2**20  # the batches kept for further calls (a search asks for the same ones often)

    def batches(self, idx: Sequence[int]) -> list[tuple[list[int], np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """per_case's batches of the cases `idx` with a target in this view: (their columns in idx, their parts
        (cases, PARTS, items), targets and padding (cases, items: 0, or -inf past a case's items), their number of
        targets). A search ranks the same cases in the same view for every part and pass, and assembling them
        (z-scores, padding) was half of its time on amazon_office: the latest are kept (KEPT_BATCHES_BYTES)."""
        key = (self.demographic_words, self.standardised, self.item_half, tuple(idx))
        with self._batches_lock:
            if key in self._batches:
                self._batches.move_to_end(key)
                return self._batches[key]
        found = []
        for col, i in enumerate(idx):
            m, hit, _ = self.columns(i)
            if hit.any():  # a case with no target among the items that can reach its top 10 scores 0
                found.append((len(hit), col, m, hit, len(self.targets_in_view(i))))
        found.sort(key=lambda case: case[0])
        batches, at = [], 0
        while at < len(found):
            end = at + 1  # cases are added while the batch, as wide as its widest (last) case, stays in budget
            while end < len(found) and (end + 1 - at) * found[end][0] * 10 <= self.BATCH_VALUES:
                end += 1
            widths, cols, ms, hits, n_targets = zip(*found[at:end])
            at, width = end, widths[-1]
            parts, hit = np.zeros((len(ms), len(PARTS), width)), np.zeros((len(ms), width), dtype=bool)
            pad = np.full((len(ms), width), -np.inf)
            for k, (m, h) in enumerate(zip(ms, hits)):
                parts[k, :, :len(h)], hit[k, :len(h)], pad[k, :len(h)] = m, h, 0.0
            batches.append((list(cols), parts, hit, pad, np.array(n_targets)))
        with self._batches_lock:
            self._batches[key] = batches
            while len(self._batches) > 1 and sum(
                    parts.nbytes for kept in self._batches.values() for _, parts, *_ in kept) > self.KEPT_BATCHES_BYTES:
                self._batches.popitem(last=False)
        return batches

    def item_shares(self, i: int, weights: np.ndarray) -> dict[int, float]:
        """Case i's NDCG@10 under `weights` (parts) split over its targets in this view (catalog row -> share;
        0 for a target outside the top 10; metrics.item_shares, the split the eval report uses), summing to
        per_case's value: what lets a gate count the items as samples (stats.two_way_clustered_p)."""
        m, _, items = self.columns(i)
        targets = self.targets_in_view(i)
        if not len(targets):
            return {}
        return metrics.item_shares("ndcg@10", items[_top10(weights[None] @ m)[0]].tolist(), targets.tolist())

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


@dataclass(frozen=True)
class Choice:
    """One request type's weights (over PARTS) and how its parts are read, with the held-out NDCG@10 of each
    variant tried (None: not tried)."""

    weights: np.ndarray
    ndcg: float
    demographic_words: bool = True
    standardised: bool = False
    ndcg_without_demographic_words: float | None = None
    # two-fold cross-validated NDCG@10 of the search over raw parts and over standardised ones
    ndcg_cross_validated: float | None = None
    ndcg_standardised: float | None = None
    # new items: the same of the best single part, chosen on the other half of the items
    ndcg_one_part: float | None = None
    # new items mixed into the old: the even blend of the own-text parts (standardised; nothing fitted)
    ndcg_own_text_blend: float | None = None

    def scores(self, scores: CaseScores) -> CaseScores:
        """`scores` read as this choice reads its parts."""
        return scores.view(demographic_words=self.demographic_words, standardised=self.standardised)

    def type_weights(self) -> TypeWeights:
        return to_type_weights(self.weights, self.demographic_words, self.standardised)


def choose_weights(scores: CaseScores, idx: Sequence[int], ref: np.ndarray, config: FitConfig, start: bool = True,
                   afresh: bool = False, by_items: bool = False, mixed: bool = False) -> Choice:
    """One request type's weights on its cases `idx`. With too few cases, `ref` (the pooled weights). Else
    coordinate ascent from `ref` (`start`), or from the best single part (not `start`, or also that with
    `afresh`), kept over `ref` only when clearly better (FitConfig.min_gain_se); then the same without the
    occupation in the text and lexical parts, taken when it gains; then from the best single part with the
    prior's parts standardised, taken when its cross-validated NDCG@10 is clearly better than the raw parts'
    (FitConfig.standardise_gain_se). `by_items` (requests for new items): cross-validated over halves of the
    items (FitConfig.item_partitions seeded partitions) instead of the users, and the search is kept only when
    it beats the best single part on every half and clearly overall (FitConfig.search_gain_se), else one part
    alone (_new_items_part); those bars' standard errors count the items as samples too (_clear_gain). `mixed`
    (new items mixed into the old after a long history): cross-validated over the users; the best single part or
    the even blend of the own-text parts, whichever scores better, unless the search beats both clearly
    (_mixed_choice)."""
    choice = Choice(ref, float(scores.ndcg(idx, ref[None])[0]))
    if len(idx) < config.min_cases:
        return _few_cases(scores, idx, choice, config)
    begin = ref if start else None
    own, own_s = coordinate_ascent(scores, idx, config.grid, config.passes, config.tolerance, begin)
    if afresh and begin is not None:
        alt, alt_s = coordinate_ascent(scores, idx, config.grid, config.passes, config.tolerance)
        own, own_s = (alt, alt_s) if alt_s > own_s else (own, own_s)
    if begin is None or _clearly_better(scores, idx, own, ref, config.min_gain_se):
        choice = Choice(own, own_s)
    if any(i in scores.alt for i in idx):
        wordless = scores.view(demographic_words=False)
        w, s = coordinate_ascent(wordless, idx, config.grid, config.passes, config.tolerance, begin)
        choice = replace(choice, ndcg_without_demographic_words=s)
        if s > choice.ndcg + config.tolerance:
            choice = replace(choice, weights=w, ndcg=s, demographic_words=False)
    # Raw or standardised parts: by how each search does on cases it did not see (two folds of the users), as
    # the search over raw parts fits its cases closer (their scales are free to fit them) than it serves others.
    # For new items the unit that must carry over is the item: every held-out user ranks the same few held-out
    # items, a handful of which can hold most targets, so weights fitted to those items score well on either
    # fold of users and badly on other new items (a MovieLens-like shop: benchmarks/results/synthetic_shops/).
    # There the bars count the items as samples too (_clear_gain): a gain that a handful of items hold is not one
    # that carries over.
    raw_cv = _cross_validated(choice.scores(scores), idx, config, begin, by_items, shares=mixed)
    if raw_cv is None:  # a fold too small: the same folds for the standardised parts
        return choice
    z = scores.view(demographic_words=choice.demographic_words, standardised=True)
    z_cv = _cross_validated(z, idx, config, None, by_items, shares=mixed)
    choice = replace(choice, ndcg_cross_validated=float(raw_cv.values.mean()),
                     ndcg_standardised=float(z_cv.values.mean()))
    best_cv = raw_cv
    if _clear_gain(z_cv, raw_cv, config.standardise_gain_se, config.tolerance):
        w, s = coordinate_ascent(z, idx, config.grid, config.passes, config.tolerance)
        choice, best_cv = replace(choice, weights=w, ndcg=s, standardised=True), z_cv
    if not (by_items or mixed):
        return choice
    plain = scores.view(demographic_words=choice.demographic_words)  # one part ranks alike raw or standardised
    one_cv = _cross_validated(plain, idx, config, None, by_items, passes=0, shares=mixed)
    choice = replace(choice, ndcg_one_part=float(one_cv.values.mean()))
    # The blend must beat the best part alone clearly, the items counted as samples: the targets are the held-out
    # new items, which all these users rank, so a gain over users alone can rest on a few items (on draws of a
    # shop's new items the blend kept by the users' bar trailed the best part alone on the test's:
    # benchmarks/results/cross_fitting/items.md, last section). New items alone must also win on every half of the
    # items: one that wins on some and loses on others has not shown that it carries over to items it was not
    # chosen on.
    if mixed:
        return _mixed_choice(plain, z, idx, choice, best_cv, one_cv, config)
    if _clear_gain(best_cv, one_cv, config.search_gain_se, config.tolerance) and all(
            best_cv.values.sum(1) > one_cv.values.sum(1)):
        return choice
    w = _new_items_part(plain, idx, config)
    return replace(choice, weights=w, ndcg=float(plain.ndcg(idx, w[None])[0]), standardised=False)


def _mixed_choice(plain: CaseScores, z: CaseScores, idx: Sequence[int], searched: Choice,
                  searched_cv: CrossValidated, one_cv: CrossValidated, config: FitConfig) -> Choice:
    """New items mixed into the old after a long history. Which part that reads a new item's own text leads there
    is which items were drawn as new: on the tests' new items of nine draws (four of amazon_office's, one each of
    five small shops) the lead moved between text, lexical and nearest, each alone trailing the draw's best part
    by 2x to 5x somewhere, and their even blend (standardised, _even_own_text) scored above every part on three;
    on six draws of a MovieLens-like shop lexical led on five (benchmarks/results/new_item_draws.md). So the best
    part alone and the even blend, neither fitted beyond the choice of one part, stand on equal terms: the one
    that scores better on the held-out cases. The searched blend replaces it only where it beats both clearly,
    the items counted as samples (_clear_gain): it is fitted to the held-out users' few new items. The part's
    side is its split-half cross-validated choice, not its in-sample best: over seven shops' draws of held-out
    items, taking the in-sample better of the two kept less of the best part (same record, last section).
    `plain` and `z`: choose_weights' views of the cases, raw and standardised, with the searched choice's words."""
    even = _even_own_text(z, idx)
    even_cv = _alone(z, idx, even) if even is not None else one_cv
    if even is not None:
        searched = replace(searched, ndcg_own_text_blend=float(even_cv.values.mean()))
    bar = config.search_gain_se, config.tolerance
    if _clear_gain(searched_cv, one_cv, *bar) and _clear_gain(searched_cv, even_cv, *bar):
        return searched
    if even is None or one_cv.values.mean() >= even_cv.values.mean():
        w = coordinate_ascent(plain, idx, config.grid, 0, config.tolerance)[0]
        return replace(searched, weights=w, ndcg=float(plain.ndcg(idx, w[None])[0]), standardised=False)
    return replace(searched, weights=even, ndcg=float(z.ndcg(idx, even[None])[0]), standardised=True)


def _even_own_text(scores: CaseScores, idx: Sequence[int]) -> np.ndarray | None:
    """Weight 1 on each part that reads a new item's own text (OWN_TEXT) and has a value in these cases; None
    with fewer than two such parts (one is that part alone)."""
    own = [p for p in scores.live_parts(idx) if PARTS[p] in OWN_TEXT]
    if len(own) < 2:
        return None
    w = np.zeros(len(PARTS))
    w[own] = 1.0
    return w


def _new_items_part(scores: CaseScores, idx: Sequence[int], config: FitConfig) -> np.ndarray:
    """The part alone (a unit weight vector) that new items fall back to: of the parts that read a new item's own
    text (OWN_TEXT), the steadiest (_steadiest_part); a part fitted on the logs (popularity, collab, learned,
    demographic: a new item gets it from its text-nearest old items, or the learned model's map of text to logs)
    only where it is the best part and beats that one clearly, the items counted as samples
    (FitConfig.search_gain_se, _clear_gain). Those parts add which neighbours a new item has, and what the logs
    say of them, to which items were drawn: on draws of a shop's new items where one led on the fit's held-out
    items within that noise, it trailed on the test's (benchmarks/results/cross_fitting/items.md, last section)."""
    live = scores.live_parts(idx)
    own = [p for p in live if PARTS[p] in OWN_TEXT]
    if not own:
        return _steadiest_part(scores, idx, config, live)
    steady = _steadiest_part(scores, idx, config, own)
    best = live[int(np.argmax(scores.ndcg(idx, np.eye(len(PARTS))[live])))]
    if PARTS[best] in OWN_TEXT:
        return steady
    unit = np.eye(len(PARTS))[best]
    return unit if _clear_gain(_alone(scores, idx, unit), _alone(scores, idx, steady), config.search_gain_se,
                               config.tolerance) else steady


def _alone(scores: CaseScores, idx: Sequence[int], weights: np.ndarray) -> CrossValidated:
    """Each case's NDCG@10 under `weights` with its split over the case's targets (in-sample for a part alone,
    which has nothing fitted to cross-validate; a fold's cases under the other fold's weights in
    _cross_validated); each case ranked once, its NDCG the sum of its shares."""
    shares = [scores.item_shares(i, weights) for i in idx]
    return CrossValidated(np.array([[sum(s.values()) for s in shares]]), shares)


def _steadiest_part(scores: CaseScores, idx: Sequence[int], config: FitConfig, parts: Sequence[int]) -> np.ndarray:
    """Of `parts` (indices into PARTS), the one alone (a unit weight vector) whose worst half of the items, over
    FitConfig.item_partitions partitions, scores best: new items' parts must carry over to items they were not
    chosen on, and a part that leads on all the held-out items through the half of them holding most targets can
    trail on other items (benchmarks/results/cross_fitting/items.md)."""
    if not parts:
        return np.zeros(len(PARTS))
    units = np.eye(len(PARTS))[list(parts)]
    halves = [scores.view(item_half=h) for h in range(2 * config.item_partitions)]
    worst = np.min([half.ndcg(list(idx), units) for half in halves], axis=0)
    return units[int(np.argmax(worst))]


def _few_cases(scores: CaseScores, idx: Sequence[int], ref: Choice, config: FitConfig) -> Choice:
    """Too few cases to search weights on: `ref` (where the search would start), unless one part alone beats it
    clearly on them (FitConfig.search_gain_se), one choice among a handful rather than a search. `ref` can be
    about other items than the type's targets: a small shop's long histories, whose targets are new items, once
    took cold-start users' weights, which bury every new item under the popular old ones (0 on their cases)."""
    live = scores.live_parts(idx)
    if len(idx) < 2 or not live:
        return ref
    units = np.eye(len(PARTS))[live]
    per_case = scores.per_case(idx, np.vstack([units, ref.weights[None]]))
    best = int(np.argmax(per_case[:-1].mean(1)))
    if _gain(per_case[best], per_case[-1], config.search_gain_se, config.tolerance):
        return Choice(units[best], float(per_case[best].mean()))
    return ref


def _gain(a: np.ndarray, b: np.ndarray, n_se: float, tolerance: float) -> bool:
    """Do the paired per-case scores `a` beat `b` by more than `n_se` standard errors (and `tolerance`)?"""
    diff = a - b
    return bool(diff.mean() > max(n_se * standard_error(diff), tolerance))


@dataclass(frozen=True)
class CrossValidated:
    """Each case's cross-validated NDCG@10 (`values`: a row per fold) and, over halves of the items, each case's
    mean over the halves split over its targets (`shares`, CaseScores.item_shares), so a gate can count the
    items as samples."""

    values: np.ndarray
    shares: list[dict[int, float]] | None = None


def _clear_gain(a: CrossValidated, b: CrossValidated, n_se: float, tolerance: float) -> bool:
    """Does `a` beat `b` per case by more than `n_se` standard errors (and `tolerance`)? Over halves of the items
    the standard error is the larger of the users' and the two-way (users and items) cluster-robust one: the
    held-out users rank the same few held-out items, and a gain that a handful of them hold is no gain on
    other new items."""
    diff = a.values.mean(0) - b.values.mean(0)
    se = standard_error(diff)
    if a.shares is not None and b.shares is not None:
        split = [{g: sa.get(g, 0.0) - sb.get(g, 0.0) for g in sa.keys() | sb.keys()} or {-1 - c: 0.0}
                 for c, (sa, sb) in enumerate(zip(a.shares, b.shares))]  # a case without targets: its own cluster
        if clustered := two_way_clustered_p(split):
            se = max(se, clustered[0])
    return bool(diff.mean() > max(n_se * se, tolerance))


def _cross_validated(scores: CaseScores, idx: Sequence[int], config: FitConfig, start: np.ndarray | None,
                     by_items: bool = False, passes: int | None = None, shares: bool = False
                     ) -> CrossValidated | None:
    """Each case's NDCG@10 under the weights that coordinate ascent (from `start`; `passes`, default the
    config's; 0: the best single part) chose on the other fold of users (two folds, by a hash of the user), as
    a (1, cases) array; None when a fold has fewer than FitConfig.min_cases cases. `by_items`: the folds are
    halves of the items instead (FitConfig.item_partitions seeded partitions, CaseScores.item_fold): weights
    chosen on every case's items of one half score its items of the other, as a (2 x partitions, cases) array
    (row h: each case over its items of half h), with each case's shares of its targets; None when a half holds
    the targets of fewer than min_cases cases. Over users, `shares` keeps each case's split over its targets too."""
    passes = config.passes if passes is None else passes
    idx = np.asarray(idx)
    if by_items:
        n = 2 * config.item_partitions
        halves = [scores.view(item_half=h) for h in range(n)]
        with_targets = [sum(bool(len(halves[h].targets_in_view(i))) for i in idx) for h in range(n)]
        if min(with_targets) < config.min_cases:
            return None
        out = np.zeros((n, len(idx)))
        shares: list[dict[int, float]] = [{} for _ in idx]
        for h in range(n):
            w, _ = coordinate_ascent(halves[h ^ 1], list(idx), config.grid, passes, config.tolerance, start)
            for col, (case, i) in enumerate(zip(shares, idx)):  # each case ranked once: its NDCG is its shares' sum
                split = halves[h].item_shares(i, w)
                out[h, col] = sum(split.values())
                for g, v in split.items():
                    case[g] = case.get(g, 0.0) + v / n
        return CrossValidated(out, shares)
    fold = np.array([scores.fold(i) for i in idx])
    if min((fold == 0).sum(), (fold == 1).sum()) < config.min_cases:  # checked before any search
        return None
    out = np.zeros(len(idx))
    split: list[dict[int, float]] = [{} for _ in idx]
    for f in (0, 1):
        train, test = idx[fold != f], np.nonzero(fold == f)[0]
        w, _ = coordinate_ascent(scores, list(train), config.grid, passes, config.tolerance, start)
        if not shares:
            out[test] = scores.per_case(list(idx[test]), w[None])[0]
            continue
        scored = _alone(scores, list(idx[test]), w)
        out[test] = scored.values[0]
        for col, case in zip(test, scored.shares):
            split[col] = case
    return CrossValidated(out[None], split if shares else None)


def _clearly_better(scores: CaseScores, idx: Sequence[int], own: np.ndarray, pooled: np.ndarray, n_se: float) -> bool:
    a, b = scores.per_case(idx, np.stack([own, pooled]))
    return len(a) > 1 and _gain(a, b, n_se, 0.0)


def to_type_weights(w: np.ndarray, demographic_words: bool = True, standardised: bool = False) -> TypeWeights:
    searched = {name: float(w[PARTS.index(name)]) for name in COMPONENTS if name not in UNSEARCHED}
    return TypeWeights(model=float(w[0]), prior=PriorWeights(**searched), demographic_words=demographic_words,
                       standardised=standardised)



def prior_only(w: np.ndarray) -> np.ndarray:
    """A copy of the weights `w` (over PARTS) with the model's set to 0."""
    w = w.copy()
    w[0] = 0.0
    return w


def choose_model_weight(scores: CaseScores, idx: Sequence[int], w: np.ndarray, fallback: float,
                        config: FitConfig) -> tuple[np.ndarray, dict]:
    """`w` (the prior's weights, chosen without the model on every held-out user) with the model's weight chosen
    on the cases `idx` that the model scored, the prior fixed: the grid value with the best NDCG@10, taken over 0
    only for a clear gain (FitConfig.tolerance, model_gain_se). The gain is the best weight's on the cases it was
    chosen on: judging each user's cases under the weight the other users chose instead (leave one user out) let
    no fewer losing weights through on simulated types and served less of a real gain
    (benchmarks/results/model_bar.md). The prior's weights are not chosen again on these few users: they would fit
    them, not the shop. With fewer than FitConfig.min_cases of them, `fallback`."""
    w = prior_only(w)
    if len(idx) < config.min_cases:
        w[0] = fallback
        return w, {"cases": len(idx)}
    on = scores.view(model_on=True)
    grid = np.asarray(config.grid, dtype=np.float64)
    cand = np.tile(w, (len(grid), 1))
    cand[:, 0] = grid
    per_case = on.per_case(idx, cand)
    s = per_case.mean(1)
    zero, best = int(np.flatnonzero(grid == 0)[0]), int(np.argmax(s))
    # the best weight's paired gain on these cases, kept in the manifest so it shows how clear each choice was
    a, b = per_case[best], per_case[zero]
    diff, paired = a - b, len(idx) > 1
    se = standard_error(diff) if paired else None
    clear = paired and _gain(a, b, config.model_gain_se, config.tolerance)
    j = best if clear else zero
    return cand[j], {"cases": len(idx), "ndcg@10": float(s[j]), "without_model_ndcg@10": float(s[zero]),
                     "model_alone_ndcg@10": float(on.ndcg(idx, np.eye(len(PARTS))[:1])[0]),
                     "best_weight": float(grid[best]), "best_gain": float(diff.mean()), "best_gain_se": se,
                     "best_t_test_p": paired_t_p(diff)}
