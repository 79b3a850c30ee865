"""The cold-start protocols of ../shared/data/README.md over a dataset: which users and cases a split gives,
and the training view (the data every system may learn from) under each protocol.

Protocol A (cold-start users): a test user's sequence s gives the seed pool P = s[:3] and targets
T = distinct items of s[3:] not in P; for k = 0..3 the system sees the profile plus s[:k] and ranks the
whole catalog minus P. "Stated interests" are the most specific category of each item in P (reported with
and without). Protocol B (cold-start items): every interaction with a cold item is removed from training;
users with >= 1 cold and >= 1 warm interaction are evaluated, history = their warm items in order, targets
= their cold items; ranked among the cold items alone (primary) and among the whole catalog minus history.
Note for B: the history may hold items taken after a target (the split is by item, not time).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ..data.cases import Case, cold_item_cases, cold_user_cases, takes_new_and_old
from ..data.catalog import Catalog
from ..data.dataset import Dataset
from ..errors import GenrecError


@dataclass
class EvalConfig:
    """What to evaluate."""

    protocols: tuple[str, ...] = ("A", "B")
    split: str = "test_cold_users"  # or "valid_cold_users" (tune there)
    known: tuple[int, ...] = (0, 1, 2, 3)  # protocol A: items of the sequence shown
    max_users: int | None = None  # evaluate a seeded sample of users (quick runs)
    seed: int = 0

    def __post_init__(self):
        if not set(self.protocols) <= {"A", "B"} or not self.protocols:
            raise GenrecError(f"protocols must be a subset of A, B; got {self.protocols!r}")
        if self.split not in ("test_cold_users", "valid_cold_users"):
            raise GenrecError(f"split must be test_cold_users or valid_cold_users, got {self.split!r}")
        if not set(self.known) <= {0, 1, 2, 3}:
            raise GenrecError(f"known must be within 0..3, got {self.known!r}")


def _sample(users: list[str], cfg: EvalConfig) -> list[str]:
    if cfg.max_users is None or cfg.max_users >= len(users):
        return users
    rng = np.random.default_rng(cfg.seed)
    return sorted(rng.choice(users, cfg.max_users, replace=False).tolist())


def protocol_a(data: Dataset, cfg: EvalConfig) -> list[Case]:
    splits = _splits(data)
    users = _sample([u for u in splits[cfg.split] if u in data.sequences], cfg)
    return cold_user_cases(data.catalog, data.sequences, data.users, users, splits.get("n_seed_pool", 3), cfg.known)


def protocol_b(data: Dataset, cfg: EvalConfig) -> list[Case]:
    cold = set(_splits(data)["cold_items"])
    users = [u for u, s in data.sequences.items() if takes_new_and_old(s, cold)]
    return cold_item_cases(data.sequences, _sample(sorted(users), cfg), cold)


def _splits(data: Dataset) -> dict:
    if data.splits is None:
        raise GenrecError(f"dataset {data.name} has no splits.json; create one with --make-splits")
    return data.splits


@dataclass(frozen=True)
class TrainingView:
    """What every system may learn from under a protocol: the same data for all (a system's `fit(view)`)."""

    catalog: Catalog
    sequences: dict[str, list[str]]  # user -> items, the protocol's held-out items removed
    users: dict[str, dict]  # user -> profile fields of the users file
    removed: frozenset[str] = frozenset()  # items taken out of the sequences (protocol B's cold items)
    popularity: Counter = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "popularity", Dataset(self.catalog, self.sequences).popularity())


def training_view(data: Dataset, protocol: str) -> TrainingView:
    """The interactions a system may learn from under a protocol, and the items removed from them."""
    splits = _splits(data)
    if protocol == "A":
        train = set(splits["train_users"])
        return TrainingView(data.catalog, {u: s for u, s in data.sequences.items() if u in train}, data.users)
    cold = frozenset(splits["cold_items"])
    return TrainingView(data.catalog, {u: [i for i in s if i not in cold] for u, s in data.sequences.items()},
                        data.users, cold)


