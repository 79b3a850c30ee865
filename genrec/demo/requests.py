"""Random cold-start requests (profile + filters) over a catalog, for validity checks in tests and benchmarks."""

from __future__ import annotations

import random

from genrec.data.catalog import Catalog
from genrec.data.profile import UserProfile

WORDS = ["running", "camping", "coffee", "cats", "keyboard", "yoga", "books", "skincare", "tent", "dogs", "gift",
         "baking", "headphones", "puzzles", "office chair", "cycling"]


def random_request(rng: random.Random, catalog: Catalog) -> tuple[UserProfile, dict]:
    """A random cold-start profile (0-3 recent items) and random filters."""
    data = {"age": rng.choice([None, rng.randint(12, 85)]), "gender": rng.choice([None, "female", "male"]),
            "interests": rng.sample(WORDS, rng.randint(0, 3)),
            "free_text": rng.choice([None, "looking for a gift", f"new to {rng.choice(WORDS)}"]),
            "budget": rng.choice([None, 25, 80, 300]),
            "recent_items": [catalog[rng.randrange(len(catalog))].item_id for _ in range(rng.randint(0, 3))]}
    profile = UserProfile.from_dict({k: v for k, v in data.items() if v is not None})
    filters: dict = {}
    if rng.random() < 0.4:
        levels = sorted({it.category[min(rng.randrange(3), len(it.category) - 1)] for it in catalog})
        filters["categories"] = rng.sample(levels, 2)
    if rng.random() < 0.4:
        lo = rng.choice([0, 10, 50])
        filters["min_price"], filters["max_price"] = lo, lo + rng.choice([20, 100, 400])
    if rng.random() < 0.3:
        filters["exclude"] = [catalog[rng.randrange(len(catalog))].item_id for _ in range(20)]
    if rng.random() < 0.2:
        filters["candidates"] = [catalog[rng.randrange(len(catalog))].item_id for _ in range(rng.randint(1, 15))]
    return profile, filters


def allowed_ids(catalog: Catalog, profile: UserProfile, f: dict) -> set[str]:
    """The items a request may return, written independently of genrec.ranking.contract.CatalogMask: the oracle
    that validity tests and benchmarks check every returned ID against."""
    recent = {r.item_id for r in profile.recent_items}
    brands = {b.lower() for b in profile.excluded_brands}
    out = set()
    for it in catalog:
        if "candidates" in f and it.item_id not in f["candidates"]:
            continue
        if it.item_id in set(f.get("exclude", ())) | recent or (it.brand or "").lower() in brands:
            continue
        if "categories" in f and not any(c.lower() in [p.lower() for p in it.category] for c in f["categories"]):
            continue
        if "min_price" in f and not (f["min_price"] <= it.price <= f["max_price"]):
            continue
        out.add(it.item_id)
    return out
