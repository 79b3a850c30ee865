from dataclasses import replace

import numpy as np
import pytest

from genrec import Catalog, GenrecError, UserProfile
from genrec.data.catalog import Item
from genrec.ranking.diversity import NO_DIVERSITY
from genrec.ranking.prior import (
    ItemPrior,
    PriorWeights,
    category_similarity,
    combine,
    item_similarity,
    standardised,
)
from genrec.ranking.recommender import Recommender

from .conftest import make_recommender

ITEMS = [Item("a", "Blue gel pen", category=("Office", "Pens"), price=2.0),
         Item("b", "Red gel pen", category=("Office", "Pens"), price=3.0),
         Item("c", "Stapler", category=("Office", "Staplers"), price=20.0),
         Item("d", "Printer ink", category=("Office", "Ink"), price=40.0)]
LOGS = {"u1": ["a", "b"], "u2": ["a", "b", "c"], "u3": ["c", "d"], "u4": ["d"]}


def test_item_similarity_is_the_cosine_of_user_vectors_with_a_zero_diagonal():
    cat = Catalog(ITEMS)
    sim = item_similarity(cat, LOGS).toarray()
    users = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 0, 1, 1], [0, 0, 0, 1]], dtype=float)
    norms = np.linalg.norm(users, axis=0)
    want = users.T @ users / np.outer(norms, norms)
    np.fill_diagonal(want, 0.0)
    assert np.allclose(sim, want)
    top1 = item_similarity(cat, LOGS, neighbours=1).toarray()
    assert (np.count_nonzero(top1, axis=1) == 1).all()
    assert np.allclose(top1.max(1), want.max(1))  # the one neighbour kept is the most similar


def test_category_similarity_is_the_cosine_of_took_anything_in_it_to_each_items_users():
    cat = Catalog(ITEMS)
    cats = category_similarity(cat, LOGS)
    assert sorted(cats.names) == ["ink", "office", "pens", "staplers"]
    took = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 0, 1, 1], [0, 0, 0, 1]], dtype=float)  # users x items
    in_pens = np.array([1, 1, 0, 0], dtype=float)  # u1, u2 took a pen
    want = in_pens @ took / np.sqrt(in_pens.sum() * took.sum(0))
    assert np.allclose(cats.matrix[cats.names["pens"]].toarray().ravel(), want)  # [1, 1, .5, 0]
    assert np.allclose(cats.matrix[cats.names["office"]].toarray().ravel(), took.sum(0) / np.sqrt(4 * took.sum(0)))
    assert cats.rows(["Pens", "running", "INK"]) == [cats.names["pens"], cats.names["ink"]]  # unknown: skipped
    top1 = category_similarity(cat, LOGS, neighbours=1).matrix.toarray()
    assert (np.count_nonzero(top1, axis=1) == 1).all()


def test_prior_parts_apply_only_where_the_profile_gives_them(encoder):
    cat = Catalog(ITEMS)
    emb = encoder.encode([it.text() for it in ITEMS])
    prior = ItemPrior(cat, emb, encoder, PriorWeights(), popularity={"a": 3}, similarity=item_similarity(cat, LOGS),
                      new_item_neighbours=0)  # b, c, d have no users here: nothing borrowed, parts exact
    assert set(prior.components(UserProfile(), [])) == {"popularity"}
    parts = prior.components(UserProfile(interests=("pens",), budget=10.0, recent_items=("c",)), [cat.get("c")])
    assert set(parts) == {"text", "nearest", "lexical", "interest", "popularity", "collab", "budget"}
    assert np.allclose(parts["nearest"], emb[2] @ emb.T)  # one known item: its own cosine to each item
    assert parts["interest"].tolist() == [1.0, 1.0, 0.0, 0.0]
    assert parts["budget"].tolist() == [0.0, 0.0, -1.0, -3.0]
    assert np.allclose(parts["collab"], [0.5, 0.5, 0.0, 0.5])  # each shares one user with c; c itself is 0
    with_cats = ItemPrior(cat, emb, encoder, PriorWeights(), similarity=item_similarity(cat, LOGS),
                          categories=category_similarity(cat, LOGS))  # no popularity: no item is known to be new
    stated = with_cats.components(UserProfile(interests=("pens",)), [])["collab"]  # no known item: interests alone
    assert np.allclose(stated, [1.0, 1.0, 0.5, 0.0])
    both = with_cats.components(UserProfile(interests=("pens", "yoga"), recent_items=("c",)), [cat.get("c")])
    assert np.allclose(both["collab"], stated + [0.5, 0.5, 0.0, 0.5])  # known items and interests add up
    assert "collab" not in with_cats.components(UserProfile(interests=("yoga",)), [])
    assert np.isclose(np.logaddexp.reduce(combine(parts, PriorWeights())), 0.0)
    assert combine(parts, PriorWeights(text=0, lexical=0, interest=0, popularity=0, collab=0, budget=0)) is None
    two = PriorWeights(text=0, nearest=2.0, lexical=0, interest=0, popularity=1.0, collab=0, budget=0)
    profile = UserProfile(interests=("pens",), budget=10.0, recent_items=("c",))
    assert set(prior.components(profile, [cat.get("c")], ["nearest", "popularity"])) == {"nearest", "popularity"}
    assert np.allclose(prior.logprior(profile, [cat.get("c")], two), combine(parts, two))  # weight 0: not computed
    over = np.array([True, True, False, False])
    z = standardised(parts, over)
    assert np.allclose(z["interest"], 0.0) and np.allclose(z["budget"], 0.0)  # constant over a and b
    for name, v in z.items():
        if np.ptp(parts[name][over]):  # z-scores over the allowed items: mean 0, deviation 1 there
            assert np.isclose(v[over].mean(), 0.0) and np.isclose(v[over].std(), 1.0)
            assert np.allclose(v, (parts[name] - parts[name][over].mean()) / parts[name][over].std())
        else:  # constant where allowed: says nothing there, 0
            assert np.allclose(v, 0.0)
    assert np.allclose(prior.logprior(profile, [cat.get("c")], two, standardise_over=over), combine(z, two))
    no_lexical = ItemPrior(cat, emb, encoder, PriorWeights(lexical=0.0))
    assert no_lexical.tfidf is None and "lexical" not in no_lexical.components(UserProfile(free_text="pen"), [])
    with pytest.raises(GenrecError, match="collab"):
        PriorWeights(collab=-1.0)


def test_logs_give_a_recommender_popularity_and_a_collaborative_prior(demo, tiny_model, tokenizer, encoder):
    small = Catalog(list(demo)[:40])
    ids = [it.item_id for it in small]
    logs = {f"u{n}": [ids[n % 5], ids[20 + n % 5]] for n in range(30)}  # item n is always taken with item 20+n
    logs["u99"] = [ids[7]]
    base = make_recommender(small, tiny_model, tokenizer, encoder, model_weight=0.0)
    only_collab = PriorWeights(text=0.0, interest=0.0, popularity=0.0, collab=10.0, budget=0.0)
    cfg = base.config.__class__(**{**base.config.__dict__, "prior": only_collab})
    rec = Recommender(small, config=cfg, model=tiny_model, tokenizer=tokenizer, encoder=encoder, logs=logs)
    for n in range(5):
        assert rec.recommend({"recent_items": [ids[n]]}, k=1, explain=False)[0].item_id == ids[20 + n]
    no_borrowing = replace(base.config, new_item_neighbours=0)  # items nobody took stay at popularity 0
    popular = Recommender(small, config=no_borrowing, model=tiny_model, tokenizer=tokenizer, encoder=encoder,
                          logs=logs)
    top = [r.item_id for r in popular.recommend({}, k=10, explain=False, diversity=NO_DIVERSITY)]
    assert set(top) == {ids[n % 5] for n in range(5)} | {ids[20 + n] for n in range(5)}  # taken 6x each


def test_new_items_borrow_popularity_and_collab_from_their_text_neighbours(encoder):
    items = ITEMS + [Item("e", "Green gel pen", category=("Office", "Pens")), Item("f", "Ink and pen")]
    cat = Catalog(items)
    emb = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1], [1, 0, 0], [1, 1, 0]], dtype=np.float32)
    pop = {"a": 2, "b": 2, "c": 2, "d": 2}  # users per item in LOGS; e and f are new
    sim, cats = item_similarity(cat, LOGS), category_similarity(cat, LOGS)
    prior = ItemPrior(cat, emb, encoder, PriorWeights(), popularity=pop, similarity=sim, categories=cats,
                      new_item_neighbours=2)
    lp = np.log1p([2, 2, 2, 2, 0, 0])
    assert prior.has_users.tolist() == [True] * 4 + [False] * 2
    assert np.allclose(prior.log_pop, [*lp[:4], lp[0], lp[0]])  # e: a (and c, d at cosine 0); f: a and b
    got, s = prior.similarity.toarray(), sim.toarray()
    assert np.allclose(got[:4, :4], s[:4, :4])  # old items' own similarities are untouched
    assert np.allclose(got[:4, 4], s[:4, 0]) and np.allclose(got[4, :4], s[0, :4])  # e is a, by text
    assert np.allclose(got[:4, 5], (s[:4, 0] + s[:4, 1]) / 2)  # f: half a, half b
    assert np.allclose(prior.categories.matrix.toarray()[:, 5], cats.matrix.toarray()[:, :2].mean(1))
    assert prior.new_items_only(np.array([0, 0, 0, 0, 1, 1], dtype=bool))
    assert not prior.new_items_only(np.array([1, 0, 0, 0, 1, 1], dtype=bool))
    off = ItemPrior(cat, emb, encoder, PriorWeights(), popularity=pop, similarity=sim, new_item_neighbours=0)
    assert np.allclose(off.log_pop, lp) and not off.similarity.toarray()[:, 4:].any()
    with pytest.raises(GenrecError, match="new_item_neighbours"):
        ItemPrior(cat, emb, encoder, PriorWeights(), new_item_neighbours=-1)


def test_lexical_part_matches_exact_words(encoder):
    cat = Catalog(ITEMS)
    prior = ItemPrior(cat, encoder.encode([it.text() for it in ITEMS]), encoder, PriorWeights(lexical=10.0))
    lex = prior.components(UserProfile(free_text="need printer ink"), [])["lexical"]
    assert lex.argmax() == 3 and lex[3] > 0 and lex[2] == 0.0


def test_requests_for_new_items_only_rank_with_the_new_items_weights(demo, tiny_model, tokenizer, encoder):
    from genrec import RecommenderConfig
    from genrec.ranking.search import SearchConfig

    from .conftest import TINY_CODES

    small = Catalog(list(demo)[:40])
    ids = [it.item_id for it in small]
    logs = {f"u{n}": [ids[n % 10]] for n in range(30)}  # items 0-9 have users; 10-39 are new to the shop
    new_w = PriorWeights(text=10.0, lexical=5.0, interest=0.0, popularity=0.0, collab=0.0, budget=0.0)
    cfg = RecommenderConfig(codes=TINY_CODES, cache_index=False, search=SearchConfig(model_weight=1.0),
                            prior=PriorWeights(lexical=0.0), new_items_prior=new_w, new_items_model_weight=0.0)
    rec = Recommender(small, config=cfg, model=tiny_model, tokenizer=tokenizer, encoder=encoder, logs=logs)
    assert rec.prior.tfidf is not None  # the new-items weights use the lexical part
    profile = UserProfile.from_dict({"free_text": small[25].title, "recent_items": [ids[3]]})
    got = [r.item_id for r in rec.recommend(profile, k=5, explain=False, candidates=ids[10:], diversity=NO_DIVERSITY)]
    score = combine(rec.prior.components(profile, [small[3]]), new_w)
    want = [ids[i] for i in 10 + np.argsort(-score[10:], kind="stable")[:5]]
    assert got == want  # the prior alone under new_w: the model weight is 0 for new items
    assert rec.prior.new_items_only(np.arange(40) >= 10) and not rec.prior.new_items_only(np.arange(40) >= 9)
    same = replace(cfg, new_items_prior=cfg.prior, new_items_model_weight=1.0)  # new items ranked as any other
    usual = Recommender(small, config=same, model=tiny_model, tokenizer=tokenizer, encoder=encoder, logs=logs)
    assert [r.item_id for r in usual.recommend(profile, k=5, explain=False, candidates=ids[10:])] != want
    mixed = [[r.item_id for r in x.recommend(profile, k=5, explain=False, candidates=ids[9:])] for x in (rec, usual)]
    assert mixed[0] == mixed[1]  # an old item allowed too: the usual weights and the model rank
    no_logs = Recommender(small, config=cfg, model=tiny_model, tokenizer=tokenizer, encoder=encoder)
    assert not no_logs.prior.new_items_only(np.ones(40, dtype=bool))  # without logs nothing is known to be new
    with pytest.raises(GenrecError, match="new_items_model_weight"):
        RecommenderConfig(new_items_model_weight=-1.0)


def test_content_baselines_are_the_priors_parts_alone(encoder):
    from genrec.data.profile import RecentItem
    from genrec.evaluation.baselines import EmbeddingKNN, TfIdf
    from genrec.model.embed import encode_catalog

    cat = Catalog(ITEMS)
    prior = ItemPrior(cat, encode_catalog(cat, encoder), encoder)
    profiles = [UserProfile(interests=("pens",), free_text="gel ink"),
                UserProfile(recent_items=(RecentItem("c"),)), UserProfile(occupation="teacher", recent_items=(
                    RecentItem("a"), RecentItem("d")))]
    lexical, text = TfIdf(cat).score_batch(profiles), EmbeddingKNN(cat, encoder=encoder).score_batch(profiles)
    for r, p in enumerate(profiles):
        parts = prior.components(p, [cat.get(x.item_id) for x in p.recent_items])
        assert np.allclose(lexical[r], parts["lexical"]) and np.allclose(text[r], parts["text"])


def test_lexical_queries_vectorised_ahead_score_as_when_vectorised_one_at_a_time():
    from genrec.ranking.content import LexicalIndex

    cat = Catalog([Item("a", "green tea leaves"), Item("b", "black tea bags"), Item("c", "blue wool socks")])
    index, fresh = LexicalIndex(cat), LexicalIndex(cat)
    texts = ["tea", "wool socks ; green tea", "nothing known"]
    index.prime(texts + ["tea"])
    assert set(index._primed) == set(texts)
    for t in texts + ["socks"]:  # the last was not primed
        assert np.array_equal(index.scores([t]), fresh.scores([t]))
    assert np.array_equal(index.scores(texts), fresh.scores(texts))
