"""Means, standard errors and significance of per-case scores and paired differences, shared by the eval report,
the fit's weight search and the benchmarks."""

from __future__ import annotations

from collections.abc import Sequence

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
