"""A varied list: variant families (one product in several colours, sizes, packs or editions) and maximal
marginal relevance over item embeddings.

A family comes from the catalog when it says (an attribute `parent_id`, `group_id`, `parent_asin` or `family`),
else from the title with its variant words taken out: the item's own attribute values where the title repeats
them, then colours, sizes, pack counts, quantities and editions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..data.catalog import Catalog, Item
from ..errors import GenrecError

FAMILY_ATTRIBUTES = ("parent_id", "group_id", "parent_asin", "family")
_COLOURS = ("black|white|grey|gray|silver|gold|red|blue|navy|green|olive|teal|yellow|orange|pink|purple|violet|"
            "brown|beige|tan|cream|ivory|charcoal|graphite|slate|stone|sand|khaki|coral|mint|turquoise|burgundy|"
            "maroon|rose|lavender|neon|muted|dark|light|pale|bright|deep|matte|clear|transparent|multicolou?r|"
            "assorted|natural|walnut|oak|espresso|canary")
_VARIANT = re.compile(
    rf"\b(?:{_COLOURS})\b"
    r"|\b(?:x{0,3}s|s|m|l|x{1,3}l|\d?xl|small|medium|large|extra[- ]large|twin|full|queen|king|one size)\b"
    r"|\b(?:men'?s|women'?s|unisex|kids'?|boys'?|girls'?)"
    r"|\b\d+(?:\.\d+)?\s*(?:-\s*)?(?:pack|pk|count|ct|pcs|pieces|pads|sheets|rolls|pairs?)\b|\bpack of \d+\b"
    r"|\b\d+(?:\.\d+)?\s*(?:ml|l|oz|fl\.? oz|g|kg|lb|lbs|mm|cm|m|in|inch|inches|ft|gb|tb)\b"
    r"|\b\d+(?:\.\d+)?\s*[x×]\s*\d+(?:\.\d+)?(?:\s*(?:in|cm|mm|inch|inches))?\b"
    r"|\b(?:hardcover|hardback|paperback|kindle|ebook|audiobook|audio cd|mass market|board book|spiral-bound|"
    r"edition|\d+(?:st|nd|rd|th) edition|revised|updated)\b"
    r"|\bages? \d+\+?|\b\d+\+",
    re.I)


@dataclass(frozen=True)
class Diversity:
    """How varied a list is. `one_per_family`: the top-k holds the best item of each variant family (the others
    come along as that card's `variants`). `mmr` in [0, 1): 0 ranks by score alone; above 0, each next item
    trades score for being unlike the items above it (maximal marginal relevance over item embeddings, among
    the best `pool` x k)."""

    one_per_family: bool = True
    mmr: float = 0.0
    pool: int = 3
    # A profile with several stated interests gets at least one item for each in its top-k (when the catalog
    # and filters allow one), in the place of the lowest-ranked items.
    cover_interests: bool = True

    def __post_init__(self):
        for name in ("one_per_family", "cover_interests"):
            if not isinstance(getattr(self, name), bool):
                raise GenrecError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if isinstance(self.mmr, bool) or not isinstance(self.mmr, (int, float)) or not 0 <= self.mmr < 1:
            raise GenrecError(f"mmr must be a number in [0, 1), got {self.mmr!r}")
        if isinstance(self.pool, bool) or not isinstance(self.pool, int) or self.pool < 1:
            raise GenrecError(f"pool must be an integer >= 1, got {self.pool!r}")


NO_DIVERSITY = Diversity(one_per_family=False, cover_interests=False)


def family_key(item: Item) -> str:
    """The variant family of an item: the catalog's own group ID, else its title without variant words."""
    for name in FAMILY_ATTRIBUTES:
        v = item.attributes.get(name)
        if v:
            return f"id:{v}"
    title = item.title.lower()
    for v in item.attributes.values():  # "Socks, Grey, 6-Pack" with Color=Grey, Pack=6-Pack
        if v and len(v) < 40:
            title = re.sub(rf"(?<!\w){re.escape(v.lower())}(?!\w)", " ", title)
    title = _VARIANT.sub(" ", title)
    words = re.findall(r"[a-z0-9]+(?:'[a-z]+)?", title)
    return "title:" + " ".join(words) if words else f"item:{item.item_id}"


def family_ids(catalog: Catalog) -> np.ndarray:
    """One integer per catalog position: equal for items of one variant family."""
    ids: dict[str, int] = {}
    return np.array([ids.setdefault(family_key(it), len(ids)) for it in catalog], dtype=np.int64)


def mmr(candidates: list[tuple[int, float]], emb: np.ndarray, k: int, weight: float) -> list[tuple[int, float]]:
    """Re-rank `candidates` ((position, score), best first) to k by maximal marginal relevance: each next item
    maximises (1 - weight) * relevance - weight * (its highest cosine similarity to an item already chosen), with
    relevance the score rescaled to [0, 1] over the candidates. weight 0 keeps the order."""
    if weight == 0 or len(candidates) <= 1:
        return candidates[:k]
    scores = np.array([s for _, s in candidates], dtype=np.float64)
    finite = np.isfinite(scores)
    lo, hi = (scores[finite].min(), scores[finite].max()) if finite.any() else (0.0, 0.0)
    rel = np.where(finite, (scores - lo) / (hi - lo) if hi > lo else 1.0, 0.0)
    vecs = emb[[i for i, _ in candidates]].astype(np.float64)
    vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    chosen: list[int] = []
    closest = np.full(len(candidates), -np.inf)  # each candidate's highest similarity to the chosen ones
    left = np.ones(len(candidates), dtype=bool)
    while len(chosen) < min(k, len(candidates)):
        gain = (1 - weight) * rel - weight * (closest if chosen else 0.0)
        gain[~left] = -np.inf
        j = int(np.argmax(gain))
        chosen.append(j)
        left[j] = False
        closest = np.maximum(closest, vecs @ vecs[j])
    return [candidates[j] for j in chosen]
