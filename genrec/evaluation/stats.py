"""Significance of paired per-case differences, shared by the eval report and the fit's weight search."""

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
