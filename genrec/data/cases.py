"""Cold-start cases: the requests a shop's new users and new items make, built one way for evaluation,
fitting and training.

A case is a profile (demographics, stated interests, 0-3 known items) with filters and the items the user
really took next. Protocol A (cold-start users, ../shared/data/README.md): a user's sequence s gives the seed
pool P = s[:3] and targets = distinct items of s[3:] not in P; for k = 0..3 the profile holds s[:k] and the
ranking covers the catalog minus P; "stated interests" are the most specific category of each item in P.
Protocol B (cold-start items): history = the user's warm items, targets = their cold items, ranked among
the cold items alone (`cold-only`) or the whole catalog minus the history (`full`).

`request_type` names what a request gives (known items, interests, demographics, new items only): the unit
for which `genrec.training.fit` chooses weights, read the same way from a live request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .catalog import Catalog
from .filters import Filters
from .profile import RecentItem, UserProfile

DEMOGRAPHICS = ("age", "gender", "location", "occupation")
MAX_HISTORY = 50  # UserProfile's limit on recent items; protocol B histories are cut to the latest 50
NEW_ITEMS = "new-items"
LONG = "long"  # more than 3 known items: a returning user (protocol B's histories), not a cold-start one


@dataclass
class Case:
    user: str
    protocol: str  # "A" or "B"
    setting: str  # A: "k=0".."k=3" (+ "+interests"); B: "cold-only" or "full"
    profile: UserProfile
    filters: Filters
    targets: set[str]
    known: int | None = None  # protocol A: items of the sequence the profile holds
    interests: bool = False  # protocol A: the profile states the seed pool's categories as interests


def demographics(fields: Mapping) -> dict:
    """The demographic profile fields of a users-file row (age as a whole number)."""
    demo = {k: v for k, v in fields.items() if k in DEMOGRAPHICS}
    if "age" in demo:
        demo["age"] = int(float(demo["age"]))
    return demo


def seed_interests(catalog: Catalog, pool: Iterable[str]) -> list[str]:
    """Stated interests of protocol A: the most specific category of each seed-pool item, deduplicated."""
    return list(dict.fromkeys(catalog.get(i).category[-1] for i in pool if catalog.get(i).category))


def cold_profile(catalog: Catalog, fields: Mapping, seq: Sequence[str], k: int, with_interests: bool,
                 n_pool: int = 3, with_demographics: bool = True) -> UserProfile:
    """The profile of a cold-start user: demographics, s[:k] as known items, and optionally interests."""
    demo = demographics(fields) if with_demographics else {}
    return UserProfile.from_dict({**demo, "recent_items": list(seq[:k]),
                                  "interests": seed_interests(catalog, seq[:n_pool]) if with_interests else []})


def cold_user_cases(catalog: Catalog, sequences: Mapping[str, Sequence[str]], users: Mapping[str, Mapping],
                    chosen: Iterable[str], n_pool: int = 3, known: Sequence[int] = (0, 1, 2, 3),
                    demographics_variants: Sequence[bool] = (True,)) -> list[Case]:
    """Protocol A cases for the `chosen` users; `demographics_variants` (True, False) adds each case again
    without the user's demographics (how fitting covers requests that come without them)."""
    cases = []
    for u in chosen:
        s = sequences.get(u)
        if not s:
            continue
        pool = s[:n_pool]
        targets = set(s[n_pool:]) - set(pool)
        if not targets:
            continue
        for with_demo in demographics_variants:
            if not with_demo and not demographics(users.get(u, {})):
                continue  # no demographics to take away: the case is already there
            for k in known:
                for with_interests in (False, True):
                    profile = cold_profile(catalog, users.get(u, {}), s, k, with_interests, n_pool, with_demo)
                    setting = f"k={k}" + ("+interests" if with_interests else "")
                    cases.append(Case(u, "A", setting, profile, Filters(exclude=frozenset(pool)), targets, k,
                                      with_interests))
    return cases


def takes_new_and_old(items: Iterable[str], new: set[str]) -> bool:
    """Whether a user's items hold a new (held-out) item and an old one: the users protocol B scores."""
    s = set(items)
    return bool(new & s and s - new)


def cold_item_cases(sequences: Mapping[str, Sequence[str]], chosen: Iterable[str], cold: set[str]) -> list[Case]:
    """Protocol B cases for the `chosen` users that took a cold and a warm item."""
    cases = []
    for u in chosen:
        s = sequences.get(u, ())
        if not takes_new_and_old(s, cold):
            continue
        warm = list(dict.fromkeys(i for i in s if i not in cold))[-MAX_HISTORY:]
        targets = {i for i in s if i in cold}
        profile = UserProfile(recent_items=tuple(RecentItem(i) for i in warm))
        cases.append(Case(u, "B", "cold-only", profile, Filters(candidates=tuple(sorted(cold))), targets))
        cases.append(Case(u, "B", "full", profile, Filters(), targets))
    return cases


def request_type(profile: UserProfile, new_items_only: bool) -> str:
    """What a request gives: "k0".."k3" known items, "long" more, "+interests", "+demographics"; a request that
    allows only new items (no allowed item has a user in the logs) is "new-items"."""
    if new_items_only:
        return NEW_ITEMS
    n = len(profile.recent_items)
    key = LONG if n > 3 else f"k{n}"
    if profile.interests:
        key += "+interests"
    if any(getattr(profile, f) is not None for f in DEMOGRAPHICS):
        key += "+demographics"
    return key
