import math
import warnings

import pytest

from genrec.evaluation.report import paired_test
from genrec.evaluation.stats import paired_t_p


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
