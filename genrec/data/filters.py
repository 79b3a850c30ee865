"""Filters: what a request allows (categories, price range, exclusions, a candidate list). Plain input data,
read by every system through genrec.ranking.contract.CatalogMask."""

from __future__ import annotations

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
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0):
                raise GenrecError(f"{name} must be a number >= 0, got {v!r}")
        if self.min_price is not None and self.max_price is not None and self.min_price > self.max_price:
            raise GenrecError(f"min_price {self.min_price} is above max_price {self.max_price}")

    @classmethod
    def from_kwargs(cls, **kw) -> Filters:
        if "category" in kw:  # the singular reads better for one category
            if kw.get("categories"):
                raise GenrecError("pass category or categories, not both")
            kw["categories"] = kw.pop("category")
        if isinstance(kw.get("categories"), str):
            kw["categories"] = (kw["categories"],)
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(kw) - known)
        if unknown:
            raise GenrecError(f"unknown filter(s) {unknown}; known: {sorted(known | {'category'})}")
        for name in ("categories", "candidates"):
            if kw.get(name) is not None:
                kw[name] = tuple(str(x) for x in kw[name])
        if kw.get("exclude") is not None:
            kw["exclude"] = frozenset(str(x) for x in kw["exclude"])
        return cls(**{k: v for k, v in kw.items() if v is not None})
