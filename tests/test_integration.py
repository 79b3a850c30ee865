"""Integration tests on the real packaged Gemma 3 270M (converted once into the genrec cache)."""

import random

import pytest

from genrec import BaseModelConfig, Catalog, Recommender, RecommenderConfig, UserProfile
from genrec.demo.requests import allowed_ids, random_request
from genrec.ranking.search import SearchConfig

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def real():
    from genrec.api import get_recommender

    return get_recommender()


def test_real_model_returns_valid_filtered_items_for_random_profiles(real, demo):
    rng = random.Random(7)
    for explain in (False, True, False, False):
        profile, filters = random_request(rng, demo)
        recs = real.recommend(profile, k=10, explain=explain, **filters)
        allowed = allowed_ids(demo, profile, filters)
        families = {real.families[demo.index[i]] for i in allowed}  # one item per variant family by default
        ids = [r.item_id for r in recs]
        assert set(ids) <= allowed and len(ids) == len(set(ids)) == min(10, len(families))
        assert len({real.families[demo.index[i]] for i in ids}) == len(ids)
        assert all((r.explanation is not None) == explain for r in recs)


def test_real_model_search_with_model_scores_on(real, demo):
    """The adapter path: Gemma's own (sliding-window) KV cache reordered across beams."""
    saved = real.model_weight
    try:
        real.model_weight = 1.0
        recs = real.recommend({"interests": ["coffee"], "recent_items": ["P14005"]}, k=10, explain=False,
                              category="Home & Kitchen", max_price=150)
    finally:
        real.model_weight = saved
    assert len({r.item_id for r in recs}) == 10
    assert all(r.item_id != "P14005" and r.category.startswith("Home & Kitchen") and r.price <= 150 for r in recs)


def test_the_demo_picks_match_the_stated_interest(real):
    recs = real.recommend(UserProfile(interests=("camping",), free_text="tent for a family trip"), k=5,
                          explain=False)
    assert sum("Camping" in r.category for r in recs) >= 4


def test_nf4_loading_on_cpu_recommends_valid_items(demo):
    rec = Recommender(Catalog(list(demo)[:200]), config=RecommenderConfig(
        base=BaseModelConfig(quantization="nf4"), search=SearchConfig(model_weight=1.0)))
    recs = rec.recommend({"interests": ["running"]}, k=5, explain=False)
    assert len({r.item_id for r in recs}) == 5 and all(r.item_id in demo for r in recs)


def test_real_encoder_and_model_log_no_profile_field_at_debug(real, caplog):
    import logging

    marker = "Qwvzk"
    with caplog.at_level(logging.DEBUG):
        real.recommend({"free_text": f"{marker} gear", "location": f"{marker}burg", "interests": ["tea"]}, k=3)
    assert marker not in caplog.text


def test_the_demo_shop_passes_its_purchase_history_as_logs(real, demo):
    from genrec.api import demo_logs

    logs = demo_logs()
    assert len(logs) == 2000 and all(i in demo for seq in logs.values() for i in seq)
    prior = real.prior
    assert prior.log_pop is not None and prior.similarity is not None and prior.categories is not None
    taken = {i for seq in logs.values() for i in seq}
    assert prior.has_users.sum() == len(taken)  # popularity counts every item some shopper took


def test_the_chat_lists_a_new_catalog_item_the_shopper_names(demo):
    """An item added after the shop was fitted has no users in its logs; named in a sentence, it still comes
    first: the demo shop's weights for free text were chosen on held-out sentences (genrec.data.cases)."""
    from genrec.api import demo_adapter, get_recommender
    from genrec.apps.chat import ChatState, interpret
    from genrec.data.catalog import Item

    new = Item("NEW-1", "Zephyrine Trail Running Shoes, Blue, Men's", "Trail running shoes by Zephyrine, made for "
               "long runs.", ("Sports & Outdoors", "Running", "Running Shoes"), "Zephyrine", 90.0)
    rec = get_recommender(Catalog(list(demo) + [new]), demo_adapter())
    for message in ("I love Zephyrine running shoes", "something from Zephyrine for trail running"):
        state = interpret(message, ChatState(), rec.catalog, rec.encoder).state
        recs = rec.recommend(state.ranked_profile(), k=6, explain=False, filters=state.filters())
        assert recs[0].item_id == "NEW-1", message
