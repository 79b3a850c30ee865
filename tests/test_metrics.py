import math

import numpy as np
import pytest

from genrec.evaluation import metrics as m

RANKED = ["a", "b", "c", "d", "e"]
REL = {"b", "d", "z"}  # z is never retrieved


def test_recall_precision_exact():
    assert m.recall_at_k(RANKED, REL, 3) == pytest.approx(1 / 3)
    assert m.recall_at_k(RANKED, REL, 5) == pytest.approx(2 / 3)
    assert m.precision_at_k(RANKED, REL, 4) == pytest.approx(2 / 4)
    assert m.precision_at_k(["b"], REL, 4) == pytest.approx(1 / 4)  # short list: empty slots are misses


def test_ndcg_exact():
    dcg = 1 / math.log2(3) + 1 / math.log2(5)  # hits at ranks 2 and 4
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)  # three relevant items fit in the top 5
    assert m.ndcg_at_k(RANKED, REL, 5) == pytest.approx(dcg / idcg)
    assert m.ndcg_at_k(RANKED, REL, 2) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert m.ndcg_at_k(["b", "d", "z"], REL, 3) == pytest.approx(1.0)  # all-hit, ideal order


def test_mrr_and_hit_rate_exact():
    assert m.mrr(RANKED, REL) == pytest.approx(0.5)
    assert m.mrr(RANKED, {"e"}, k=4) == 0.0 and m.mrr(RANKED, {"e"}) == pytest.approx(0.2)
    assert m.hit_rate_at_k(RANKED, REL, 1) == 0.0 and m.hit_rate_at_k(RANKED, REL, 2) == 1.0


def test_no_hit_and_empty_target_cases_are_zero():
    for f in (m.recall_at_k, m.precision_at_k, m.ndcg_at_k, m.hit_rate_at_k):
        assert f(RANKED, {"x", "y"}, 5) == 0.0
        assert f(RANKED, set(), 5) == 0.0
    assert m.mrr(RANKED, {"x"}) == 0.0


def test_all_hit_case_is_one():
    for f in (m.recall_at_k, m.precision_at_k, m.ndcg_at_k, m.hit_rate_at_k):
        assert f(["a", "b"], {"a", "b"}, 2) == pytest.approx(1.0)
    assert m.mrr(["a"], {"a"}) == 1.0


def test_beyond_accuracy_metrics_exact():
    assert m.catalog_coverage([["a", "b"], ["b", "c", "q"]], 10, 2) == pytest.approx(3 / 10)
    cats = {"a": "x", "b": "x", "c": "y", "d": "z"}
    assert m.category_diversity(["a", "b", "c", "d"], cats, 3) == pytest.approx(2 / 3)
    assert m.category_diversity([], cats, 3) == 0.0
    pop = {"a": 8, "b": 2}
    assert m.novelty(["a", "b", "c"], pop, 16, 3) == pytest.approx((1 + 3 + 4) / 3)
    assert m.cold_share(["a", "c", "d", "e"], {"c", "e"}, 4) == 0.5
    assert m.valid_id_rate(["a", "q"], {"a"}) == 0.5 and m.valid_id_rate([], {"a"}) == 1.0
    assert m.duplicate_rate(["a", "b", "a", "a"]) == 0.5 and m.duplicate_rate([]) == 0.0


def test_k_below_one_is_an_error():
    with pytest.raises(ValueError):
        m.ndcg_at_k(RANKED, REL, 0)


def test_ndcg_of_scores_ranks_by_score_skips_disallowed_and_breaks_ties_in_catalog_order():
    ids = ["a", "b", "c", "d"]
    score = np.array([0.5, 2.0, -np.inf, 0.5])
    assert m.ndcg_of_scores(score, {"a"}, ids) == pytest.approx(1 / np.log2(3))  # b, then a before d (tie)
    assert m.ndcg_of_scores(score, {"c"}, ids) == 0.0  # not allowed: never ranked
    assert m.ndcg_of_scores(np.full(4, -np.inf), {"a"}, ids) == 0.0


def test_distinct_share_and_intra_list_distance_exactly():
    from genrec.evaluation.metrics import distinct_share, intra_list_distance

    fam = {"a": 1, "b": 1, "c": 2}
    assert distinct_share(["a", "b", "c", "d"], fam, 10) == 3 / 4  # d is its own group
    assert distinct_share(["a", "b"], fam, 1) == 1.0 and distinct_share([], fam, 10) == 0.0
    # two identical vectors and one orthogonal: pair distances 0, 1, 1 -> mean 2/3
    assert intra_list_distance([[1, 0], [2, 0], [0, 3]]) == pytest.approx(2 / 3)
    assert intra_list_distance([[1, 0]]) == 0.0
