"""Means, standard errors and significance of per-case scores and paired differences, shared by the eval report,
the fit's weight search and the benchmarks."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np


def paired_t_p(diff: np.ndarray | Sequence[float]) -> float | None:
    """Two-sided paired t-test p-value of per-case differences: 1 where none differs, 0 where every case differs
    alike (no spread: scipy warns of precision loss and returns float noise or NaN there), None for fewer than two
    cases."""
    from scipy import stats

    diff = np.asarray(diff, dtype=np.float64)
    if len(diff) < 2:
        return None
    if np.all(diff == diff[0]):
        return 0.0 if diff[0] else 1.0
    return float(stats.ttest_1samp(diff, 0.0).pvalue)


def standard_error(x: np.ndarray | Sequence[float]) -> float:
    """Standard error of the mean of per-case values (or paired differences): sample SD / sqrt(n)."""
    x = np.asarray(x, dtype=np.float64)
    return float(x.std(ddof=1) / np.sqrt(len(x)))


def mean_se(values: np.ndarray | Sequence[float]) -> tuple[float, float]:
    """Mean over cases and its standard error (0 for a single case)."""
    v = np.asarray(values, dtype=np.float64)
    return float(v.mean()), standard_error(v) if len(v) > 1 else 0.0


def two_way_clustered_p(shares: Sequence[Mapping[Hashable, float]]) -> tuple[float, float] | None:
    """Standard error and two-sided p-value of the mean per-case difference where the cases (users) and the
    items they were scored on are both samples: protocol B's users rank the same few new items, so a change that
    suits a handful of items moves every user who took them, and a test over users alone calls item-level luck
    significant (on a 943-user shop one part's NDCG@10 over 144 new items ranged .005 to .019 between five
    seeded draws of the items). shares[i]: case i's difference split over its items (metrics.item_shares of the
    two runs' lists, subtracted), summing to the difference. The two-way cluster-robust variance (Cameron,
    Gelbach and Miller 2011) of the mean: user clusters + item clusters - their intersections (each with the
    G / (G - 1) factor), where each pair's score is its share less the mean spread evenly over the case's items;
    the larger one-way variance where the sum is not positive. With one item per case it is the item-clustered
    variance, and with one case per item the paired t-test's. t with min(cases, items) - 1 degrees of freedom.
    None for fewer than two cases or items, or a case without items."""
    from scipy import stats

    n = len(shares)
    if n < 2 or any(not s for s in shares):
        return None
    diff = np.array([sum(s.values()) for s in shares])
    mean = float(diff.mean())
    by_item: dict[Hashable, float] = {}
    pairs = 0.0
    n_pairs = 0
    for s in shares:
        for item, share in s.items():
            psi = share - mean / len(s)
            by_item[item] = by_item.get(item, 0.0) + psi
            pairs += psi * psi
            n_pairs += 1
    g = len(by_item)
    if g < 2:
        return None
    cr1 = lambda total, count: total * count / (count - 1) if count > 1 else total  # noqa: E731
    users = cr1(float(((diff - mean) ** 2).sum()), n)
    items = cr1(sum(v * v for v in by_item.values()), g)
    var = users + items - cr1(pairs, n_pairs)
    if var <= 0:
        var = max(users, items)
    se = float(np.sqrt(var)) / n
    if se == 0.0:
        return 0.0, (1.0 if mean == 0 else 0.0)
    return se, float(2 * stats.t.sf(abs(mean) / se, min(n, g) - 1))


def format_p(p: float | None) -> str:
    """A p-value as the reports print it: three significant digits, "-" where there is none."""
    return "-" if p is None else f"{p:.3g}"
