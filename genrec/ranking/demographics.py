"""Demographic popularity: what people of the user's gender, age band, occupation and location take.

A profile's demographic values are tokens (`demographic_tokens`, shared with the learned collaborative model).
For each token seen in the shop's users file, the share of its users who took an item is shrunk toward the
share among everyone (`shrink` pseudo-users of the whole shop: a group of 3 users says little), and the part
is the sum over the profile's tokens of log(group share / overall share): a lift, 0 for an item the group
takes as often as everyone, added to popularity by the fitted weights. Only tokens with `min_users` users
are kept, so a free-text location seen once adds nothing, and at most `max_tokens` of the most common (the lift is
dense: tokens x items float32, 256 x 100k items = 100 MB).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..data.catalog import Catalog
from ..data.profile import parse_age
from ..errors import GenrecError

AGE_BAND = 10  # years per age band


def demographic_tokens(fields: Mapping) -> list[str]:
    """`gender=...`, `age=<band>`, `occupation=...`, `location=...` for the values present (lower case)."""
    out = []
    age = parse_age(fields.get("age"))
    if age is not None:
        out.append(f"age={age // AGE_BAND}")
    for name in ("gender", "occupation", "location"):
        v = fields.get(name)
        if isinstance(v, str) and v.strip():
            out.append(f"{name}={v.strip().lower()}")
    return out


def profile_fields(profile) -> dict:
    """The demographic fields of a UserProfile as a mapping, for `demographic_tokens`."""
    return {"age": profile.age, "gender": profile.gender, "occupation": profile.occupation,
            "location": profile.location}


@dataclass(frozen=True)
class DemographicLift:
    tokens: dict[str, int]  # token -> row
    lift: np.ndarray  # (tokens, items) float32 log-lift over `item_ids`
    item_ids: tuple[str, ...]

    @classmethod
    def fit(cls, catalog: Catalog, sequences: Mapping[str, Sequence[str]], users: Mapping[str, Mapping],
            shrink: float = 10.0, min_users: int = 5, max_tokens: int = 256) -> DemographicLift | None:
        """None when no user has a demographic value held by at least `min_users` users."""
        if shrink <= 0 or min_users < 1:
            raise GenrecError(f"shrink must be > 0 and min_users >= 1, got {shrink!r}, {min_users!r}")
        user_tokens = {u: demographic_tokens(users.get(u, {})) for u in sequences}
        sizes = Counter(t for toks in user_tokens.values() for t in toks)
        kept = sorted(t for t, n in sizes.most_common(max_tokens) if n >= min_users)
        if not kept:
            return None
        row = {t: r for r, t in enumerate(kept)}
        counts = np.zeros((len(kept), len(catalog)), dtype=np.float64)
        overall = np.zeros(len(catalog), dtype=np.float64)
        for u, seq in sequences.items():
            cols = [catalog.index[i] for i in set(seq) if i in catalog.index]
            overall[cols] += 1
            for t in user_tokens[u]:
                if t in row:
                    counts[row[t], cols] += 1
        n = max(len(sequences), 1)
        share = (overall + 0.5) / (n + 1.0)  # half a user: an item nobody took still has a finite share
        group = (counts + shrink * share) / (np.array([sizes[t] for t in kept], dtype=np.float64)[:, None] + shrink)
        lift = (np.log(group) - np.log(share)).astype(np.float32)
        return cls(row, lift, tuple(it.item_id for it in catalog))

    def aligned(self, catalog: Catalog) -> DemographicLift:
        """The same lift over `catalog`'s positions (items it never saw get 0: no evidence either way)."""
        if self.item_ids == tuple(it.item_id for it in catalog):
            return self
        pos = {i: p for p, i in enumerate(self.item_ids)}
        src = np.array([pos.get(it.item_id, -1) for it in catalog])
        lift = np.where(src >= 0, self.lift[:, np.maximum(src, 0)], 0.0).astype(np.float32)
        return DemographicLift(self.tokens, lift, tuple(it.item_id for it in catalog))

    def component(self, fields: Mapping) -> np.ndarray | None:
        rows = [self.tokens[t] for t in demographic_tokens(fields) if t in self.tokens]
        return self.lift[rows].sum(0).astype(np.float64) if rows else None

    def arrays(self) -> dict[str, np.ndarray]:
        return {"demo_tokens": np.array(sorted(self.tokens, key=self.tokens.get)),
                "demo_lift": self.lift.astype(np.float16), "demo_item_ids": np.array(self.item_ids)}

    @classmethod
    def from_arrays(cls, z) -> DemographicLift | None:
        if "demo_tokens" not in z:
            return None
        tokens = z["demo_tokens"].tolist()
        return cls({t: r for r, t in enumerate(tokens)}, z["demo_lift"].astype(np.float32),
                   tuple(z["demo_item_ids"].tolist()))
