import contextlib
import logging
import os
import random
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from genrec import Catalog, Filters, GenrecError, Recommender, UserProfile
from genrec.demo.requests import allowed_ids, random_request
from genrec.model.item_ids import END
from genrec.ranking.diversity import NO_DIVERSITY
from genrec.ranking.explain import is_grounded, item_facts, whole_sentences
from genrec.ranking.lm_scorer import ModelScorer, tree_edge_logits
from genrec.ranking.prior import PriorWeights
from genrec.ranking.search import SearchConfig
from genrec.ranking.trie import CodeTrie

from .conftest import make_recommender
from .oracles import beam_search, edge_logits_batch


def test_many_random_profiles_return_only_allowed_distinct_items(tiny_rec, demo):
    rng = random.Random(0)
    for _ in range(120):
        profile, filters = random_request(rng, demo)
        allowed = allowed_ids(demo, profile, filters)
        families = {tiny_rec.families[demo.index[i]] for i in allowed}
        plain = tiny_rec.recommend(profile, k=10, explain=False, diversity=NO_DIVERSITY, **filters)
        varied = tiny_rec.recommend(profile, k=10, explain=False, **filters)  # one item per variant family
        for recs, n in ((plain, min(10, len(allowed))), (varied, min(10, len(families)))):
            ids = [r.item_id for r in recs]
            assert set(ids) <= allowed
            assert len(ids) == len(set(ids)) == n
            assert [r.rank for r in recs] == list(range(1, len(recs) + 1))
            assert all(a.score >= b.score for a, b in zip(recs, recs[1:]))
        assert len({tiny_rec.families[demo.index[r.item_id]] for r in varied}) == len(varied)


def test_a_batch_of_users_gets_exactly_what_each_gets_alone(tiny_rec, demo):
    """Prompts of different lengths share one left-padded forward; filters differ per user."""
    rng = random.Random(7)
    requests = [random_request(rng, demo) for _ in range(12)]
    profiles = [p for p, _ in requests]
    filters = [Filters.from_kwargs(**f) for _, f in requests]
    lengths = {len(tiny_rec.tokenizer(tiny_rec.prompt(p)[0])["input_ids"]) for p in profiles}
    assert len(lengths) > 1  # padding is exercised
    together = tiny_rec.recommend_batch(profiles, k=10, filters=filters)
    for p, f, got in zip(profiles, filters, together):
        alone = tiny_rec.recommend(p, k=10, explain=False, filters=f)
        assert [r.item_id for r in got] == [r.item_id for r in alone]
        assert np.allclose([r.score for r in got], [r.score for r in alone], atol=1e-4)
    with pytest.raises(GenrecError, match="filters"):
        tiny_rec.recommend_batch(profiles, k=10, filters=filters[:3])


def test_streaming_gives_the_ranking_first_then_the_same_list_explained(tiny_rec):
    profile = {"interests": ["camping"], "budget": 80, "recent_items": [tiny_rec.catalog[3].item_id]}
    steps = list(tiny_rec.recommend_stream(profile, k=6, category="Sports & Outdoors"))
    assert len(steps) == 2
    assert steps[0] == tiny_rec.recommend(profile, k=6, explain=False, category="Sports & Outdoors")
    assert all(r.explanation is None for r in steps[0])
    assert steps[1] == tiny_rec.recommend(profile, k=6, explain=True, category="Sports & Outdoors")
    assert [r.item_id for r in steps[1]] == [r.item_id for r in steps[0]] and all(r.explanation for r in steps[1])
    assert len(list(tiny_rec.recommend_stream(profile, k=6, explain=False))) == 1


def test_model_search_matches_exhaustive_full_vocabulary_scoring(demo, tiny_model, tokenizer, encoder):
    small = Catalog(list(demo)[:60:2])
    rec = make_recommender(small, tiny_model, tokenizer, encoder, prior=PriorWeights(text=1.0))
    profile = UserProfile(interests=("running",), free_text="first trail race")
    text, _ = rec.prompt(profile)
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    trie = CodeTrie(rec.sequences, list(range(len(small))), int(rec.reserved[END]))
    prior = rec.item_logprior(profile, [])
    got = beam_search(ModelScorer(tiny_model, ids), trie, 10, SearchConfig(beam_width=64), item_logprior=prior)
    mass = trie.subtree_logmass(prior)
    exact = []
    with torch.no_grad():
        for i, seq in enumerate(rec.sequences):
            full = torch.cat([ids, torch.tensor([seq])], 1)
            logp_all = tiny_model(full).logits[0, ids.shape[1] - 1:-1]  # the full 262k-style output layer
            node, score = 0, 0.0
            for pos, tok in enumerate(seq):
                kids = range(trie.child_start[node], trie.child_start[node + 1])
                toks = [int(trie.node_token[c]) for c in kids]
                lp = torch.log_softmax(logp_all[pos, toks].double(), 0)
                child = list(kids)[toks.index(tok)]
                score += float(lp[toks.index(tok)]) + mass[child] - mass[node]
                node = child
            exact.append((i, score))
    # exhaustive scoring (Recommender.edge_logits, the evaluation's path) gives the same score for every item
    model_part = rec.trie.item_logprobs(rec.edge_logits([profile, UserProfile()])[0])
    assert np.allclose(model_part + prior - np.logaddexp.reduce(prior), [s for _, s in exact], atol=1e-4)
    exact.sort(key=lambda t: -t[1])
    assert [i for i, _ in got] == [i for i, _ in exact[:10]]
    assert np.allclose([s for _, s in got], [s for _, s in exact[:10]], atol=1e-4)


def test_sampling_settings_of_the_model_never_reach_the_search(tiny_rec):
    profile = {"interests": ["camping"], "free_text": "tent for two"}
    before = tiny_rec.recommend(profile, k=8, explain=True)
    gc = tiny_rec.model.generation_config
    saved = gc.to_dict()
    try:
        gc.do_sample, gc.temperature, gc.top_k, gc.top_p = True, 50.0, 2, 0.1
        for _ in range(3):
            assert tiny_rec.recommend(profile, k=8, explain=True) == before
    finally:
        for key in ("do_sample", "temperature", "top_k", "top_p"):
            setattr(gc, key, saved.get(key))


def test_hf_generate_with_the_trie_as_prefix_allowed_tokens_fn_yields_only_catalog_codes(tiny_rec, tokenizer):
    trie = tiny_rec.trie
    valid = {tuple(s) for s in tiny_rec.sequences}
    ids = tokenizer(tiny_rec.prompt(UserProfile(interests=("yoga",)))[0], return_tensors="pt")["input_ids"]
    n = ids.shape[1]
    eos = tokenizer.eos_token_id

    def allowed(_batch, sent):
        return trie.allowed_tokens(sent[n:].tolist()) or [eos]

    out = tiny_rec.model.generate(ids, num_beams=6, num_return_sequences=6, do_sample=False,
                                  max_new_tokens=max(map(len, valid)) + 1, prefix_allowed_tokens_fn=allowed,
                                  eos_token_id=eos, pad_token_id=eos)
    for row in out[:, n:].tolist():
        code = tuple(row[: row.index(int(tiny_rec.reserved[END])) + 1])
        assert code in valid


def test_a_recommend_call_writes_nothing_and_logs_no_profile_field(tiny_rec, tmp_path, caplog, monkeypatch):
    marker = "Zqxjv"
    cache = tmp_path / "cache"
    monkeypatch.setenv("GENREC_CACHE", str(cache))
    roots = [Path(tempfile.gettempdir()), Path.home() / ".cache", cache]

    def snapshot():
        files = {}
        for root in roots:
            for p in root.rglob("*") if root.exists() else ():
                with contextlib.suppress(OSError):  # files other processes delete meanwhile
                    files[p] = p.stat().st_mtime_ns if p.is_file() else 0
        return files

    before = snapshot()
    with caplog.at_level(logging.DEBUG):
        recs = tiny_rec.recommend({"location": f"{marker}ville", "free_text": f"I like {marker} things",
                                   "interests": [f"{marker}ing", "running"], "age": 77}, k=5, explain=True)
    after = snapshot()
    assert recs
    changed = [p for p, t in after.items() if before.get(p) != t and p.is_file()]
    leaked = [p for p in changed if marker.encode() in p.read_bytes()]
    assert not leaked
    assert not [p for p in changed if str(p).startswith(str(cache))]  # the cache is not touched by a request
    assert marker not in caplog.text and "77" not in caplog.text


def test_user_mistakes_get_clear_errors(tiny_rec):
    with pytest.raises(GenrecError, match="not in the catalog"):
        tiny_rec.recommend({"recent_items": ["no-such-item"]})
    with pytest.raises(GenrecError, match="candidates hold 1 item"):
        tiny_rec.recommend({}, candidates=["P00001", "nope"])
    with pytest.raises(GenrecError, match="k must be"):
        tiny_rec.recommend({}, k=0)
    with pytest.raises(GenrecError, match="unknown filter"):
        tiny_rec.recommend({}, colour="red")
    with pytest.raises(GenrecError, match="above max_price"):
        tiny_rec.recommend({}, min_price=50, max_price=10)
    with pytest.raises(GenrecError, match="either filters= or"):
        tiny_rec.recommend({}, filters=Filters(), max_price=10)


def test_filters_that_allow_few_or_no_items(tiny_rec, demo):
    assert tiny_rec.recommend({}, k=5, max_price=0.5, explain=False) == []
    two = [demo[0].item_id, demo[500].item_id]
    recs = tiny_rec.recommend({}, k=10, candidates=two, explain=False)
    assert sorted(r.item_id for r in recs) == sorted(two)
    one = tiny_rec.recommend({"recent_items": [two[0]]}, k=3, candidates=two, explain=False)
    assert [r.item_id for r in one] == [two[1]]  # recent items are excluded by default
    both = tiny_rec.recommend({"recent_items": [two[0]]}, k=3, candidates=two, exclude_recent=False, explain=False)
    assert len(both) == 2
    kept = tiny_rec.recommend({"excluded_brands": ["Trailpeak"]}, k=10, category="Running Shoes", explain=False)
    assert kept and all(r.brand != "Trailpeak" and "Running Shoes" in r.category for r in kept)


def test_explanations_are_grounded_in_profile_and_item(tiny_rec, demo):
    profile = UserProfile.from_dict({"interests": ["trail running"], "budget": 120, "free_text": "first race",
                                     "recent_items": ["P00001"]})
    recs = tiny_rec.recommend(profile, k=5, explain=True, category="Running")
    recent = [demo.get("P00001")]
    for r in recs:
        item = demo.get(r.item_id)
        assert r.explanation and r.explanation_source in {"model", "facts"}
        if r.explanation_source == "facts":
            facts = item_facts(profile, item, recent)
            assert all(f in facts for f in r.explanation.replace(". ", ".|").split("|"))
        if item.price <= 120 and r.explanation_source == "facts":
            assert f"${item.price:.2f}" in r.explanation or "interest" in r.explanation
    assert all(r.explanation is None for r in tiny_rec.recommend(profile, k=3, explain=False))


def test_grounding_check_rejects_invented_facts():
    from genrec import Item

    item = Item("a", "Trailpeak Trail Running Shoes", description="Grippy lugs", brand="Trailpeak", price=80.0,
                category=("Sports", "Running"))
    sources = ["trail running", item.text()]
    assert is_grounded("These Trailpeak shoes have grippy lugs for trail running.", sources, item)
    assert not is_grounded("These Trailpeak shoes cost $50 and have grippy lugs.", sources, item)  # number
    assert not is_grounded("These Trailpeak shoes are waterproof.", sources, item)  # unsupported word
    assert not is_grounded("You said you love trail running today.", sources + ["love trail running today"],
                           item)  # says nothing of the item
    assert not is_grounded("Trailpeak shoes: I love trail running", sources + ["I love trail running"], item,
                           copied=["I love trail running"])


def test_index_is_cached_by_catalog_fingerprint(demo, tiny_model, tokenizer, encoder, tmp_path, monkeypatch):
    monkeypatch.setenv("GENREC_CACHE", str(tmp_path))
    small = Catalog(list(demo)[:40])
    a = make_recommender(small, tiny_model, tokenizer, encoder, cache_index=True)
    folders = list((tmp_path / "index").iterdir())
    assert len(folders) == 1 and (folders[0] / "codes.json").exists()
    b = make_recommender(small, tiny_model, tokenizer, encoder, cache_index=True)
    assert a.codes.codes == b.codes.codes and a.sequences == b.sequences
    assert not [p for p in (tmp_path / "index").iterdir() if p.name.startswith(".")]  # no temp leftovers
    os.environ.pop("GENREC_CACHE", None)


def test_popularity_prior_ranks_an_empty_profile_by_popularity(demo, tiny_model, tokenizer, encoder):
    small = Catalog(list(demo)[:50])
    pop = {it.item_id: (i * 7) % 50 for i, it in enumerate(small)}
    rec = make_recommender(small, tiny_model, tokenizer, encoder, model_weight=0.0)
    rec_pop = Recommender(small, config=rec.config, model=tiny_model, tokenizer=tokenizer, encoder=encoder,
                          popularity=pop)
    got = [r.item_id for r in rec_pop.recommend({}, k=5, explain=False, diversity=NO_DIVERSITY)]
    assert got == sorted(pop, key=lambda i: -pop[i])[:5]
    assert rec.item_logprior(UserProfile(), []) is None  # no popularity, no text: no prior at all


def test_tree_attention_scoring_equals_scoring_each_prefix_with_its_own_cache(demo, tiny_model, tokenizer, encoder):
    """One forward with a tree mask (tree_edge_logits) must give the logits that running every branching prefix
    through an expanded KV cache gives (edge_logits_batch + ModelScorer), for left-padded prompts of different
    lengths, prompts longer than the tiny model's 16-token sliding window included."""
    small = Catalog(list(demo)[:90])
    rec = make_recommender(small, tiny_model, tokenizer, encoder)
    profiles = [UserProfile(), UserProfile(interests=("running",), free_text="first trail race, light shoes"),
                UserProfile(recent_items=(small[3].item_id, small[40].item_id))]
    prompts = [tokenizer(rec.prompt(p)[0])["input_ids"] for p in profiles]
    assert len({len(p) for p in prompts}) == 3 and max(len(p) for p in prompts) > 16
    want = edge_logits_batch(ModelScorer(tiny_model, prompts), rec.trie, len(prompts))
    got = tree_edge_logits(tiny_model, prompts, rec.trie, users_per_pass=2)
    assert np.abs(got - want).max() < 1e-4
    assert np.abs(rec.edge_logits(profiles) - want).max() < 1e-4


def test_a_generation_cut_by_the_token_limit_keeps_only_whole_sentences():
    assert whole_sentences("It is in Keyboard. It is made by Keyforge,") == "It is in Keyboard."
    assert whole_sentences("Fits your budget! Light, and") == "Fits your budget!"
    assert whole_sentences("It matches your interest in cats.") == "It matches your interest in cats."
    assert whole_sentences("It is made by Keyforge,") == ""  # nothing finished: the facts are shown instead
