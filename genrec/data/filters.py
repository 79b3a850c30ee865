"""Filters: what a request allows (categories, price range, exclusions, a candidate list). Plain input data,
read by every system through genrec.ranking.contract.CatalogMask."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import GenrecError


@dataclass(frozen=True)
class Filters:
    """Narrow the items a request may return. All given conditions must hold."""

    categories: tuple[str, ...] = ()  # category names or paths; an item matching any of them passes
    min_price: float | None = None
    max_price: float | None = None
    exclude: frozenset[str] = frozenset()  # e.g. already bought; unknown IDs are ignored
    candidates: tuple[str, ...] | None = None  # only these items (all must exist in the catalog)
    exclude_recent: bool = True  # drop the profile's recent items

    def __post_init__(self):
        for name in ("min_price", "max_price"):
            v = getattr(self, name)
            try:
                ok = v is None or (not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(float(v))
                                   and v >= 0)
            except OverflowError:
                ok = False
            if not ok:
                raise GenrecError(f"{name} must be a finite number >= 0, got {str(v)[:40]!r}")
        if not isinstance(self.exclude_recent, bool):
            raise GenrecError(f"exclude_recent must be true or false, got {self.exclude_recent!r}")
        for name in ("categories", "candidates"):  # lists from Python callers become tuples, checked alike
            v = getattr(self, name)
            if v is not None:
                v = _names(v, name)
                if not all(x.strip() for x in v):
                    raise GenrecError(f"{name}: an empty name matches nothing; drop it")
                object.__setattr__(self, name, v)
        if not isinstance(self.exclude, frozenset):
            object.__setattr__(self, "exclude", frozenset(_names(self.exclude, "exclude")))
        if self.min_price is not None and self.max_price is not None and self.min_price > self.max_price:
            raise GenrecError(f"min_price {self.min_price} is above max_price {self.max_price}")

    @classmethod
    def from_kwargs(cls, **kw) -> Filters:
        if "category" in kw:  # the singular reads better for one category
            if kw.get("categories"):
                raise GenrecError("pass category or categories, not both")
            kw["categories"] = kw.pop("category")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(kw) - known)
        if unknown:
            raise GenrecError(f"unknown filter(s) {unknown}; known: {sorted(known | {'category'})}")
        return cls(**{k: v for k, v in kw.items() if v is not None})


def _names(v, name: str) -> tuple[str, ...]:
    """A list of names or IDs: one string is one element (never its characters); integers are item IDs
    (candidates, exclude), never category names."""
    kinds = (str,) if name == "categories" else (str, int)
    if isinstance(v, kinds) and not isinstance(v, bool):
        v = [v]
    if not isinstance(v, (list, tuple, set, frozenset)):
        raise GenrecError(f"{name} must be a list of names or IDs, got {type(v).__name__}")
    if not all(isinstance(x, kinds) and not isinstance(x, bool) for x in v):
        raise GenrecError(f"{name} must hold names or IDs (text), got {str(list(v))[:80]}")
    return tuple(str(x) for x in v)
