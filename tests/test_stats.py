import math
import warnings

import pytest

from genrec.evaluation.metrics import item_shares, ndcg_at_k
from genrec.evaluation.report import paired_test
from genrec.evaluation.stats import paired_t_p, two_way_clustered_p


def test_paired_t_p_is_exact_and_defined_where_scipy_is_not():
    # t = (2/3) / (sd / sqrt 3) = 2 / sqrt 7 on 2 degrees of freedom, whose two-sided p is 1 - t / sqrt(2 + t^2)
    assert paired_t_p([1.0, -1.0, 2.0]) == pytest.approx(1 - math.sqrt(2) / 3)
    assert paired_t_p([0.0, 0.0, 0.0]) == 1.0  # nothing differs
    assert paired_t_p([0.1, 0.1]) == 0.0  # every case differs alike: no spread
    assert paired_t_p([0.3]) is None


def test_a_run_that_gains_alike_on_every_user_gets_p_0_without_a_warning():
    a = [{"protocol": "A", "setting": "k=0", "user": u, "ndcg@10": 0.5} for u in "xyz"]
    b = [dict(r, **{"ndcg@10": 0.4}) for r in a]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy's t-test warned of precision loss here
        out = paired_test(a, b)
    assert out["mean_diff"] == pytest.approx(0.1) and out["t_test_p"] == 0.0


def test_two_way_clustered_p_is_the_paired_t_test_for_one_case_per_item_and_wider_where_cases_share_items():
    # one item per case and one case per item: the paired t-test
    se, p = two_way_clustered_p([{"a": 1.0}, {"b": -1.0}, {"c": 2.0}])
    assert p == pytest.approx(paired_t_p([1.0, -1.0, 2.0])) and se == pytest.approx(math.sqrt(7 / 3) / math.sqrt(3))
    # two items, two users each: the item-clustered variance, 2/1 * (1 + 1) / 16, se .5, t 1 on one df (p .5)
    assert two_way_clustered_p([{"a": 1.0}, {"a": 1.0}, {"b": 0.0}, {"b": 0.0}]) == pytest.approx((0.5, 0.5))
    # a case split over two items (mean 1; pair scores .5, .5 | -1 | 0): users 3/2 * 2, items 2/1 * .5,
    # pairs 4/3 * 1.5, variance 3 + 1 - 2 = 2 over 9, t = 3 / sqrt 2 on min(3, 2) - 1 = 1 df
    se, p = two_way_clustered_p([{"a": 1.0, "b": 1.0}, {"b": 0.0}, {"a": 1.0}])
    assert se == pytest.approx(math.sqrt(2) / 3) and p == pytest.approx(1 - 2 / math.pi * math.atan(3 / math.sqrt(2)))
    assert two_way_clustered_p([{"a": 1.0}, {"a": 2.0}]) is None  # one item: no spread over items
    assert two_way_clustered_p([{"a": 1.0}, {}]) is None


def test_item_shares_split_ndcg_and_recall_over_the_targets_and_add_up_to_them():
    ranked, targets = ["x", "a", "y", "b"], {"a", "b", "c"}
    shares = item_shares("ndcg@10", ranked, targets)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert shares == pytest.approx({"a": 1 / math.log2(3) / ideal, "b": 1 / math.log2(5) / ideal, "c": 0.0})
    assert sum(shares.values()) == pytest.approx(ndcg_at_k(ranked, targets, 10))
    assert item_shares("recall@2", ranked, targets) == pytest.approx({"a": 1 / 3, "b": 0.0, "c": 0.0})
    assert item_shares("mrr", ranked, targets) is None


def test_paired_test_adds_the_item_clustered_p_where_rows_name_their_new_items():
    rows = [("x", ["i"], ["i", "k"]), ("y", ["i"], ["i", "k"]), ("z", ["j"], ["k", "l"]), ("w", ["j"], ["l", "k"])]
    a = [{"protocol": "B", "setting": "full", "user": u, "targets": t, "items": items,
          "ndcg@10": ndcg_at_k(items, t, 10), "mrr": 0.5} for u, t, items in rows]  # 1, 1, 0, 0
    b = [dict(r, items=["k"], **{"ndcg@10": 0.0}) for r in a]
    out = paired_test(a, b)
    assert out["item_clustered_p"] == pytest.approx(0.5) and out["t_test_p"] < out["item_clustered_p"]
    assert paired_test([{k: v for k, v in r.items() if k != "targets"} for r in a], b)["item_clustered_p"] is None
    assert paired_test(a, b, "mrr")["item_clustered_p"] is None
