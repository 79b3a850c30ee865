"""Shop fitting: the demographic and learned parts, the per-request-type weight search, the shop folder."""

import json
from dataclasses import asdict, replace

import numpy as np
import pytest

from genrec import Catalog, GenrecError, UserProfile
from genrec.data.cases import cold_user_cases, free_text_cases, request_type
from genrec.data.catalog import Item
from genrec.data.dataset import Dataset, load_users
from genrec.errors import ModelError
from genrec.ranking.collab import CollabConfig, fit_collab
from genrec.ranking.demographics import DemographicLift, demographic_tokens
from genrec.ranking.shop import DEFAULT, ShopManifest, TypeWeights, load_shop, save_shop
from genrec.training.fit import FitConfig, fit_shop
from genrec.training.weight_search import PARTS, CaseScores, coordinate_ascent

from .conftest import TINY_CODES, HashEncoder

GROUPS = ("pens", "tea", "socks", "games")


def synthetic_shop(demographics_decide: bool, n_users: int = 400, seed: int = 0):
    """4 item groups of 10 with neutral titles; a user's gender and age band pick the group they buy from
    (demographics_decide) or the group is drawn apart from them. Every user takes 6 items of their group,
    popular ones first."""
    rng = np.random.default_rng(seed)
    items = [Item(f"{g}{j}", f"item number {g}{j}", category=("Shop", "Aisle")) for g in GROUPS for j in range(10)]
    seqs, users = {}, {}
    for u in range(n_users):
        gender, band = ("female", "male")[u % 2], (u // 2) % 2
        group = 2 * band + u % 2 if demographics_decide else int(rng.integers(4))
        weights = np.arange(10, 0, -1, dtype=float)
        picks = rng.choice(10, 6, replace=False, p=weights / weights.sum())
        seqs[f"u{u}"] = [f"{GROUPS[group]}{j}" for j in picks]
        users[f"u{u}"] = {"gender": gender, "age": 25 + 30 * band}
    return Catalog(items), seqs, users


FAST = FitConfig(collab=None, max_holdout_users=120, holdout_share=0.3, min_cases=30)


def test_demographic_lift_is_the_shrunk_log_share_ratio():
    cat = Catalog([Item("a", "A"), Item("b", "B")])
    seqs = {f"f{i}": ["a"] for i in range(6)} | {f"m{i}": ["b"] for i in range(4)}
    users = {u: {"gender": "female" if u[0] == "f" else "male"} for u in seqs}
    lift = DemographicLift.fit(cat, seqs, users, shrink=10.0, min_users=5)
    assert set(lift.tokens) == {"gender=female"}  # 4 male users: below min_users
    share = (np.array([6, 4]) + 0.5) / 11.0
    group = (np.array([6, 0]) + 10 * share) / (6 + 10)
    assert np.allclose(lift.component({"gender": "Female"}), np.log(group / share), atol=1e-6)
    assert lift.component({"gender": "male"}) is None
    assert demographic_tokens({"age": 47, "occupation": " Nurse ", "location": ""}) == ["age=4", "occupation=nurse"]


def test_fit_gives_demographics_weight_only_where_they_decide_taste():
    for decide in (True, False):
        cat, seqs, users = synthetic_shop(decide)
        shop = fit_shop(cat, seqs, users, FAST, encoder=HashEncoder(), progress=False)
        w = shop.manifest.weights_for("k0+demographics")
        held = shop.manifest.held_out["k0+demographics"]
        if decide:
            assert w.prior.demographic > 0
            assert held["ndcg@10"] > 2 * held["alone"]["popularity"]
        else:
            assert w.prior.demographic == 0.0


def test_held_out_cases_are_capped_by_holding_out_fewer_users():
    cat, seqs, users = synthetic_shop(True)
    free = fit_shop(cat, seqs, users, FAST, encoder=HashEncoder(), progress=False).manifest.data
    capped = fit_shop(cat, seqs, users, replace(FAST, max_cases=free["cases"] // 2),
                      encoder=HashEncoder(), progress=False).manifest.data
    assert capped["cases"] <= free["cases"] // 2 < free["cases"]
    assert capped["held_out_users"] < free["held_out_users"]
    with pytest.raises(GenrecError):
        FitConfig(max_cases=0)


def test_fit_keeps_the_occupation_in_the_text_parts_only_where_it_helps():
    """Items named after their group, each in a category of its own ("pens 3"), so a stated interest (a seed
    item's category) reaches the group through the text parts alone (no logs here: no other part knows). Each
    user's occupation names a group: their own (the word helps) or a random one (it misleads)."""
    from genrec.ranking.contract import CatalogMask
    from genrec.ranking.prior import ItemPrior, PriorWeights
    from genrec.training.weight_search import choose_weights

    enc = HashEncoder()
    cat = Catalog([Item(f"{g}{j}", f"{g} item", category=("Shop", f"{g} {j}")) for g in GROUPS for j in range(10)])
    prior = ItemPrior(cat, enc.encode([it.text() for it in cat]), enc, PriorWeights(), lexical_index=True)
    for misleads in (True, False):
        rng = np.random.default_rng(1)
        seqs, users = {}, {}
        for u in range(120):
            g = int(rng.integers(4))
            seqs[f"u{u}"] = [f"{GROUPS[g]}{j}" for j in rng.choice(10, 6, replace=False)]
            word = GROUPS[int(rng.integers(4)) if misleads else g]
            users[f"u{u}"] = {"occupation": " ".join([word] * 4)}
        cases = [c for c in cold_user_cases(cat, seqs, users, sorted(seqs), known=(0,)) if c.interests]
        scores = CaseScores(prior, CatalogMask(cat), cases, progress=False)
        idx = list(range(len(cases)))
        assert {scores.types[i] for i in idx} == {"k0+interests+demographics"}
        choice = choose_weights(scores, idx, np.eye(len(PARTS))[PARTS.index("text")], FAST)
        words, s, s_words = choice.demographic_words, choice.ndcg, choice.ndcg_without_demographic_words
        assert words is not misleads
        assert s >= s_words
        assert np.isclose(s, choice.scores(scores).ndcg(idx, choice.weights[None])[0])
        if misleads:  # without the occupation, the text parts find the group again; with it they did not
            assert s > coordinate_ascent(scores, idx, FAST.grid, 3, 1e-4)[1] + 0.05
            p = UserProfile(interests=["pens 3"], occupation="tea tea tea tea")
            tw = choice.type_weights()
            over = np.ones(len(cat), dtype=bool) if tw.standardised else None
            top = np.argsort(-prior.logprior(p, [], tw.prior, words, over))[:10]
            assert all(cat[int(i)].item_id.startswith("pens") for i in top)


def test_learned_model_ranks_what_people_like_the_user_take_and_round_trips():
    cat, seqs, users = synthetic_shop(True)
    model = fit_collab(cat, seqs, users, CollabConfig(dim=16), epochs=40, progress=False)
    for gender, age, group in (("female", 25, "pens"), ("male", 55, "games")):
        top = np.argsort(-model.logprobs(UserProfile(gender=gender, age=age)))[:10]
        assert sum(cat[int(i)].item_id.startswith(group) for i in top) >= 8
    known = model.logprobs(UserProfile(recent_items=["tea0"]))
    assert np.mean([cat[int(i)].item_id.startswith("tea") for i in np.argsort(-known)[:10]]) >= 0.8
    again = type(model).from_arrays(model.arrays())
    p = UserProfile(gender="male", interests=["aisle"], recent_items=["socks1"])
    assert np.allclose(again.logprobs(p), model.logprobs(p))
    grown = Catalog(list(cat) + [Item("new", "a new item")])
    v = model.aligned(grown).logprobs(UserProfile(gender="female"))
    assert len(v) == len(grown) and np.isfinite(v).all()


def test_learned_models_content_part_scores_new_items_by_what_their_text_says():
    """Items named after their group; two of each group never appear in the logs (new items). With the text
    map, a user who buys pens gets the new pens on top of the new items; without it (category and brand alone,
    the same for every item here) the new items are indistinguishable."""
    cat, seqs, users = synthetic_shop(True)
    cat = Catalog([Item(it.item_id, f"{it.item_id.rstrip('0123456789')} item", category=it.category) for it in cat])
    new = {f"{g}{j}" for g in GROUPS for j in (8, 9)}
    logs = {u: [i for i in s if i not in new] for u, s in seqs.items()}
    emb = HashEncoder().encode([it.text() for it in cat])
    rows = np.array([cat.index[i] for i in sorted(new)])
    for text in (False, True):
        model = fit_collab(cat, logs, users, CollabConfig(dim=16, text=text, id_dropout=0.25), epochs=30,
                           progress=False, item_emb=emb)
        assert set(model.item_ids) == {it.item_id for it in cat} - new  # new items are not softmax classes
        v = model.aligned(cat, emb).logprobs(UserProfile(gender="female", age=25))[rows]
        top = [sorted(new)[int(i)] for i in np.argsort(-v)[:2]]
        if text:
            assert all(i.startswith("pens") for i in top)
        else:
            assert np.allclose(v, v[0])  # nothing tells new items apart
    again = type(model).from_arrays(model.arrays())  # the text model, with its content part
    assert np.allclose(again.aligned(cat, emb).logprobs(UserProfile(gender="male")),
                       model.aligned(cat, emb).logprobs(UserProfile(gender="male")))


def test_coordinate_ascent_starts_from_the_best_single_part_and_never_ends_below_it():
    cat, seqs, users = synthetic_shop(True)
    from genrec.ranking.contract import CatalogMask
    from genrec.ranking.prior import ItemPrior, PriorWeights
    from genrec.ranking.signals import fit_signals

    enc = HashEncoder()
    held = sorted(seqs)[:60]
    view = {u: s for u, s in seqs.items() if u not in held}
    signals = fit_signals(cat, view, users, collab=None, progress=False)
    prior = ItemPrior(cat, enc.encode([it.text() for it in cat]), enc, PriorWeights(), lexical_index=True,
                      **signals.prior_kwargs())
    cases = cold_user_cases(cat, seqs, users, held, known=(0,))
    scores = CaseScores(prior, CatalogMask(cat), cases, progress=False)
    idx = list(range(len(cases)))
    live = scores.live_parts(idx)
    alone = scores.ndcg(idx, np.eye(len(PARTS))[live])
    w, best = coordinate_ascent(scores, idx, FAST.grid, 3, 1e-4)
    assert best >= alone.max() - 1e-12
    assert np.isclose(best, scores.ndcg(idx, w[None])[0])
    assert PARTS.index("budget") not in live  # no budgets in the logs: never searched


def test_cases_are_ranked_in_batches_as_each_alone_ties_in_catalog_order(monkeypatch):
    from genrec.evaluation.metrics import ndcg_at_k

    rng = np.random.default_rng(5)
    parts, allowed, hits = [], [], []
    for n in range(60):  # over 3 to 40 items, some cases without targets, the two best alike in each
        width = int(rng.choice([3, 12, 40]))
        m = rng.normal(size=(len(PARTS), width))
        m[:, 1] = m[:, 0] = 10.0  # a tie at the top: the item first in the catalog ranks first
        hit = rng.random(width) < (0.0 if n % 7 == 0 else 0.2)
        parts.append(m)
        allowed.append(np.ones(width, dtype=bool))
        hits.append(hit)
    scores = CaseScores.of_parts(parts, allowed, hits)
    weights = rng.choice([0.0, 0.5, 1.0, 4.0], size=(6, len(PARTS)))
    idx = list(range(len(parts)))
    got = scores.per_case(idx, weights)
    for g, w in enumerate(weights):
        for i in idx:
            s = w @ parts[i].astype(np.float32)
            order = np.lexsort((np.arange(len(s)), -s))  # best first, ties in catalog order
            want = ndcg_at_k([str(j) for j in order], {str(j) for j in np.flatnonzero(hits[i])}, 10)
            assert got[g, i] == pytest.approx(want, abs=1e-12)
    assert not got[:, ::7].any() and got.any()
    monkeypatch.setattr(CaseScores, "BATCH_VALUES", 50)  # a few cases per batch: the same values
    assert np.array_equal(CaseScores.of_parts(parts, allowed, hits).per_case(idx, weights), got)
    assert np.array_equal(scores.per_case(idx[::2], weights), got[:, ::2])  # batches kept per set of cases


def test_a_top_10_takes_the_first_items_in_the_catalog_of_those_tied_for_its_last_places():
    from genrec.training.weight_search import _top10

    score = np.array([[0.0, 5.0, 1.0, 1.0, 0.0, 1.0] + [0.0] * 40, [3.0] * 46])
    assert _top10(score).tolist() == [[1, 2, 3, 5, 0, 4, 6, 7, 8, 9], list(range(10))]
    rng = np.random.default_rng(0)
    many = rng.integers(0, 3, size=(50, 7, 30)).astype(float)  # ties everywhere, a batch of cases x weights
    want = np.lexsort((np.broadcast_to(np.arange(30), many.shape), -many), axis=-1)[..., :10]
    assert np.array_equal(_top10(many), want)


def test_dropping_the_items_no_weights_can_rank_in_a_top_10_changes_no_score_in_any_view(monkeypatch):
    """CaseScores keeps only the items that some weights >= 0 can put in a case's top 10 (or in the top 10 of
    their half of the catalog): the search ranks a sixth of amazon_office's items and must score every weighting,
    view and split over targets as over all of them."""
    rng = np.random.default_rng(1)
    n, parts, hits = 300, [], []
    for c in range(40):
        m, appeal = np.zeros((len(PARTS), n)), rng.normal(size=n)  # parts that agree in part, as a shop's do
        for p in rng.choice(np.arange(1, len(PARTS)), 4, replace=False):
            sparse = rng.random() < 0.4  # mostly zeros, as the lexical and interest parts: ties at 0
            m[p] = (appeal + rng.normal(size=n)) * (rng.random(n) < 0.05 if sparse else 1.0)
        m[0] = rng.normal(size=n) if c % 2 else 0.0  # the model scored half the cases
        m[:, 7] = m[:, 3]  # an item equal to an earlier one on every part
        parts.append(np.round(m, 1))  # more ties
        hits.append(rng.random(n) < (0.0 if c % 9 == 0 else 0.03))
    allowed = [rng.random(n) < 0.9 for _ in parts]
    pruned = CaseScores.of_parts(parts, allowed, hits)
    full = CaseScores.of_parts(parts, allowed, hits, contenders=False)
    assert np.mean([len(k) for k in pruned.items]) < 0.6 * np.mean([len(k) for k in full.items])
    monkeypatch.setattr(CaseScores, "KEPT_BATCHES_BYTES", 1)  # pruned keeps only the latest view's batches
    idx = list(range(len(parts)))
    weights = rng.choice([0.0, 0.25, 1.0, 4.0, 64.0], size=(12, len(PARTS)))
    weights[:len(PARTS)] = np.eye(len(PARTS))  # each part alone: ties at 0 fill its top 10
    for view in ({}, {"standardised": True}, {"model_on": True}, {"item_half": 0}, {"item_half": 5},
                 {"item_half": 3, "standardised": True}):
        a, b = pruned.view(**view), CaseScores.of_parts(parts, allowed, hits, contenders=False).view(**view)
        assert np.array_equal(a.per_case(idx, weights), b.per_case(idx, weights)), view
        assert a.live_parts(idx) == b.live_parts(idx)
        assert all(a.item_shares(i, weights[-1]) == b.item_shares(i, weights[-1]) for i in idx)
    assert pruned.per_case(idx, weights).any()
    with pytest.raises(ValueError, match="half"):  # a case kept for whole requests is not ranked on halves
        CaseScores.of_parts(parts[:1], allowed[:1], hits[:1], item_partitions=1).view(item_half=2).per_case(
            [0], weights)


def test_fit_standardises_the_parts_only_where_their_scales_say_nothing_of_how_sure_they_are():
    """Two parts, each the target's signal plus noise. In one shop the text part's scale swings from case to case
    (x0.01..x100) and says nothing of how sure it is: a fixed mix of raw parts lets one part drown the other,
    z-scores add both. In the other shop the scales are steady and z-scores gain nothing."""
    from genrec.training.weight_search import choose_weights

    text, lexical = PARTS.index("text"), PARTS.index("lexical")
    for swings in (True, False):
        rng = np.random.default_rng(3)
        parts, hits = [], []
        for _ in range(400):
            hit = np.zeros(40, dtype=bool)
            hit[rng.integers(40)] = True
            m = np.zeros((len(PARTS), 40))
            m[text] = (rng.normal(size=40) + 1.5 * hit) * (10.0 ** rng.uniform(-2, 2) if swings else 1.0)
            m[lexical] = rng.normal(size=40) + 1.5 * hit
            parts.append(m)
            hits.append(hit)
        scores = CaseScores.of_parts(parts, [np.ones(40, dtype=bool)] * len(parts), hits)
        idx = list(range(len(parts)))
        choice = choose_weights(scores, idx, np.eye(len(PARTS))[text], FAST, start=False)
        assert choice.standardised is swings
        z = scores.view(standardised=True)
        both = np.eye(len(PARTS))[text] + np.eye(len(PARTS))[lexical]
        if swings:
            assert choice.ndcg > coordinate_ascent(scores, idx, FAST.grid, 3, 1e-4)[1] + 0.05
            assert np.isclose(choice.ndcg, z.ndcg(idx, choice.weights[None])[0])
        assert np.isclose(z.ndcg(idx, both[None])[0], CaseScores.of_parts(  # z-scores by hand: the same ranking
            [(m - m.mean(1, keepdims=True)) / np.where(m.std(1, keepdims=True) > 0, m.std(1, keepdims=True), 1)
             for m in parts], [np.ones(40, dtype=bool)] * len(parts), hits).ndcg(idx, both[None])[0])
        tw = choice.type_weights()
        assert tw.standardised is swings
        again = ShopManifest.from_dict(json.loads(json.dumps(ShopManifest({DEFAULT: tw}).to_dict())))
        assert again.weights[DEFAULT] == tw


def test_a_type_with_too_few_cases_to_search_takes_one_part_alone_only_where_it_clearly_beats_the_pooled_weights():
    """Below FitConfig.min_cases no weights are searched. A small shop's long histories (targets: new items) once
    took the pooled cold-start weights, popularity-led, that scored 0 on their cases while a content part alone
    found their items; one part alone now replaces the pooled weights, but only by a gain beyond noise."""
    from genrec.training.weight_search import choose_weights

    popularity, nearest = PARTS.index("popularity"), PARTS.index("nearest")
    rng = np.random.default_rng(0)
    n = FAST.min_cases - 5
    parts, hits = [], []
    for _ in range(n):
        hit = np.zeros(40, dtype=bool)
        hit[rng.integers(40)] = True
        m = np.zeros((len(PARTS), 40))
        m[popularity] = rng.normal(size=40) - 3.0 * hit  # the pooled weights' part buries the targets
        m[nearest] = rng.normal(size=40) + 3.0 * hit
        parts.append(m)
        hits.append(hit)
    pooled, idx = np.eye(len(PARTS))[popularity], list(range(n))
    choice = choose_weights(CaseScores.of_parts(parts, [np.ones(40, dtype=bool)] * n, hits), idx, pooled, FAST)
    assert np.array_equal(choice.weights, np.eye(len(PARTS))[nearest]) and choice.ndcg > 0.8
    # a part alone that beats the pooled weights in one case only: within noise, the pooled weights stay
    for m in parts:
        m[nearest] = m[popularity]
    parts[0][nearest] = hits[0] * 10.0
    choice = choose_weights(CaseScores.of_parts(parts, [np.ones(40, dtype=bool)] * n, hits), idx, pooled, FAST)
    assert np.array_equal(choice.weights, pooled)


def _new_item_cases(rng, appeal: np.ndarray, read, sharpness: float = 2.0, n_cases: int = 400,
                    text_noise: float = 0.5, part: str = "popularity"):
    """Held-out users ranking the same new items: each case's 3 targets drawn by the item's `appeal` and a
    per-case match (times `sharpness`) that the text part reads with noise (`text_noise`); `part` (default the
    popularity part) reads `read`: the same values for every case, or a function of the case's match."""
    text, other, n = PARTS.index("text"), PARTS.index(part), len(appeal)
    parts, hits = [], []
    for _ in range(n_cases):
        match = rng.normal(size=n)
        p = np.exp(appeal + sharpness * match)
        hit = np.zeros(n, dtype=bool)
        hit[rng.choice(n, 3, replace=False, p=p / p.sum())] = True
        m = np.zeros((len(PARTS), n))
        m[text] = match + rng.normal(0, text_noise, n)
        m[other] = read(match) if callable(read) else read
        parts.append(m)
        hits.append(hit)
    return CaseScores.of_parts(parts, [np.ones(n, dtype=bool)] * n_cases, hits), list(range(n_cases))


def test_new_item_weights_keep_a_blend_only_where_it_carries_over_to_other_new_items():
    """New-item cases: every held-out user ranks the same 60 items, and each case's targets are drawn by the
    item's appeal and a per-case match that the text part reads; the items of one half hold most targets. The
    popularity part reads the appeal of those items; in one shop it reads the other half's upside down (what a
    part fitted to a few held-out items does on other items), so a blend with it fits the held-out items and
    does not carry over: the fit keeps the text part alone. Where it reads every item's appeal, the blend is
    kept. Cross-validated over the users (both folds rank the same items), both shops keep the blend."""
    from genrec.training.weight_search import choose_weights

    text, pop = PARTS.index("text"), PARTS.index("popularity")
    n = 60
    half = CaseScores.of_parts([np.zeros((len(PARTS), n))], [np.ones(n, dtype=bool)], [np.ones(n, dtype=bool)]
                               ).item_fold(np.arange(n))
    for everywhere in (False, True):
        rng = np.random.default_rng(5)
        appeal = rng.normal(0, 1, n) + np.where(half == 0, 2.0, -2.0)
        read = np.where((half == 0) | everywhere, appeal, -appeal)
        scores, idx = _new_item_cases(rng, appeal, read)
        blend = coordinate_ascent(scores, idx, FAST.grid, 3, 1e-4)[0]
        assert blend[text] > 0 and blend[pop] > 0  # in sample, the blend wins in both shops
        by_users = choose_weights(scores, idx, np.eye(len(PARTS))[text], FAST, start=False)
        assert by_users.weights[pop] > 0
        choice = choose_weights(scores, idx, np.eye(len(PARTS))[text], FAST, start=False, by_items=True)
        assert choice.ndcg_one_part is not None
        if everywhere:
            assert choice.weights[pop] > 0 and choice.ndcg_cross_validated > choice.ndcg_one_part
        else:
            assert np.array_equal(choice.weights, np.eye(len(PARTS))[text])
            assert choice.ndcg == pytest.approx(scores.ndcg(idx, choice.weights[None])[0])


def test_new_item_weights_keep_a_blend_only_where_its_gain_is_spread_over_many_items():
    """Two items hold the whole gain of a blend (popularity reads their appeal, and no other item's appeal
    differs): cross-validated over halves of the items it wins on every half and by three standard errors of
    the users, yet it is the same two items each time, so the bar counts the items as samples too and the text
    part alone is kept. Where popularity reads every item's appeal, the blend is kept."""
    from genrec.training.weight_search import choose_weights

    text, pop = PARTS.index("text"), PARTS.index("popularity")
    n = 60
    probe = CaseScores.of_parts([np.zeros((len(PARTS), n))], [np.ones(n, dtype=bool)], [np.ones(n, dtype=bool)])
    sides = np.array([probe.item_fold(np.arange(n), p) for p in range(FAST.item_partitions)]).T
    # two items on opposite sides of every partition: each half of the items holds one of them
    few = next([a, b] for a in range(n) for b in range(a + 1, n) if (sides[a] != sides[b]).all())
    for everywhere in (False, True):
        rng = np.random.default_rng(0)
        appeal = rng.normal(0, 1, n) if everywhere else np.where(np.isin(np.arange(n), few), 1.5, 0.0)
        scores, idx = _new_item_cases(rng, appeal, appeal)
        choice = choose_weights(scores, idx, np.eye(len(PARTS))[text], FAST, start=False, by_items=True)
        assert choice.ndcg_cross_validated > choice.ndcg_one_part  # the blend leads over unseen halves in both
        assert (choice.weights[pop] > 0) == everywhere


def test_new_items_mixed_into_the_old_keep_a_blend_only_where_its_gain_is_spread_over_many_items():
    """Requests that mix new items into the old after a long history (targets: the held-out new items) are
    cross-validated over the users; there too two items can hold a blend's whole gain over the best part alone,
    and the users' folds rank the same two. The blend passes the users' bar in both shops; with the items counted
    as samples only the one whose gain is spread over every item keeps it."""
    from genrec.training.weight_search import choose_weights

    text, pop = PARTS.index("text"), PARTS.index("popularity")
    n = 60
    for everywhere in (False, True):
        rng = np.random.default_rng(0)
        appeal = rng.normal(0, 1, n) if everywhere else np.where(np.arange(n) < 2, 1.5, 0.0)
        scores, idx = _new_item_cases(rng, appeal, appeal)
        ref = np.eye(len(PARTS))[text]
        by_users = choose_weights(scores, idx, ref, FAST, afresh=True)
        assert by_users.weights[pop] > 0  # the users' bar keeps the blend
        mixed = choose_weights(scores, idx, ref, FAST, afresh=True, mixed=True)
        assert mixed.ndcg_cross_validated > mixed.ndcg_one_part  # the blend leads on unseen users in both
        assert (mixed.weights[pop] > 0) == everywhere
        if not everywhere:
            assert np.array_equal(mixed.weights, ref)  # the best part alone


def test_new_items_mixed_into_the_old_take_the_even_blend_of_the_own_text_parts_where_it_beats_the_best_part():
    """After a long history, which own-text part leads on new items is which items were drawn, so where the
    searched blend does not clearly beat them, the choice is the best part alone or the even blend of the
    own-text parts (standardised), whichever scores better on the held-out cases: here three parts on scales
    apart read the same match, each with its own noise, and two items hold most targets, so no gain is spread
    over the items; the blend beats any part alone, and the fit used to fall back to the part that led on those
    two items. Where one part reads the match and the others only noise, that part stands alone."""
    from genrec.training.weight_search import choose_weights

    own = [PARTS.index(p) for p in ("text", "nearest", "lexical")]
    n = 60
    for one_reads in (False, True):
        rng = np.random.default_rng(0)
        appeal = rng.normal(0, 1, n) if one_reads else np.where(np.arange(n) < 2, 9.0, 0.0)
        parts, hits = [], []
        for _ in range(400):
            match = rng.normal(size=n)
            p = np.exp(appeal + 2.0 * match)
            hit = np.zeros(n, dtype=bool)
            hit[rng.choice(n, 3, replace=False, p=p / p.sum())] = True
            m = np.zeros((len(PARTS), n))
            for k, row in enumerate(own):
                reads = 0.0 if one_reads and k else 1.0
                m[row] = (reads * match + rng.normal(0, 0.3 if one_reads else 1.0, n)) * (1.0, 10.0, 0.1)[k]
            parts.append(m)
            hits.append(hit)
        scores = CaseScores.of_parts(parts, [np.ones(n, dtype=bool)] * 400, hits)
        choice = choose_weights(scores, list(range(400)), np.eye(len(PARTS))[own[0]], FAST, afresh=True, mixed=True)
        even = np.zeros(len(PARTS))
        even[own] = 1.0
        if one_reads:
            assert not choice.standardised and np.array_equal(choice.weights, np.eye(len(PARTS))[own[0]])
            assert choice.ndcg_one_part > choice.ndcg_own_text_blend
        else:
            assert choice.standardised and np.array_equal(choice.weights, even)
            assert choice.ndcg_own_text_blend > choice.ndcg_one_part


def test_a_cases_item_shares_add_up_to_its_ndcg():
    rng = np.random.default_rng(1)
    n = 30
    parts = [rng.normal(size=(len(PARTS), n)) for _ in range(20)]
    hits = [rng.random(n) < 0.15 for _ in range(20)]
    scores = CaseScores.of_parts(parts, [np.ones(n, dtype=bool)] * 20, hits)
    w = rng.random(len(PARTS))
    for view in (scores, scores.view(item_half=3)):
        for i in range(20):
            shares = view.item_shares(i, w)
            m, hit, items = view.columns(i)
            assert set(shares) == set(items[hit].tolist())
            assert sum(shares.values()) == pytest.approx(view.per_case([i], w[None])[0, 0])


def test_new_items_fall_back_to_the_part_whose_worst_half_of_the_items_scores_best():
    """When no blend carries over, new items take one part alone: not the one best on all the held-out items,
    which a part can be through the half of the items that holds most targets (here popularity reads those
    items' appeal and says nothing of the others), but the one best on its worst half of the items."""
    from genrec.training.weight_search import choose_weights

    text, pop = PARTS.index("text"), PARTS.index("popularity")
    n = 60
    half = CaseScores.of_parts([np.zeros((len(PARTS), n))], [np.ones(n, dtype=bool)], [np.ones(n, dtype=bool)]
                               ).item_fold(np.arange(n))
    rng = np.random.default_rng(5)
    appeal = rng.normal(0, 1, n) + np.where(half == 0, 1.0, -1.0)
    scores, idx = _new_item_cases(rng, appeal, np.where(half == 0, appeal, -appeal), sharpness=1.0)
    in_sample = scores.ndcg(idx, np.eye(len(PARTS))[[text, pop]])
    assert in_sample[1] > in_sample[0] + 0.05  # popularity is the best part on all the held-out items
    choice = choose_weights(scores, idx, np.eye(len(PARTS))[text], FAST, start=False, by_items=True)
    assert choice.ndcg_one_part is not None and choice.ndcg_cross_validated is not None  # no blend kept
    assert np.array_equal(choice.weights, np.eye(len(PARTS))[text])
    assert choice.ndcg == pytest.approx(in_sample[0])


def test_new_items_take_a_part_fitted_on_the_logs_alone_only_where_its_lead_is_spread_over_many_items():
    """The one-part fallback for new items: a logs' part (borrowed popularity) that leads on the held-out items
    because three of them hold most targets ranks those three for every user, a lead of three items, so the
    steadiest own-text part serves; a logs' part that reads each user better than the text over all the items
    (collab) serves."""
    from genrec.training.weight_search import _new_items_part

    text, pop, collab = (PARTS.index(p) for p in ("text", "popularity", "collab"))
    n = 100
    for few in (True, False):
        rng = np.random.default_rng(0)
        if few:
            appeal = np.where(np.arange(n) < 3, 2.5, 0.0)
            scores, idx = _new_item_cases(rng, appeal, appeal, sharpness=1.0, text_noise=1.0)
        else:
            scores, idx = _new_item_cases(rng, np.zeros(n), lambda match, rng=rng: match + rng.normal(0, 0.3, n),
                                          sharpness=1.0, text_noise=1.0, part="collab")
        logs = pop if few else collab
        alone = scores.ndcg(idx, np.eye(len(PARTS))[[text, logs]])
        assert alone[1] > alone[0] + 0.05  # the logs' part leads on the held-out items in both shops
        chosen = _new_items_part(scores, idx, FAST)
        assert np.array_equal(chosen, np.eye(len(PARTS))[text if few else collab])


def test_the_model_earns_a_weight_only_for_a_gain_beyond_noise():
    """On the held-out cases it scored, a model that lifts one target of one case in 200 into the top 10 gains
    one standard error: it gets weight 0 (a weight costs a model pass per request, and 0 says it adds nothing
    measurable) unless the bar is lowered to any gain; a model that lifts every case's target gets weight."""
    from genrec.training.weight_search import choose_model_weight

    pop, n = PARTS.index("popularity"), 40
    prior = np.eye(len(PARTS))[pop]
    for helped, bar, earns in ((1, 2.0, False), (1, 0.0, True), (200, 2.0, True)):
        parts, hits = [], []
        for c in range(200):
            m = np.zeros((len(PARTS), n))
            m[pop] = np.arange(n, 0, -1)  # the target, item 15, is 16th by the prior alone
            hit = np.zeros(n, dtype=bool)
            hit[15] = True
            if c < helped:
                m[0] = np.where(hit, 20.0, 0.0)  # the model's log-probabilities: sure of the target
            parts.append(m)
            hits.append(hit)
        scores = CaseScores.of_parts(parts, [np.ones(n, dtype=bool)] * len(parts), hits)
        w, held = choose_model_weight(scores, list(range(200)), prior, 0.0, replace(FAST, model_gain_se=bar))
        assert (w[0] > 0) == earns and held["without_model_ndcg@10"] == 0.0
        assert np.array_equal(w[1:], prior[1:])  # the prior's weights stay as chosen without the model
        if earns:
            assert held["ndcg@10"] == pytest.approx(helped / 200)
        # the manifest keeps the best weight's paired gain, its standard error and p-value, chosen or not
        gain = helped / 200
        assert held["best_weight"] > 0 and held["best_gain"] == pytest.approx(gain)
        assert held["best_gain_se"] == pytest.approx(np.sqrt(gain * (1 - gain) * 200 / 199 / 200))
        assert held["best_t_test_p"] == (0.0 if helped == 200 else pytest.approx(0.32, abs=0.01))


def test_shop_folder_round_trip_and_the_recommender_uses_each_request_types_weights(
        tmp_path, tiny_model, tokenizer, encoder):
    cat, seqs, users = synthetic_shop(True)
    shop = fit_shop(cat, seqs, users, FAST, encoder=encoder, progress=False)
    folder = save_shop(tmp_path / "shop", cat, shop)
    loaded = load_shop(folder, cat)
    assert loaded.manifest == shop.manifest
    from genrec import Recommender, RecommenderConfig

    rec = Recommender(cat, adapter=folder, config=RecommenderConfig(codes=TINY_CODES, cache_index=False),
                      model=tiny_model, tokenizer=tokenizer, encoder=encoder)
    assert rec.model_weight == 0.0  # no LoRA files: zero-shot, fitted prior
    p = UserProfile(gender="male", age=55)
    assert rec.weights_for(p, False).prior == shop.manifest.weights_for("k0+demographics").prior
    recs = rec.recommend(p, k=5, explain=False)
    assert sum(r.item_id.startswith("games") for r in recs) >= 4
    with pytest.raises(ModelError, match="already exists"):
        save_shop(folder, cat, shop)
    (folder / "shop.json").write_text(json.dumps({"format_version": 1, "weights": {"k0": {}}}))
    with pytest.raises(ModelError, match="needs 'default' weights|malformed"):
        load_shop(folder, cat)
    (folder / "shop.json").write_text("[1, 2]")
    with pytest.raises(ModelError, match="expected a JSON object"):
        load_shop(folder, cat)


def test_a_standardised_request_type_is_served_as_z_scores_over_the_requests_allowed_items(
        tiny_model, tokenizer, encoder):
    from genrec import Recommender, RecommenderConfig
    from genrec.data.filters import Filters
    from genrec.ranking.diversity import NO_DIVERSITY
    from genrec.ranking.prior import PriorWeights, combine, standardised

    cat, seqs, users = synthetic_shop(True)
    shop = fit_shop(cat, seqs, users, FAST, encoder=encoder, progress=False)
    mix = PriorWeights(text=1.0, nearest=0.0, lexical=0.0, interest=0.0, popularity=1.0, collab=1.0, learned=0.0,
                       demographic=0.0)  # raw, popularity's spread (nats) drowns collab's (cosines); z-scores not
    weights = {DEFAULT: TypeWeights(0.0, mix), "k1": TypeWeights(0.0, mix, standardised=True)}
    rec = Recommender(cat, config=RecommenderConfig(codes=TINY_CODES, cache_index=False), model=tiny_model,
                      tokenizer=tokenizer, encoder=encoder)
    rec.use_shop(replace(shop, manifest=replace(shop.manifest, weights=weights)))
    p = UserProfile(recent_items=["tea3"])
    ids = [it.item_id for it in cat]
    got = [r.item_id for r in rec.recommend(p, k=8, explain=False, diversity=NO_DIVERSITY, candidates=ids[5:25])]
    parts = rec.prior.components(p, [cat.get("tea3")])
    over = rec.mask.allowed(Filters(candidates=tuple(ids[5:25])), p)  # the request's allowed items
    z, raw = combine(standardised(parts, over), mix), combine(parts, mix)

    def top(v):
        return [cat[int(i)].item_id for i in np.argsort(-np.where(over, v, -np.inf), kind="stable")[:8]]
    assert got == top(z)
    assert top(z) != top(raw)  # the example tells the two apart


def test_manifest_falls_back_to_the_request_without_demographics_then_default():
    w = {DEFAULT: TypeWeights(0.0), "k1+interests": TypeWeights(0.5)}
    m = ShopManifest(w)
    assert m.weights_for("k1+interests+demographics").model == 0.5
    assert m.weights_for("k3").model == 0.0
    # a long history falls back to 3 known items (shops fitted before it had a type of its own)
    m = ShopManifest({DEFAULT: TypeWeights(0.0), "k3+interests": TypeWeights(0.25), "long": TypeWeights(1.0)})
    assert m.weights_for("long+interests+demographics").model == 0.25
    assert m.weights_for("long+demographics").model == 1.0
    with pytest.raises(ModelError):
        ShopManifest({"k0": TypeWeights()})
    with pytest.raises(ModelError):
        TypeWeights(model=float("nan"))


def test_manifest_serves_free_text_with_its_own_weights_else_those_of_the_request_without_it():
    m = ShopManifest({DEFAULT: TypeWeights(0.0), "k0+text": TypeWeights(0.5), "k0+interests": TypeWeights(0.25),
                      "k1": TypeWeights(1.0)})
    assert m.weights_for("k0+interests+text+demographics").model == 0.5  # the text's over the interests'
    assert m.weights_for("k0+text+demographics").model == 0.5
    assert m.weights_for("k1+text").model == 1.0  # a shop fitted before free text had types of its own
    assert m.weights_for("k2+text").model == 0.0


def test_free_text_cases_ask_for_the_users_next_item_in_a_sentence():
    cat = Catalog([Item("a", "Acme Trail Running Shoe", category=("Sports", "Running Shoes"), brand="Acme"),
                   Item("b", "Blue Pen", category=("Office", "Pens")), Item("c", "Tea Tin", category=("Food", "Tea")),
                   Item("d", "Wool Socks", category=("Clothing", "Socks")), Item("e", "E", category=("X", "Y"))])
    seqs = {f"u{n}": ["b", "c", "d", "a", "e"] for n in range(40)}
    base = cold_user_cases(cat, seqs, {}, sorted(seqs))
    said = free_text_cases(cat, base, seqs, seed=3)
    assert len(said) == len(base) // 2  # the cases without interests, once each
    assert {c.setting for c in said} == {f"k={k}+text" for k in range(4)}
    sentences = {c.profile.free_text for c in said}
    words = {"acme", "trail", "running", "shoe", "shoes"}
    assert all(words & set(t.lower().replace("'", " ").split()) for t in sentences)  # item "a": the next one
    assert len(sentences) > 3  # phrasings and words vary across users...
    assert any("Acme running shoes" in t for t in sentences)  # a brand and the kind of thing
    assert len({c.profile.free_text for c in said if c.user == "u0"}) == 1  # ...not across one user's cases
    assert said == free_text_cases(cat, base, seqs, seed=3)
    assert {request_type(c.profile, False) for c in said} == {f"k{k}+text" for k in range(4)}


def test_fit_chooses_weights_for_free_text_requests_on_held_out_sentences():
    """Users take the popular items of one group, drawn apart from anything else they say: a request without
    text has nothing that tells the group; one whose sentence names it is served by the text parts."""
    rng = np.random.default_rng(0)
    cat = Catalog([Item(f"{g}{j}", f"{g} item", category=("Shop", "Aisle")) for g in GROUPS for j in range(10)])
    weights = np.arange(10, 0, -1, dtype=float) ** 2
    seqs = {f"u{u}": [f"{GROUPS[u % 4]}{j}" for j in rng.choice(10, 6, replace=False, p=weights / weights.sum())]
            for u in range(400)}
    shop = fit_shop(cat, seqs, {}, FAST, encoder=HashEncoder(), progress=False)
    held = shop.manifest.held_out
    assert 0 < shop.manifest.data["text_users"] <= FAST.max_text_users
    for k in range(4):
        assert f"k{k}+text" in shop.manifest.weights
    text = held["k0+text"]
    assert text["cases"] == shop.manifest.data["text_users"]  # one k=0 case with a sentence per such user
    # chosen on these cases: never below where the search started (the weights of the request without text)
    assert text["ndcg@10"] >= text["pooled_ndcg@10"] - 1e-12
    assert text["ndcg@10"] > held["k0"]["ndcg@10"] + 0.2  # the sentence names the group
    w = shop.manifest.weights_for("k0+interests+text")  # a chat request: its interests do not hide the text
    assert w.prior.lexical + w.prior.text > 0


def test_request_types_searched_on_threads_get_the_weights_they_get_one_at_a_time():
    cat, seqs, users = synthetic_shop(True, n_users=200)
    one, many = (fit_shop(cat, seqs, users, replace(FAST, search_threads=n), encoder=HashEncoder(), progress=False)
                 for n in (1, 4))
    assert any(t.endswith("+text") for t in one.manifest.weights)  # types that start from others' weights
    assert list(one.manifest.held_out) == list(many.manifest.held_out) == sorted(one.manifest.held_out, key=(
        lambda t: (t != DEFAULT, t)))
    assert one.manifest.held_out == many.manifest.held_out
    assert one.manifest.to_dict()["weights"] == many.manifest.to_dict()["weights"]
    with pytest.raises(GenrecError, match="search_threads"):
        FitConfig(search_threads=0)


def test_request_type_reads_what_a_request_gives():
    assert request_type(UserProfile(), False) == "k0"
    assert request_type(UserProfile(free_text="tea", interests=["x"], gender="f"), False) == \
        "k0+interests+text+demographics"
    assert request_type(UserProfile(age=30, interests=["x"], recent_items=list("abc")), False) == \
        "k3+interests+demographics"
    assert request_type(UserProfile(age=30, recent_items=list("abcde")), False) == "long+demographics"
    assert request_type(UserProfile(gender="f"), True) == "new-items"


def test_fit_config_is_checked_and_too_few_users_is_a_clear_error():
    with pytest.raises(GenrecError):
        FitConfig(holdout_share=1.5)
    with pytest.raises(GenrecError):
        FitConfig(grid=(1.0, 2.0))
    with pytest.raises(GenrecError, match="model_gain_se"):
        FitConfig(model_gain_se=-1.0)
    cat, seqs, users = synthetic_shop(True, n_users=20)
    with pytest.raises(GenrecError, match="too few to fit"):
        fit_shop(cat, seqs, users, FAST, encoder=HashEncoder(), progress=False)


def test_users_files_keep_unknown_columns_and_read_zip_codes_as_location(tmp_path):
    path = tmp_path / "users.csv"
    path.write_text("user_id,age,gender,zip_code,shoe_size\n1,24,M,85711,9\n")
    assert load_users(path) == {"1": {"age": 24, "gender": "M", "location": "85711",
                                      "attributes": {"shoe_size": "9"}}}


def test_users_files_read_age_bands_and_coded_occupations_and_keep_an_unreadable_age(tmp_path):
    # An age band ("25-34") once stopped genrec eval with a raw ValueError; MovieLens's numeric occupation codes
    # were dropped from the demographic part (it read text only) and refused by the profile.
    path = tmp_path / "users.jsonl"
    path.write_text('{"user_id": 1, "age": "25-34", "occupation": 12}\n{"user_id": 2, "age": "unknown"}\n')
    users = load_users(path)
    assert users == {"1": {"age": 25, "occupation": "12"}, "2": {"attributes": {"age": "unknown"}}}
    assert demographic_tokens(users["1"]) == ["age=2", "occupation=12"]
    assert cold_user_cases(Catalog([Item("a", "A"), Item("b", "B")]), {"1": ["a", "b"]}, users, ["1"],
                           n_pool=1, known=(0,))[0].profile.age == 25


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_a_dataset_folder_reads_its_users_file_in_any_supported_format(tmp_path, ext):
    # genrec eval's folder once read users.jsonl only: a shop's users.csv was ignored without a word, so its
    # demographics never reached the fit or the demographic baseline.
    (tmp_path / "items.jsonl").write_text('{"item_id": "a", "title": "A"}\n')
    (tmp_path / "interactions.csv").write_text("user_id,item_id\n1,a\n")
    rows = {"user_id": ["1"], "age": ["24"], "zip_code": ["85711"]}
    if ext == "csv":
        (tmp_path / "users.csv").write_text("user_id,age,zip_code\n1,24,85711\n")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq
        pq.write_table(pa.table(rows), tmp_path / "users.parquet")
    assert Dataset.load(tmp_path).users == {"1": {"age": 24, "location": "85711"}}


def test_fitted_recommender_serves_with_a_tiny_model(tiny_model, tokenizer, encoder):
    from genrec import RecommenderConfig
    from genrec.training.fit import fitted_recommender

    cat, seqs, users = synthetic_shop(True)
    rec = fitted_recommender(cat, seqs, users, fit_config=FAST, progress=False, model=tiny_model,
                             tokenizer=tokenizer, encoder=encoder,
                             config=RecommenderConfig(codes=TINY_CODES, cache_index=False))
    assert rec.shop is not None and rec.shop.manifest.data["held_out_users"] == 120
    recs = rec.recommend({"gender": "female", "age": 25}, k=5, explain=False)
    assert sum(r.item_id.startswith("pens") for r in recs) >= 4


def test_logs_too_small_to_fit_on_still_serve_unfitted_from_their_signals(tiny_model, tokenizer, encoder, caplog):
    """`genrec eval --systems llm,...` on a small shop scores genrec beside the baselines instead of stopping: the
    recommender is not fitted (default weights) but ranks with the logs' signals."""
    from genrec import RecommenderConfig
    from genrec.training.fit import fitted_recommender

    cat, seqs, users = synthetic_shop(True, n_users=20)
    with caplog.at_level("WARNING"):
        rec = fitted_recommender(cat, seqs, users, fit_config=FAST, progress=False, model=tiny_model,
                                 tokenizer=tokenizer, encoder=encoder,
                                 config=RecommenderConfig(codes=TINY_CODES, cache_index=False))
    assert rec.shop is None and "too few to fit on" in caplog.text
    assert rec.signals.popularity == dict(Dataset(cat, seqs).popularity())
    assert rec.signals.similarity is not None
    recs = rec.recommend({"gender": "female"}, k=3, explain=False)
    assert len(recs) == 3


def test_lightfm_peer_learns_from_the_same_features():
    pytest.importorskip("lightfm")
    from genrec.evaluation.peers import LightFMSystem

    cat, seqs, users = synthetic_shop(True)
    system = LightFMSystem(cat, None, seqs, users, components=16)
    assert system.epochs in (5, 10, 20, 40) and 0 <= system.held_out_ndcg <= 1
    recs = system.recommend(UserProfile(gender="male", age=55), k=10)
    assert sum(r.item_id.startswith("games") for r in recs) >= 6


def test_a_small_shop_is_fitted_on_more_folds_of_its_users_and_items_each_scored_by_signals_fitted_without_it(
        monkeypatch):
    from genrec.training import fit as fit_module

    cat, seqs, users = synthetic_shop(True, n_users=200)
    all_items = {i for s in seqs.values() for i in s}
    views = []
    real = fit_module.fit_signals

    def spy(catalog, sequences, *a, **kw):
        views.append((set(sequences), {i for s in sequences.values() for i in s}))
        return real(catalog, sequences, *a, **kw)

    monkeypatch.setattr(fit_module, "fit_signals", spy)
    config = replace(FAST, max_holdout_users=1000, folds=3)
    shop = fit_shop(cat, seqs, users, config, encoder=HashEncoder(), progress=False)
    # the first share of users and items, two more of items, two more of users, then all the data
    assert len(views) == 6 and views[-1] == (set(seqs), all_items)
    folds = [set(seqs) - v for v, _ in views[:1] + views[3:5]]
    assert [len(f) for f in folds] == [60, 60, 60] and len(set.union(*folds)) == 180  # disjoint
    assert shop.manifest.data["held_out_users"] == 180
    assert shop.manifest.held_out["k0"]["cases"] == shop.manifest.held_out["k0+demographics"]["cases"] == 180
    new_items = [all_items - items for _, items in views[:3]]  # 10% of the 40 items each
    assert [len(f) for f in new_items] == [4, 4, 4] and len(set.union(*new_items)) == 12
    assert all(v == views[0][0] for v, _ in views[1:3])  # the item folds keep the first share's users out
    assert shop.manifest.data["held_out_items"] == 12
    takers = [sum(bool(set(s) & f) and bool(set(s) - f) for u, s in seqs.items() if u not in folds[0])
              for f in new_items]
    assert shop.manifest.held_out["new-items"]["cases"] == shop.manifest.data["item_case_users"] == sum(takers)
    views.clear()
    one = fit_shop(cat, seqs, users, replace(config, folds=1), encoder=HashEncoder(), progress=False)
    assert len(views) == 2 and one.manifest.data["held_out_users"] == 60
    assert one.manifest.data["held_out_items"] == 4 and one.manifest.data["item_case_users"] == takers[0]
    # the new-item users are shared out over the folds of items, so their weights rest on more items than one
    # fold's few: with room for 30 of them, 10 per fold and all three folds rather than one fold of 30
    few = fit_shop(cat, seqs, users, replace(config, max_item_case_users=30), encoder=HashEncoder(), progress=False)
    assert few.manifest.data["item_case_users"] == 30 and few.manifest.data["held_out_items"] == 12
    # the cases stay within FitConfig.max_cases: a fold is cut to the users whose cases fit
    # (16 cases per user: 8 requests, with and without demographics; the second fold holds 500 // 16 users)
    item_cases = sum(len(fit_module._item_cases(seqs, fit_module.item_case_users(seqs, f, folds[0], 1000,
                                                                                  config.seed), f))
                     for f in new_items[1:])
    cap = one.manifest.data["cases"] + item_cases + 60 * 16 + 500
    capped = fit_shop(cat, seqs, users, replace(config, max_cases=cap), encoder=HashEncoder(), progress=False)
    assert capped.manifest.data["held_out_users"] == 60 + 60 + 500 // 16
    assert capped.manifest.data["cases"] == cap - 500 % 16 and capped.manifest.data["held_out_items"] == 12
    # A cap that the first share of users and items already reaches leaves the further shares of items their
    # room: fewer cold-start users are held out, and the new-item users still come from all three shares of the
    # items (it used to fit all of them on the first share's items alone, and a 6,040-user shop's new items on
    # 127 cases). No fold of users is left room for.
    views.clear()
    cap = one.manifest.data["cases"] + 5
    tight = fit_shop(cat, seqs, users, replace(config, max_cases=cap), encoder=HashEncoder(), progress=False)
    assert len(views) == 4 and tight.manifest.data["held_out_items"] == 12
    assert tight.manifest.data["cases"] <= cap and tight.manifest.data["held_out_users"] < 60
    assert tight.manifest.data["item_case_users"] > one.manifest.data["item_case_users"]
    assert tight.manifest.held_out["new-items"]["cases"] == tight.manifest.data["item_case_users"]


def test_cli_fit_chooses_weights_on_the_given_held_out_users(tmp_path, monkeypatch, encoder):
    from genrec.apps.cli import main
    from genrec.training import fit as fit_module

    cat, seqs, users = synthetic_shop(True, n_users=200)
    (tmp_path / "items.jsonl").write_text("\n".join(json.dumps({"item_id": it.item_id, "title": it.title})
                                                    for it in cat))
    (tmp_path / "inter.jsonl").write_text("\n".join(json.dumps({"user_id": u, "item_id": i, "seq": n})
                                                    for u, s in seqs.items() for n, i in enumerate(s)))
    (tmp_path / "users.jsonl").write_text("\n".join(json.dumps({"user_id": u, **p}) for u, p in users.items()))
    held = [f"u{n}" for n in range(150, 200)]
    (tmp_path / "splits.json").write_text(json.dumps({"train_users": [f"u{n}" for n in range(150)],
                                                      "valid_cold_users": held, "cold_items": []}))
    seen = {}
    real = fit_module.fit_shop

    def spy(*a, **kw):
        seen.update(kw)
        return real(*a, **{**kw, "encoder": encoder, "progress": False})

    monkeypatch.setattr(fit_module, "fit_shop", spy)
    base = ["fit", "--catalog", str(tmp_path / "items.jsonl"), "--interactions", str(tmp_path / "inter.jsonl"),
            "--users", str(tmp_path / "users.jsonl"), "--no-collab-model"]
    args = base + ["--train-users", str(tmp_path / "splits.json"), "--holdout-users", str(tmp_path / "splits.json")]
    assert main(args + ["--out", str(tmp_path / "shop")]) == 0
    assert seen["holdout"] == (held, set())
    manifest = json.loads((tmp_path / "shop" / "shop.json").read_text())
    assert manifest["data"]["held_out_users"] == 50 and manifest["data"]["users"] == 200
    (tmp_path / "few.txt").write_text("u1\nnobody\n")
    assert main(base + ["--holdout-users", str(tmp_path / "few.txt"), "--out", str(tmp_path / "x")]) == 2


def test_items_no_one_took_are_left_out_of_the_held_out_rankings():
    """An item without logs cannot be a held-out case's target, so ranking it there only taught the weights that
    items without logs are unwanted: a new item's lack of logs says it was not there to take (in protocol B's
    training view the test's new items are such items, and the fit's weights for short histories ranked every
    new item below the old ones). New items are judged on the held-out shares of items instead. Here each
    group's items get twins that no one took: every part that ranks the logged items alike with or without them
    scores the held-out cases alike."""
    cat, seqs, users = synthetic_shop(True, n_users=200)
    twins = [Item(f"twin-{g}{j}", f"item number {g}{j}", category=("Shop", "Aisle")) for g in GROUPS for j in range(4)]
    wider = Catalog(twins + list(cat))  # first in the catalog: ties go to them
    config = replace(FAST, folds=1)
    plain = fit_shop(cat, seqs, users, config, encoder=HashEncoder(), progress=False).manifest
    with_twins = fit_shop(wider, seqs, users, config, encoder=HashEncoder(), progress=False).manifest
    checked = 0
    for t, held in plain.held_out.items():
        for part in set(held.get("alone", {})) & {"text", "nearest", "popularity", "demographic"}:
            assert with_twins.held_out[t]["alone"][part] == pytest.approx(held["alone"][part]), (t, part)
            checked += 1
    assert checked >= 20 and with_twins.data["held_out_items"] == plain.data["held_out_items"]


def test_returning_users_long_histories_are_fitted_on_new_items_mixed_with_old(tiny_model, tokenizer):
    """A returning user (more than 3 known items) is its own request type, fitted as protocol B scores it: users
    outside the held-out cold-start users, their old items (in the training logs) as the history and their
    held-out items as targets, ranked among the whole catalog; a Recommender uses those weights for such a
    request, and a shop without them falls back to 3 known items."""
    from genrec import Recommender, RecommenderConfig
    from genrec.data.cases import cold_item_cases
    from genrec.training.fit import item_case_users, split_holdout

    cat, seqs, users = synthetic_shop(False)
    config = FitConfig(collab=None, max_holdout_users=200, holdout_share=0.5, min_cases=20, cold_item_share=0.25,
                       max_item_case_users=60, folds=1)  # one share of users and items: the cases below
    shop = fit_shop(cat, seqs, users, config, encoder=HashEncoder(), progress=False)
    held_users, held_items = split_holdout(cat, seqs, config)
    item_users = item_case_users(seqs, held_items, set(held_users), 60, config.seed)
    assert len(item_users) == 60 and not set(item_users) & set(held_users)
    assert all(held_items & set(seqs[u]) and set(seqs[u]) - held_items for u in item_users)
    expected = [c for c in cold_item_cases(seqs, item_users, held_items)
                if c.setting == "full" and len(c.profile.recent_items) > 3]
    assert shop.manifest.data["item_case_users"] == 60
    held = shop.manifest.held_out["long"]
    assert held["cases"] == len(expected) >= 20
    assert held["ndcg@10"] >= held["pooled_ndcg@10"]  # the search starts from the weights of 3 known items
    assert held["ndcg@10"] >= max(held["alone"].values()) - 1e-12  # and afresh, from its best single part
    rec = Recommender(cat, config=RecommenderConfig(codes=TINY_CODES, cache_index=False), model=tiny_model,
                      tokenizer=tokenizer, encoder=HashEncoder())
    rec.use_shop(shop)
    returning = UserProfile(recent_items=seqs["u0"][:5])
    assert rec.weights_for(returning, False).prior == shop.manifest.weights["long"].prior


def test_fit_keeps_the_learned_model_design_that_scores_best_on_held_out_users():
    cat, seqs, users = synthetic_shop(True, n_users=200)
    designs = (CollabConfig(dim=8, max_epochs=3), CollabConfig(dim=8, max_epochs=3, text=True, id_dropout=0.25))
    config = FitConfig(collab=designs[0], collab_alternatives=designs[1:], max_holdout_users=60, holdout_share=0.3,
                       min_cases=30)
    data = fit_shop(cat, seqs, users, config, encoder=HashEncoder(), progress=False).manifest.data
    scores = data["collab_held_out_ndcg@10"]
    assert len(scores) == 2 and all(0 <= s <= 1 for s in scores)
    assert data["collab"] == json.loads(json.dumps(asdict(designs[int(np.argmax(scores))])))


@pytest.mark.parametrize("listed", [False, True])
def test_with_a_model_the_prior_is_fitted_on_every_held_out_user_and_the_model_weight_on_those_it_scored(
        monkeypatch, tiny_model, tokenizer, listed):
    """An adapter's model scores few held-out users (FitConfig.max_model_users, or those its training left out
    when it lists them: `listed`): the prior's weights are still those of the fit without it on the same
    held-out users, chosen on every one of them, and the model earns its weight on the users it scored. Its
    scores here are an oracle's (each case's targets), so it must earn weight wherever it scored enough cases,
    and nowhere else."""
    from genrec.training import fit as fit_module

    from .conftest import make_recommender

    cat, seqs, users = synthetic_shop(False)
    config = replace(FAST, max_model_users=40, max_item_case_users=60, cold_item_share=0.25)
    holdout = None
    if listed:  # as genrec train writes them: users and items of another draw than the fit's own
        held, cold = fit_module.split_holdout(cat, seqs, replace(config, seed=config.seed + 1))
        holdout = (held[:40], cold)
    plain = fit_shop(cat, seqs, users, config, encoder=HashEncoder(), progress=False, holdout=holdout,
                     paired=True).manifest
    ids, scored = np.array([it.item_id for it in cat]), set()

    def oracle(recommender, mask, cases, model_users):
        scored.update(c.user for c in cases if c.user in model_users)
        return [np.isin(ids, list(c.targets)) * 5.0 if c.user in model_users else None for c in cases]

    monkeypatch.setattr(fit_module, "_model_rows", oracle)
    rec = make_recommender(cat, tiny_model, tokenizer, HashEncoder())
    fitted = fit_shop(cat, seqs, users, config, recommender=rec, progress=False, holdout=holdout).manifest
    # listed: the 40 the adapter never saw and the fit's own 120 beside them
    assert fitted.data["held_out_users"] == plain.data["held_out_users"] == (len(set(holdout[0]) | set(
        fit_module.split_holdout(cat, seqs, config)[0])) if listed else 120)
    assert plain.data["model_users"] == 0
    # 40 held-out cold-start users, and up to 40 users with new items of the first fold of items: its 60 with a
    # list, 15 without one (the new-item users are shared over the folds of items: 4 here, a quarter each)
    shares = 1 + len(fit_module._more_folds(fit_module._holdable_items(cat, seqs, config),
                                            fit_module.split_holdout(cat, seqs, config)[1], config, config.seed + 4))
    assert shares == 4
    assert fitted.data["model_users"] == len(scored) == 40 + (40 if listed else 60 // shares)
    assert set(fitted.weights) == set(plain.weights)
    earned = 0
    for t, tw in fitted.weights.items():
        assert tw.prior == plain.weights[t].prior and tw.demographic_words == plain.weights[t].demographic_words
        assert fitted.held_out[t]["ndcg@10"] == plain.held_out[t]["ndcg@10"]
        model = fitted.held_out[t]["model"]
        if model["cases"] >= config.min_cases:
            assert tw.model > 0 and model["ndcg@10"] > model["without_model_ndcg@10"]
            earned += 1
        else:  # too few scored cases: the model weight of the weights its search started from
            assert tw.model == fitted.weights["k3" if t == "long" else DEFAULT].model
    assert earned >= 8 and fitted.weights[DEFAULT].model > 0
    assert fitted.held_out["long"]["model"]["cases"] < config.min_cases  # so the branch above ran
