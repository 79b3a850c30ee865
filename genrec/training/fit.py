"""Fit genrec to a shop: every search weight chosen per request type on the shop's own held-out users.

`fit_shop` holds out a seeded share of the shop's users (their requests are the validation cases) and of its
items with enough users (new-item cases), fits the signals (genrec.ranking.signals) on what is left (on a small
shop, further shares of the users in turn, and on any shop further shares of the items, each with the signals
fitted without it: FitConfig.folds), scores every
held-out case's parts exactly (every item's value of every part, and with an adapter the model's exact
log-probability of every item from one pass per prompt), and chooses the weights by coordinate ascent over a
grid: first pooled over all cold-user requests, then for each request type (genrec.data.cases.request_type) with
enough cases, starting from the pooled weights (a returning user's long history: from those of 3 known items)
and moving only for a gain (a type with too few keeps where the search would start, or takes one part alone
where that clearly beats it); a type whose requests carry an occupation is searched again with the occupation
left out of the text parts. The search starts from the best single part, so on its own held-out cases a fitted
genrec is never below its best single signal. With an adapter, the model scores only some held-out users (up to
FitConfig.max_model_users, those its training left out): the prior's weights are chosen as above on all of them,
the model left out, and then each type's model weight on the users it scored, the prior's fixed. Then the
signals are fitted again on all the data. Nothing here is tuned to one shop: the defaults below are the procedure
and its search space.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from tqdm.auto import tqdm

from ..data.cases import (
    LONG,
    MAX_COLD_KNOWN,
    NEW_ITEMS,
    TEXT,
    Case,
    cold_item_cases,
    cold_user_cases,
    free_text_cases,
    takes_new_and_old,
)
from ..data.catalog import Catalog
from ..data.dataset import Dataset
from ..errors import GenrecError
from ..evaluation.metrics import ndcg_of_scores
from ..ranking.collab import CollabConfig, CollabModel, fit_collab
from ..ranking.content import profile_words
from ..ranking.contract import CatalogMask
from ..ranking.prior import ItemPrior, PriorWeights
from ..ranking.shop import DEFAULT, Shop, ShopManifest
from ..ranking.signals import fit_signals
from .weight_search import (
    PARTS,
    CaseScores,
    Choice,
    choose_model_weight,
    choose_weights,
    coordinate_ascent,
    prior_only,
    to_type_weights,
    wordings,
)

log = logging.getLogger(__name__)


# Fewer held-out cold-start users than this are too few to choose weights on (their NDCG is all noise).
MIN_HELD_OUT_USERS = 10


class TooFewUsers(GenrecError):
    """The logs hold too few users with more than MAX_COLD_KNOWN items to hold some out and fit on them."""


@dataclass(frozen=True)
class FitConfig:
    holdout_share: float = 0.2  # of the users with more than 3 items
    max_holdout_users: int = 1000
    # Cross-fitting: while held-out users and cases stay under max_holdout_users and max_cases, up to this many
    # folds of users are held out, each scored by the signals fitted without it. On a small shop one share of
    # its users gives each request type too few cases for the search to tell weights apart
    # (benchmarks/results/cross_fitting/README.md).
    folds: int = 5
    # About this many held-out cases at most: fewer held-out users where each brings more cases (a users file with
    # demographics doubles them). Scoring the parts and the weight search take time in proportion to the
    # cases, so this bounds what a fit costs (benchmarks/results/fit_cost.md).
    max_cases: int = 12_000
    # Held-out users whose requests an adapter's model scores (its passes are dear), of each group (cold-start
    # users, users with new items); the prior's weights are chosen on all held-out users.
    max_model_users: int = 150
    # Users whose new-item cases (new items alone; mixed in after a long history) are scored: as protocol B
    # draws them, users who took a held-out item, their other items staying in the training logs. Drawn apart
    # from the held-out cold-start users, so these request types are fitted on many more cases. Shared equally
    # over the shares of items held out in turn (up to `folds`), so their weights rest on several shares of items,
    # not one share's few.
    max_item_case_users: int = 1000
    # Held-out users whose cold-start cases (without interests) are asked again with a sentence of free text
    # (genrec.data.cases.free_text_cases): the chat's requests, whose weights are chosen on these ("+text").
    max_text_users: int = 300
    cold_item_share: float = 0.1  # of the items with >= min_item_users users, held out as new items
    min_item_users: int = 5
    grid: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
    passes: int = 3  # coordinate-ascent sweeps over the parts
    # A request type with fewer held-out cases is not searched: it takes the pooled weights, or one part alone
    # where that clearly beats them on its cases (search_gain_se).
    min_cases: int = 50
    tolerance: float = 1e-4  # NDCG@10 a move must gain to be taken
    # A request type keeps weights of its own only when they beat the pooled ones on its cases by this many
    # standard errors of the paired difference (0: any gain the ascent found, as the recorded runs used).
    min_gain_se: float = 0.0
    # A request type's parts are standardised (genrec.ranking.prior.standardised) only when that beats its raw
    # parts by this many standard errors of the paired difference in cross-validated NDCG@10 on its held-out
    # cases (two standard errors: the usual bar for a difference that is not noise). Z-scores undo the
    # shrinkage of a weak part (a demographic lift where demographics say nothing), so they must earn their place.
    standardise_gain_se: float = 2.0
    # Requests for new items keep the searched blend only when it beats the best single part by this many
    # standard errors in NDCG@10 cross-validated over halves of the held-out items (the same bar; the standard
    # error counts the items as samples too, as the users rank the same few), else that part alone: a blend
    # fitted to the few held-out items that hold most targets need not carry over. New items mixed into the old
    # after a long history ("long"): the same bar, cross-validated over the users.
    search_gain_se: float = 2.0
    # ... over this many seeded partitions of the held-out items into halves (the blend must win on every half):
    # one partition's two halves are a small sample of items (benchmarks/results/synthetic_shops/README.md)
    item_partitions: int = 3
    # An adapter's model gets a weight in a request type only when that beats the prior alone by this many
    # standard errors on the held-out users it scored (the same bar): a weight costs a model pass per request,
    # and a weight of 0 is how the fit says the model adds nothing measurable there.
    model_gain_se: float = 2.0
    exact_items: int = 3000  # larger catalogs score each case over the union of every part's top `pool` items
    pool: int = 200
    demographics_variants: bool = True  # also hold out each request without the user's demographics
    collab: CollabConfig | None = field(default_factory=CollabConfig)  # None: no learned collaborative model
    # Other designs of the learned model, each trained too; the one whose learned part alone scores best on the
    # held-out users is kept. The default tries the text map with hidden IDs (new items scored by their text).
    collab_alternatives: tuple[CollabConfig, ...] = (CollabConfig(text=True, id_dropout=0.25),)
    seed: int = 2024
    search_threads: int = 2  # request types searched at once (threads; the same weights for any number)

    def __post_init__(self):
        if not 0 < self.holdout_share < 1 or not 0 <= self.cold_item_share < 1:
            raise GenrecError("holdout_share must be within (0, 1) and cold_item_share within [0, 1)")
        if min(self.min_gain_se, self.standardise_gain_se, self.search_gain_se, self.model_gain_se) < 0:
            raise GenrecError("min_gain_se, standardise_gain_se, search_gain_se and model_gain_se must be >= 0 "
                              "(standard errors)")
        if not self.grid or min(self.grid) < 0 or 0.0 not in self.grid:
            raise GenrecError(f"grid must hold 0 and values >= 0, got {self.grid!r}")
        for name in ("folds", "max_holdout_users", "max_cases", "max_model_users", "max_item_case_users",
                     "max_text_users", "min_item_users", "passes", "min_cases", "pool", "item_partitions",
                     "search_threads"):
            if getattr(self, name) < 1:
                raise GenrecError(f"FitConfig.{name} must be >= 1, got {getattr(self, name)!r}")


def split_holdout(catalog: Catalog, sequences: Mapping[str, Sequence[str]], config: FitConfig,
                  n_users: int | None = None) -> tuple[list[str], set[str]]:
    """The seeded held-out users (among those with more than 3 items) and held-out items."""
    rng = random.Random(config.seed)
    eligible = sorted(u for u, s in sequences.items() if len(s) > MAX_COLD_KNOWN)
    n = min(n_users or config.max_holdout_users, round(config.holdout_share * len(eligible)))
    held = sorted(rng.sample(eligible, n))
    items = _holdable_items(catalog, sequences, config)
    return held, set(rng.sample(items, int(config.cold_item_share * len(items))))


def unlogged(catalog: Catalog, sequences: Mapping[str, Sequence[str]]) -> set[str]:
    """The catalog's items that no user in `sequences` took."""
    taken = {i for s in sequences.values() for i in s}
    return {it.item_id for it in catalog if it.item_id not in taken}


def _holdable_items(catalog: Catalog, sequences: Mapping[str, Sequence[str]], config: FitConfig) -> list[str]:
    """The items with enough users to hold out as new items (FitConfig.min_item_users), sorted."""
    counts = Dataset(catalog, dict(sequences)).popularity()
    return sorted(i for i, c in counts.items() if c >= config.min_item_users)


def item_case_users(sequences: Mapping[str, Sequence[str]], cold: set[str], held: set[str], n: int,
                    seed: int) -> list[str]:
    """A seeded sample of `n` users who took a held-out item and an old one, outside the held-out cold-start users
    (`held`): as in protocol B, their old items stay in the training logs, and only the held-out items leave."""
    eligible = sorted(u for u, s in sequences.items() if u not in held and takes_new_and_old(s, cold))
    return sorted(_sample(eligible, n, seed + 1))


def _training_view(sequences: Mapping[str, Sequence[str]], held: set[str], cold: set[str]) -> dict[str, list[str]]:
    """The logs the signals are fitted on while `held` users and `cold` items are held out."""
    view = {u: [i for i in s if i not in cold] for u, s in sequences.items() if u not in held}
    return {u: s for u, s in view.items() if s}


def _more_folds(eligible: Sequence[str], taken: Collection[str], config: FitConfig, seed: int) -> list[list[str]]:
    """Further folds, each as large as the first (`taken`), of the `eligible` users or items not in it
    (FitConfig.folds in all), seeded."""
    rest = [x for x in eligible if x not in taken]
    random.Random(seed).shuffle(rest)
    size = len(taken)
    return [rest[i:i + size] for i in range(0, len(rest), size)][:config.folds - 1] if size else []


def _item_cases(sequences: Mapping[str, Sequence[str]], users: Sequence[str], cold: set[str]) -> list[Case]:
    """New items alone, and mixed into the whole catalog after a long history (a history of 1-3 items reads as a
    cold-start request, which the cold-start users' cases cover)."""
    return [c for c in cold_item_cases(sequences, users, cold)
            if c.setting == "cold-only" or len(c.profile.recent_items) > MAX_COLD_KNOWN]


def _within(users: list[str], cases: list[Case], room: int) -> tuple[list[str], list[Case]]:
    """The first of `users` whose cases (in users' order) fit in `room` cases, and those cases."""
    per_user = Counter(c.user for c in cases)
    users = users[:int(np.searchsorted(np.cumsum([per_user[u] for u in users]), room, "right"))]
    kept = set(users)
    return users, [c for c in cases if c.user in kept]


def _sample(users: Sequence[str], n: int, seed: int) -> list[str]:
    """A seeded sample of `n` of `users` (all of them when there are fewer)."""
    return random.Random(seed).sample(list(users), min(n, len(users)))


def _share(users: Sequence[str], share: float, seed: int) -> list[str]:
    return _sample(users, max(int(len(users) * share), 1), seed)


def fit_shop(catalog: Catalog, sequences: Mapping[str, Sequence[str]], users: Mapping[str, Mapping] | None = None,
             config: FitConfig = FitConfig(), recommender=None, encoder=None, progress: bool = True,
             holdout: tuple[Sequence[str], set[str]] | None = None, paired: bool = False) -> Shop:
    """Fit the signals and choose the weights per request type on held-out users; refit on everything.
    `recommender`: a genrec.Recommender with an adapter, whose model then scores the held-out prompts and
    earns a weight of its own (without one the model weight is 0). `holdout`: the held-out users and items
    (split_holdout): without a model, exactly those; with one, those its training left out (the model scores
    them), more drawn beside them; else all drawn here, in up to FitConfig.folds folds. `paired`: a fit without
    a model draws and uses its users as a fit with one would, so the two have the same cases and prior weights
    (genrec eval --adapter pairs them)."""
    from ..model.embed import default_encoder, encode_catalog

    t0 = time.perf_counter()
    phases = _Phases()
    users = users or {}
    sequences = {u: [i for i in s if i in catalog.index] for u, s in sequences.items()}
    sequences = {u: s for u, s in sequences.items() if s}
    with_model = recommender is not None and bool(recommender.model_weight)
    held, cold = holdout or split_holdout(catalog, sequences, config)
    held = [u for u in held if u in sequences]
    # The model scores a few users (its passes are dear): those its training left out (`holdout`), else a seeded
    # share of the held-out ones. The prior's weights are chosen on all held-out users, as without a model:
    # more users are drawn beside the model's. A `paired` fit without a model draws the same users.
    as_model = with_model or paired
    model_users = set()
    if as_model:
        model_users = set(held if holdout else _sample(held, config.max_model_users, config.seed))
        if holdout:
            held = sorted(set(held) | set(split_holdout(catalog, sequences, config)[0]))
    if len(held) < MIN_HELD_OUT_USERS:
        raise TooFewUsers(f"only {len(held)} users with more than {MAX_COLD_KNOWN} items to hold out: too few to "
                          "fit on (the logs need more users)")
    held_set = set(held)
    # New items alone, and mixed into the whole catalog for returning users (a warm history longer than 3
    # items: request type "long"); a shorter one reads as a cold-start request, which protocol A's cases cover.
    # Each share of the items gets an equal part of the new-item users (when further shares are held out), so
    # their weights rest on several shares' items rather than on one share's few. Those further shares (scored
    # below, each by signals fitted without it) are drawn here, so that the case cap leaves them room.
    more_cold = (_more_folds(_holdable_items(catalog, sequences, config), cold, config, config.seed + 4)
                 if holdout is None else [])
    per_fold = max(config.max_item_case_users // (1 + len(more_cold)), 1)
    item_users = item_case_users(sequences, cold, held_set, per_fold, config.seed)
    if as_model:
        model_users |= set(_sample(item_users, config.max_model_users, config.seed))
    item_cases = _item_cases(sequences, item_users, cold)
    variants = (True, False) if config.demographics_variants else (True,)
    cases = cold_user_cases(catalog, sequences, users, held, demographics_variants=variants)
    # Free-text requests from some held-out users, the model's first (so its weight for them has cases too).
    text_users = ([u for u in held if u in model_users]
                  + [u for u in _sample(held, len(held), config.seed + 2) if u not in model_users])
    text_users = set(text_users[:config.max_text_users])
    cases += free_text_cases(catalog, [c for c in cases if c.user in text_users], sequences, config.seed)
    # Over the cap: the same seeded share of each group of users, counting the cases the further shares of items
    # will bring (about as many as the first's). Cutting the first share alone to the cap left those shares no
    # room: a 6,040-user shop's new items were chosen on 127 cases of one share's items, not 5 shares' 1,000
    # users (benchmarks/results/synthetic_shops/README.md, last section).
    planned = len(cases) + len(item_cases) * (1 + len(more_cold))
    if planned > config.max_cases:
        share = config.max_cases / planned
        per_fold = max(int(per_fold * share), 1)
        keep = model_users | set(_share([u for u in held if u not in model_users], share, config.seed)) \
            | set(_share([u for u in item_users if u not in model_users], share, config.seed))
        held, item_users = [u for u in held if u in keep], [u for u in item_users if u in keep]
        held_set = set(held)  # the others go back to training
        cases = [c for c in cases if c.user in keep]
        item_cases = [c for c in item_cases if c.user in keep]
    cases += item_cases
    view = _training_view(sequences, held_set, cold)
    encoder = encoder or (recommender.encoder if recommender is not None else default_encoder())
    item_emb = recommender.prior.item_emb if recommender is not None else encode_catalog(catalog, encoder)
    # Items no one took in the logs are left out of the held-out cases' rankings: they cannot be targets there, so
    # ranking them would only teach the weights that items without logs are unwanted, which for a new item is not
    # what its lack of logs means (it was not there to take). New items are judged on the held-out shares of items,
    # whose takers the fit knows.
    mask = CatalogMask(catalog, retired=frozenset(unlogged(catalog, sequences)))
    phases.mark("held-out cases, item embeddings")

    # the cold-start users' cases as the protocol has them: the pooled weights and the learned model's choice
    users_idx = [i for i, c in enumerate(cases) if c.protocol == "A" and not c.setting.endswith(TEXT)]
    validation = [(cases[i], mask.allowed(cases[i].filters, cases[i].profile)) for i in users_idx[:3000]]
    ids = [it.item_id for it in catalog]

    def validate(model: CollabModel) -> float:  # held-out NDCG@10 of the learned part alone
        model = model.aligned(catalog, item_emb)
        return float(np.mean([ndcg_of_scores(np.where(a, model.logprobs(c.profile), -np.inf), c.targets, ids)
                              for c, a in validation]))

    signals = fit_signals(catalog, view, users, config.collab, validate=validate if config.collab else None,
                          progress=progress, item_emb=item_emb)
    collab, collab_scores = config.collab, []
    if signals.learned is not None:
        collab_scores.append(validate(signals.learned))
        for alt in config.collab_alternatives:
            model = fit_collab(catalog, view, users, alt, validate=validate, progress=progress, item_emb=item_emb)
            collab_scores.append(validate(model) if model is not None else -np.inf)
            if collab_scores[-1] > max(collab_scores[:-1]):
                collab, signals = alt, replace(signals, learned=model)
    cached = _CachedEncoder(encoder)
    phases.mark("signals")
    model_rows = _model_rows(recommender, mask, cases, model_users) if with_model else None
    phases.mark("model scores")

    def case_scores(fitted, these: list[Case], rows=None) -> CaseScores:  # every part of these cases, exactly
        if texts := _case_texts(these):  # in one batched call: case by case, the encoder ran on one text at a time
            cached.encode(texts)
        prior = ItemPrior(catalog, item_emb, cached, PriorWeights(), lexical_index=True, **fitted.prior_kwargs())
        return CaseScores(prior, mask, these, rows, config.exact_items, config.pool, progress, config.item_partitions)

    scores = case_scores(signals, cases, model_rows)
    phases.mark("part scores")
    epochs = signals.learned.epochs if signals.learned is not None else None
    # Further disjoint shares of the items are held out in turn, each scored by signals fitted without it, while
    # the new-item users and the cases stay in budget, before the users' further folds take the cases left: one
    # share's items are too few to choose new items' weights on (a 150-user shop: 3 to 25 items taken by 16 to 120
    # users; a 943-user shop: 160 items, which parts lead on them mostly which items were drawn).
    n_items, n_item_users = len(cold), len(item_users)
    for fold_cold in more_cold:
        fold_cold = set(fold_cold)
        if n_item_users >= config.max_item_case_users:
            break
        fold_users = item_case_users(sequences, fold_cold, held_set,
                                     min(per_fold, config.max_item_case_users - n_item_users), config.seed)
        fold_cases = _item_cases(sequences, fold_users, fold_cold)
        kept, fold_cases = _within(fold_users, fold_cases, config.max_cases - len(cases))
        # a fold that the case cap cuts to a sliver is not worth fitting the signals again (a 5,000-user shop)
        if not kept or (len(kept) < len(fold_users) and len(fold_cases) < config.min_cases):
            break
        fold_users = kept
        fold_signals = fit_signals(catalog, _training_view(sequences, held_set, fold_cold), users, collab,
                                   collab_epochs=epochs, progress=progress, item_emb=item_emb)
        scores.extend(case_scores(fold_signals, fold_cases))
        cases, n_items, n_item_users = cases + fold_cases, n_items + len(fold_cold), n_item_users + len(fold_users)
    n_held = len(held)
    # The same for the users (a small shop's one share gives each request type too few cases); held-out users
    # given (`holdout`: a protocol's validation users, an adapter's) are the ones to fit on
    eligible_users = sorted(u for u, s in sequences.items() if len(s) > MAX_COLD_KNOWN)
    for fold_users in _more_folds(eligible_users, held_set, config, config.seed + 3) if holdout is None else []:
        # the fold's users within the budgets of users and cases
        fold_users = fold_users[:config.max_holdout_users - n_held]
        fold_cases = cold_user_cases(catalog, sequences, users, fold_users, demographics_variants=variants)
        fold_users, fold_cases = _within(fold_users, fold_cases, config.max_cases - len(cases))
        if len(fold_users) < MIN_HELD_OUT_USERS:
            break
        fold_signals = fit_signals(catalog, _training_view(sequences, set(fold_users), cold), users, collab,
                                   collab_epochs=epochs, progress=progress, item_emb=item_emb)
        scores.extend(case_scores(fold_signals, fold_cases))
        cases, n_held = cases + fold_cases, n_held + len(fold_users)
    users_idx = [i for i, c in enumerate(cases) if c.protocol == "A" and not c.setting.endswith(TEXT)]
    phases.mark("more folds")

    by_type: dict[str, list[int]] = {}
    for i, t in enumerate(scores.types):
        by_type.setdefault(t, []).append(i)
    # The prior's weights first, on every held-out user, the model left out (CaseScores.with_model); then, with
    # a model, its weight on the users it scored.
    scored = [c.user in model_users for c in cases]
    pooled, pooled_score = coordinate_ascent(scores, users_idx, config.grid, config.passes, config.tolerance)
    held_out = {DEFAULT: {"cases": len(users_idx), "ndcg@10": pooled_score}}
    if with_model:
        pooled, held_out[DEFAULT]["model"] = choose_model_weight(scores, [i for i in users_idx if scored[i]],
                                                                 pooled, 0.0, config)
    weights, chosen = {DEFAULT: to_type_weights(pooled)}, {}

    def start_of(t: str) -> str:  # the type whose weights a type's search starts from (pooled where none)
        return "k3" if t == LONG else t.replace(TEXT, "")

    def wave(t: str) -> int:  # after the type it starts from
        return 0 if start_of(t) == t or start_of(t) not in by_type else wave(start_of(t)) + 1

    waves = {t: wave(t) for t in by_type}

    def fit_type(t: str) -> tuple[Choice, dict]:  # one request type's weights and held-out record
        idx = by_type[t]
        ref = chosen.get(start_of(t), pooled)
        # new items start afresh (the pooled weights are about old items); a long history's targets are new
        # items, unlike the cases of `ref`, and free text says what to take more than any other part of a
        # request, so these also try afresh (as every type does with standardised parts; a `ref` whose parts
        # were standardised is then only a starting point of the raw parts' search). New items are chosen over
        # halves of the items, the items counted as samples in the bars a blend must pass (weight_search._clear_gain):
        # their held-out users rank the same few items, and a blend that passed the users' bar trailed TF-IDF on the
        # test's new items. Long histories (new items mixed into the old) are chosen over the users (over halves of
        # the items their one-part fallback lost as often as it won), but their blend too must beat the best part
        # alone, and the even blend of the own-text parts, with the items counted as samples, else the better of
        # those two (weight_search._mixed_choice; benchmarks/results/new_item_draws.md).
        prior_ref = prior_only(ref)
        choice = choose_weights(scores, idx, prior_ref, config, start=t != NEW_ITEMS,
                                afresh=t == LONG or TEXT in t, by_items=t == NEW_ITEMS, mixed=t == LONG)
        live = scores.live_parts(idx)
        alone = scores.ndcg(idx, np.eye(len(PARTS))[live]) if live else []
        record = {"cases": len(idx), "ndcg@10": choice.ndcg,  # "pooled": where the search started (`ref`)
                  "pooled_ndcg@10": float(scores.ndcg(idx, prior_ref[None])[0]),
                  "alone": {PARTS[p]: float(v) for p, v in zip(live, alone)}}
        for key, value in (("ndcg@10_without_demographic_words", choice.ndcg_without_demographic_words),
                           ("cross_validated_ndcg@10", choice.ndcg_cross_validated),
                           ("cross_validated_ndcg@10_standardised", choice.ndcg_standardised),
                           ("cross_validated_ndcg@10_one_part", choice.ndcg_one_part),
                           ("ndcg@10_own_text_blend", choice.ndcg_own_text_blend)):
            if value is not None:
                record[key] = value
        if with_model:  # with too few scored cases, `ref`'s model weight
            w, record["model"] = choose_model_weight(choice.scores(scores), [i for i in idx if scored[i]],
                                                     choice.weights, ref[0], config)
            choice = replace(choice, weights=w)
        return choice, record

    # Each type's search reads only the cases and the weights it starts from, so the types run in waves, each
    # after the one holding where its searches start, and within a wave on threads: numpy ranks outside the GIL
    # (benchmarks/results/fit_cost.md).
    bar = tqdm(total=len(by_type), desc="weights per request type", disable=not progress)
    done: dict[str, tuple[Choice, dict]] = {}
    with ThreadPoolExecutor(max_workers=config.search_threads) as pool:
        for n in range(max(waves.values(), default=-1) + 1):
            these = [t for t in sorted(by_type) if waves[t] == n]
            for t, result in zip(these, pool.map(fit_type, these)):
                done[t], chosen[t] = result, result[0].weights
                bar.update()
    bar.close()
    for t in sorted(done):  # the manifest lists the types in one order however the searches ran
        weights[t], held_out[t] = done[t][0].type_weights(), done[t][1]
    phases.mark("weight search")
    full = fit_signals(catalog, sequences, users, collab, collab_epochs=epochs, progress=progress,
                       item_emb=item_emb)
    data = {"users": len(sequences), "items": len(catalog), "interactions": sum(map(len, sequences.values())),
            "held_out_users": n_held, "held_out_items": n_items, "item_case_users": n_item_users,
            "model_users": len(model_users) if with_model else 0, "text_users": len(text_users & held_set),
            "cases": len(cases),
            "collab_epochs": epochs, "collab": asdict(collab) if collab else None,
            "collab_held_out_ndcg@10": [float(v) if np.isfinite(v) else None for v in collab_scores],
            "with_model": with_model, "seconds": phases.mark("signals on all data")}
    cfg = json.loads(json.dumps(asdict(config)))  # as the manifest file will hold it (lists, not tuples)
    manifest = ShopManifest(weights, held_out, catalog.fingerprint(), data, cfg, time.perf_counter() - t0)
    log.info("fitted shop in %.0f s: %s", manifest.fit_seconds, {t: round(v["ndcg@10"], 4)
                                                               for t, v in held_out.items()})
    return Shop(manifest, full)


def _model_rows(recommender, mask: CatalogMask, cases: list[Case], users: set[str]) -> list[np.ndarray | None]:
    """Every item's exact model log-probability for each case of `users` (one tree pass per distinct prompt);
    None for the other cases."""
    prompts = [recommender.prompt(c.profile)[0] if c.user in users else None for c in cases]
    distinct = [p for p in dict.fromkeys(prompts) if p is not None]
    by_prompt = {p: c.profile for p, c in zip(prompts, cases)}
    edges = {}
    step = recommender.config.batch_size
    for start in tqdm(range(0, len(distinct), step), desc="model scores of held-out prompts", unit="batch"):
        chunk = distinct[start:start + step]
        for p, e in zip(chunk, recommender.edge_logits([by_prompt[p] for p in chunk])):
            edges[p] = e
    rows = []
    for c, p in zip(cases, prompts):
        if p is None:
            rows.append(None)
            continue
        v = recommender.trie.item_logprobs(edges[p], mask.allowed(c.filters, c.profile))
        rows.append(np.where(np.isfinite(v), v, 0.0))
    return rows


class _Phases:
    """Wall-clock seconds of each phase of a fit, for its manifest (where a shop's fitting time goes)."""

    def __init__(self):
        self.last, self.seconds = time.perf_counter(), {}

    def mark(self, name: str) -> dict[str, float]:
        now = time.perf_counter()
        self.seconds[name] = round(now - self.last, 2)
        self.last = now
        return self.seconds


def _case_texts(cases: Sequence[Case]) -> list[str]:
    """The distinct texts the text part encodes for these cases (each profile's words, also without the
    occupation where it has one: CaseScores scores both)."""
    texts = {}
    for c in cases:
        for p in wordings(c.profile):
            words = "; ".join(profile_words(p))
            if words:
                texts[words] = None
    return list(texts)


class _CachedEncoder:
    """The encoder with a memory of the texts it encoded: held-out cases repeat the same interests."""

    def __init__(self, encoder):
        self.encoder, self.name, self.cache = encoder, encoder.name, {}

    def encode(self, texts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo:
            self.cache.update(zip(todo, self.encoder.encode(todo)))
        return np.stack([self.cache[t] for t in texts])


def fitted_recommender(catalog: Catalog, sequences: Mapping[str, Sequence[str]], users: Mapping[str, Mapping],
                       adapter=None, fit_config: FitConfig = FitConfig(), progress: bool = True,
                       holdout: tuple[Sequence[str], set[str]] | None = None, paired: bool = False, **kwargs):
    """A Recommender (with the LoRA `adapter` when given) fitted to these logs (on the `holdout` users and items
    when given; `paired` with a fit with an adapter: see fit_shop); kwargs go to Recommender. Logs too small to
    hold users out of (TooFewUsers) give a Recommender that is not fitted (`shop` None): the default weights over
    the logs' signals."""
    from ..ranking.recommender import Recommender

    rec = Recommender(catalog, adapter=adapter, **kwargs)
    try:
        shop = fit_shop(catalog, sequences, users, fit_config, recommender=rec, progress=progress, holdout=holdout,
                        paired=paired)
    except TooFewUsers as e:  # still served from its logs (so `genrec eval` scores it beside the baselines)
        log.warning("%s; genrec runs unfitted, at the default weights, with the logs' signals", e)
        rec.use_logs(sequences, users)
        return rec
    rec.use_shop(shop)
    return rec


def adapter_holdout(folder, sequences: Mapping[str, Sequence[str]]) -> tuple[list[str], set[str]] | None:
    """The users and items that `genrec train` kept out of the adapter's examples (its metadata lists them),
    those of the users in `sequences` with more than 3 items: the fit of that adapter on other logs (genrec eval
    --adapter) then chooses the model's weight on requests the adapter never saw. None when the adapter does
    not list them (trained with --no-fit, or elsewhere): the fit then draws its own, which the adapter may
    have trained on, so its weight can come out too high; also for a folder without LoRA weights (a fitted
    shop), whose ranking has no model to have seen anything."""
    from ..model.adapters import has_lora, read_metadata

    if not has_lora(folder):
        return None
    data = read_metadata(folder).get("training_data", {})
    users = data.get("fit_held_out_user_ids")
    if not isinstance(users, list) or not users:
        log.warning("%s does not list the users its training left out: the fit holds out its own, which the "
                    "adapter may have seen", folder)
        return None
    held = [u for u in map(str, users) if len(sequences.get(u, ())) > MAX_COLD_KNOWN]
    return held, set(map(str, data.get("fit_held_out_item_ids", [])))


def fit_dataset(data: Dataset, train_users: Sequence[str] | None = None, config: FitConfig = FitConfig(),
                recommender=None, progress: bool = True) -> Shop:
    """fit_shop on a Dataset, on `train_users` only when given (e.g. a splits file's train_users, its cold
    items held out of their sequences)."""
    seqs = data.sequences
    if train_users is not None:
        keep = set(train_users)
        seqs = {u: s for u, s in seqs.items() if u in keep}
    return fit_shop(data.catalog, seqs, data.users, config, recommender, progress=progress)
