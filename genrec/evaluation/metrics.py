"""Ranking metrics as pure functions: one ranked list and one set of relevant items in, one number out.

All are binary-relevance, follow the definitions of microsoft/recommenders and RecBole, lie in [0, 1]
unless noted, and are 0.0 when nothing relevant is retrieved (and for an empty target set).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence


def _top(ranked: Sequence[str], k: int) -> Sequence[str]:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return ranked[:k]


def hits_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> int:
    return sum(1 for i in _top(ranked, k) if i in relevant)


def recall_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Share of the relevant items found in the top k."""
    return hits_at_k(ranked, relevant, k) / len(relevant) if relevant else 0.0


def precision_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Share of the k slots holding a relevant item (a list shorter than k counts its empty slots as misses)."""
    return hits_at_k(ranked, relevant, k) / k if relevant else 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """DCG of the top k (gain 1 per relevant item, discount log2(rank + 1)) over the ideal DCG."""
    if not relevant:
        return 0.0
    dcg = sum(1.0 / math.log2(r + 2) for r, i in enumerate(_top(ranked, k)) if i in relevant)
    ideal = sum(1.0 / math.log2(r + 2) for r in range(min(len(relevant), k)))
    return dcg / ideal


def item_shares(metric: str, ranked: Sequence[str], relevant: Collection[str]) -> dict[str, float] | None:
    """Each relevant item's share of `metric` ("ndcg@K" or "recall@K", the metrics that are sums over the relevant
    items), summing to its value: what lets a paired test treat the items as well as the users as samples
    (genrec.evaluation.stats.two_way_clustered_p). None for any other metric."""
    name, _, k = metric.partition("@")
    if name not in ("ndcg", "recall") or not k.isdigit():
        return None
    shares = dict.fromkeys(relevant, 0.0)
    ideal = sum(1.0 / math.log2(r + 2) for r in range(min(len(relevant), int(k))))
    for r, i in enumerate(_top(ranked, int(k))):
        if i in shares:
            shares[i] += 1.0 / math.log2(r + 2) / ideal if name == "ndcg" else 1.0 / len(relevant)
    return shares


def mrr(ranked: Sequence[str], relevant: Collection[str], k: int | None = None) -> float:
    """1 / rank of the first relevant item (within the top k when given), else 0."""
    for r, i in enumerate(ranked if k is None else _top(ranked, k)):
        if i in relevant:
            return 1.0 / (r + 1)
    return 0.0


def hit_rate_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """1.0 if any relevant item is in the top k, else 0.0."""
    return 1.0 if hits_at_k(ranked, relevant, k) else 0.0


def catalog_coverage(lists: Sequence[Sequence[str]], catalog_size: int, k: int) -> float:
    """Share of the catalog that appears in at least one top-k list."""
    if catalog_size < 1:
        raise ValueError("catalog_size must be >= 1")
    return len({i for ranked in lists for i in _top(ranked, k)}) / catalog_size


def category_diversity(ranked: Sequence[str], category: Mapping[str, str], k: int) -> float:
    """Intra-list category spread: distinct categories in the top k over the list length (0 for an empty list)."""
    top = _top(ranked, k)
    return len({category[i] for i in top}) / len(top) if top else 0.0


def novelty(ranked: Sequence[str], popularity: Mapping[str, int], n_users: int, k: int) -> float:
    """Mean self-information -log2(p) of the top k, p = share of training users who took the item
    (an unseen item counts as taken by one user). Higher is more novel; not bounded by 1."""
    top = _top(ranked, k)
    if not top:
        return 0.0
    return sum(-math.log2(max(popularity.get(i, 0), 1) / n_users) for i in top) / len(top)


def cold_share(ranked: Sequence[str], cold: Collection[str], k: int) -> float:
    """Share of the top-k slots that hold cold (held-out) items."""
    top = _top(ranked, k)
    return sum(1 for i in top if i in cold) / len(top) if top else 0.0


def valid_id_rate(ranked: Sequence[str], allowed: Collection[str]) -> float:
    """Share of returned IDs inside the allowed set (must be 1.0 for genrec)."""
    return sum(1 for i in ranked if i in allowed) / len(ranked) if ranked else 1.0


def duplicate_rate(ranked: Sequence[str]) -> float:
    """Share of returned IDs that repeat an earlier one (must be 0.0 for genrec)."""
    return (len(ranked) - len(set(ranked))) / len(ranked) if ranked else 0.0


def ndcg_of_scores(score, relevant: Collection[str], item_ids: Sequence[str], k: int = 10) -> float:
    """NDCG@k of the items ranked by a score array over `item_ids` (-inf: not allowed; ties in catalog order)."""
    import numpy as np

    ok = np.isfinite(score)
    take = min(k, int(ok.sum()))
    if not take:
        return 0.0
    top = np.argpartition(-score, take - 1)[:take]
    top = top[np.lexsort((top, -score[top]))]
    return ndcg_at_k([item_ids[int(i)] for i in top], relevant, k)


def distinct_share(ranked: Sequence[str], group: Mapping[str, object], k: int) -> float:
    """Share of the top-k slots taken by distinct groups (e.g. variant families): 1.0 when no two items of
    the list are variants of one product. 0.0 for an empty list."""
    top = _top(ranked, k)
    return len({group.get(i, i) for i in top}) / len(top) if top else 0.0


def intra_list_distance(vectors) -> float:
    """Mean pairwise cosine distance (1 - cosine) between the items of one list (intra-list diversity, as in
    Ziegler et al. 2005); 0.0 for fewer than two items."""
    import numpy as np

    v = np.asarray(vectors, dtype=np.float64)
    if len(v) < 2:
        return 0.0
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    sims = v @ v.T
    n = len(v)
    return float((n * n - sims.sum()) / (n * (n - 1)))
