"""Variant families, one card per family, and maximal marginal relevance."""

import numpy as np
import pytest

from genrec import Catalog, Diversity, GenrecError, Item
from genrec.ranking.diversity import NO_DIVERSITY, family_ids, family_key, mmr


def item(i, title, **attributes):
    return Item(item_id=f"I{i}", title=title, category=("Shop", "Things"), price=10.0, attributes=attributes)


def test_families_come_from_the_catalog_group_id_else_the_title_without_variant_words():
    same = [item(1, "Merinova Trail Socks, Grey, 6-Pack", Color="Grey", Pack="6-Pack"),
            item(2, "Merinova Trail Socks, Neon Orange, 2-Pack", Color="Neon Orange", Pack="2-Pack"),
            item(3, "Merinova Trail Socks (Black) - pack of 3"),
            item(4, "Merinova Trail Socks, XL, Women's")]
    assert len({family_key(it) for it in same}) == 1
    books = [item(5, "The Weekend Cook, Hardcover"), item(6, "The Weekend Cook, Paperback, 2nd Edition")]
    assert family_key(books[0]) == family_key(books[1]) != family_key(same[0])
    other = [item(7, "Merinova Road Socks, Grey"), item(8, "Post-it Notes, 3x3 in, 12 Pads, Canary Yellow"),
             item(9, "Post-it Notes, 4 x 6 in, 5 Pads")]
    assert family_key(other[0]) != family_key(same[0]) and family_key(other[1]) == family_key(other[2])
    grouped = [item(10, "Alpha", parent_id="P1"), item(11, "Completely different", parent_id="P1"),
               item(12, "Alpha", parent_id="P2")]
    assert family_key(grouped[0]) == family_key(grouped[1]) != family_key(grouped[2])
    assert family_key(item(13, "Grey")) == "item:I13"  # nothing left of the title: its own family
    assert family_ids(Catalog(same + books)).tolist() == [0, 0, 0, 0, 1, 1]


def test_mmr_trades_score_for_novelty_exactly():
    emb = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)
    cands = [(0, -1.0), (1, -1.1), (2, -3.0)]
    assert mmr(cands, emb, 3, 0.0) == cands
    # relevance 1, 0.95, 0; after item 0: item 1 gains 0.5*0.95 - 0.5*1 < 0, item 2 gains 0 - 0 = 0
    assert [i for i, _ in mmr(cands, emb, 2, 0.5)] == [0, 2]
    assert [i for i, _ in mmr(cands, emb, 2, 0.01)] == [0, 1]
    with pytest.raises(GenrecError):
        Diversity(mmr=1.0)
    with pytest.raises(GenrecError):
        Diversity(pool=0)


def test_the_top_k_holds_one_item_per_family_with_its_variants_listed(tiny_rec):
    profile = {"interests": ["running"], "recent_items": ["P01010"]}
    flooded = tiny_rec.recommend(profile, k=8, explain=False, diversity=NO_DIVERSITY)
    fams = tiny_rec.families
    pos = tiny_rec.catalog.index
    assert len({fams[pos[r.item_id]] for r in flooded}) < 8  # the test catalog has variant floods to remove
    varied = tiny_rec.recommend(profile, k=8, explain=False)
    assert len(varied) == 8 and len({fams[pos[r.item_id]] for r in varied}) == 8
    for r in varied:
        assert all(fams[pos[v]] == fams[pos[r.item_id]] and v != r.item_id for v in r.variants)
        assert "P01010" not in r.variants  # excluded items are no variants to offer
    assert varied[0].item_id == flooded[0].item_id  # the best item stays first
    mmr_list = tiny_rec.recommend(profile, k=8, explain=False, diversity=Diversity(mmr=0.5))
    assert len(mmr_list) == 8 and mmr_list[0].item_id == varied[0].item_id


def test_several_interests_each_get_an_item_unless_turned_off(tiny_rec):
    profile = {"interests": ["camping", "coffee", "Board Games"]}
    mask = tiny_rec.mask
    on = tiny_rec.recommend(profile, k=6, explain=False)
    off = tiny_rec.recommend(profile, k=6, explain=False, diversity=Diversity(cover_interests=False))
    pos = tiny_rec.catalog.index
    covered = [i for i in profile["interests"] if any(mask.about(i)[pos[r.item_id]] for r in on)]
    assert covered == profile["interests"]
    assert len([i for i in profile["interests"] if any(mask.about(i)[pos[r.item_id]] for r in off)]) < 3
    assert on[0] == off[0] and [r.score for r in on] == sorted((r.score for r in on), reverse=True)
    assert len({r.item_id for r in on}) == 6


def test_a_diversity_that_is_not_one_is_a_genrec_error(tiny_rec):
    from genrec import RecommenderConfig

    with pytest.raises(GenrecError, match="genrec.Diversity"):
        tiny_rec.recommend({}, k=2, diversity={"mmr": 0.5})
    with pytest.raises(GenrecError, match="genrec.Diversity"):
        RecommenderConfig(diversity="varied")
