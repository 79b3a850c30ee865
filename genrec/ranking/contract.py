"""The recommender contract every system answers (LLM and baselines alike): profile + filters -> items."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.catalog import Catalog
from ..data.filters import Filters
from ..data.profile import UserProfile
from ..errors import GenrecError


@dataclass(frozen=True)
class Recommendation:
    item_id: str
    title: str
    score: float  # higher is better; for the LLM, the log-probability among the allowed items
    rank: int  # 1-based
    category: str
    price: float | None
    brand: str | None
    explanation: str | None = None
    explanation_source: str | None = None  # "model" or "facts" (see genrec.ranking.explain)
    variants: tuple[str, ...] = ()  # other allowed items of its variant family (genrec.ranking.diversity)


class CatalogMask:
    """Per-catalog arrays that turn (filters, profile) into a boolean mask of allowed items quickly."""

    def __init__(self, catalog: Catalog, retired: frozenset[str] = frozenset()):
        """`retired`: item IDs never allowed, whatever the filters (a live catalog's withdrawn items)."""
        self.catalog = catalog
        self.active = np.ones(len(catalog), dtype=bool)
        self.active[[catalog.index[i] for i in retired]] = False
        self.prices = np.array([np.nan if it.price is None else it.price for it in catalog])
        self.brands = np.array([(it.brand or "").lower() for it in catalog])
        self._levels: dict[str, np.ndarray] = {}

    def _in_category(self, wanted: str) -> np.ndarray:
        if wanted not in self._levels:
            self._levels[wanted] = np.array([it.in_category(wanted) for it in self.catalog])
        return self._levels[wanted]

    def about(self, interest: str) -> np.ndarray:
        """Items an interest names: by category level, else by a whole word of the title."""
        key = f"interest:{interest.lower()}"
        if key not in self._levels:
            stem = re.escape(interest.lower().rstrip("s"))
            word = re.compile(rf"\b{stem}(?:s|es)?\b", re.I)
            self._levels[key] = self._in_category(interest) | np.array(
                [bool(word.search(f"{it.title} {it.category_str}")) for it in self.catalog])
        return self._levels[key]

    def check(self, filters: Filters) -> None:
        """The filters' error against this catalog, if any (unknown candidates), without building a mask."""
        if filters.candidates is not None:
            unknown = [i for i in filters.candidates if i not in self.catalog]
            if unknown:
                raise GenrecError(f"candidates hold {len(unknown)} item ID(s) not in the catalog, e.g. {unknown[:3]}")

    def allowed(self, filters: Filters, profile: UserProfile) -> np.ndarray:
        cat = self.catalog
        self.check(filters)
        if filters.candidates is not None:
            mask = np.zeros(len(cat), dtype=bool)
            mask[[cat.index[i] for i in filters.candidates]] = True
        else:
            mask = np.ones(len(cat), dtype=bool)
        mask &= self.active
        drop = set(filters.exclude)
        if filters.exclude_recent:
            drop |= {r.item_id for r in profile.recent_items}
        mask[[cat.index[i] for i in drop if i in cat]] = False
        if profile.excluded_brands:
            mask &= ~np.isin(self.brands, [b.lower() for b in profile.excluded_brands])
        if filters.categories:
            mask &= np.logical_or.reduce([self._in_category(c) for c in filters.categories])
        with np.errstate(invalid="ignore"):  # NaN (unpriced) compares False: excluded when a bound is set
            if filters.min_price is not None:
                mask &= self.prices >= filters.min_price
            if filters.max_price is not None:
                mask &= self.prices <= filters.max_price
        return mask


def resolve_filters(filters: Filters | None, filter_kwargs: dict) -> Filters:
    if filters is not None and filter_kwargs:
        raise GenrecError("pass either filters= or filter keywords, not both")
    return filters or Filters.from_kwargs(**filter_kwargs)


def check_request(profile, k, catalog: Catalog) -> UserProfile:
    """Validate the parts of a request every system shares; returns the parsed profile."""
    profile = as_profile(profile)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise GenrecError(f"k must be a positive integer, got {k!r}")
    unknown = [r.item_id for r in profile.recent_items if r.item_id not in catalog]
    if unknown:
        raise GenrecError(f"recent_items hold {len(unknown)} item ID(s) not in the catalog, e.g. {unknown[:3]}")
    return profile


def as_profile(profile: UserProfile | dict | str) -> UserProfile:
    if isinstance(profile, UserProfile):
        return profile
    if isinstance(profile, dict):
        return UserProfile.from_dict(profile)
    if isinstance(profile, (str, Path)):
        return UserProfile.from_json(profile)
    raise GenrecError(f"profile must be a UserProfile, dict or JSON, got {type(profile).__name__}")


def to_recommendations(catalog: Catalog, ranked: list[tuple[int, float]]) -> list[Recommendation]:
    out = []
    for r, (i, score) in enumerate(ranked):
        it = catalog[i]
        out.append(Recommendation(item_id=it.item_id, title=it.display_title, score=float(score), rank=r + 1,
                                  category=it.category_str, price=it.price, brand=it.brand))
    return out
