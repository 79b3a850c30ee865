"""Cold-start cases: the requests a shop's new users and new items make, built one way for evaluation,
fitting and training.

A case is a profile (demographics, stated interests, 0-3 known items) with filters and the items the user
really took next. Protocol A (cold-start users, ../shared/data/README.md): a user's sequence s gives the seed
pool P = s[:3] and targets = distinct items of s[3:] not in P; for k = 0..3 the profile holds s[:k] and the
ranking covers the catalog minus P; "stated interests" are the most specific category of each item in P.
Protocol B (cold-start items): history = the user's warm items, targets = their cold items, ranked among
the cold items alone (`cold-only`) or the whole catalog minus the history (`full`).

Requests with free text (a chat sentence) have no protocol of their own: `free_text_cases` makes them from a
held-out user's next item, the words a shopper would use to ask for it, so the fit chooses weights for them too.

`request_type` names what a request gives (known items, interests, free text, demographics, new items only):
the unit for which `genrec.training.fit` chooses weights, read the same way from a live request.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from .catalog import Catalog, Item
from .filters import Filters
from .profile import MAX_RECENT, RecentItem, UserProfile, parse_age

DEMOGRAPHICS = ("age", "gender", "location", "occupation")
NEW_ITEMS = "new-items"
MAX_COLD_KNOWN = 3  # a cold-start request knows 0-3 items (protocol A's k); more is a returning user's
LONG = "long"  # more than MAX_COLD_KNOWN known items: a returning user (protocol B's histories), not a cold-start one
TEXT = "+text"  # the request carries a sentence of free text


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
        demo["age"] = parse_age(demo["age"])
    return {k: v for k, v in demo.items() if v is not None}


def seed_interests(catalog: Catalog, pool: Iterable[str]) -> list[str]:
    """Stated interests of protocol A: the most specific category of each seed-pool item, deduplicated."""
    return list(dict.fromkeys(catalog.get(i).category[-1] for i in pool if catalog.get(i).category))


def cold_profile(catalog: Catalog, fields: Mapping, seq: Sequence[str], k: int, with_interests: bool,
                 n_pool: int = 3, with_demographics: bool = True) -> UserProfile:
    """The profile of a cold-start user: demographics, s[:k] as known items (the latest MAX_RECENT of them, as a
    profile holds no more), and optionally interests."""
    demo = demographics(fields) if with_demographics else {}
    return UserProfile.from_dict({**demo, "recent_items": list(seq[:k])[-MAX_RECENT:],
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


# Ways a shopper opens a request in the chat (genrec.apps.chat keeps the sentence as free text). The fit's weights
# for free text should not hinge on one phrasing.
_OPENERS = ("I'm looking for {}", "I love {}", "need {}", "{}", "show me {}", "something like {}")
_FILLER = {"and", "for", "the", "with", "from", "set", "pack", "count", "inch", "inches", "size", "color", "new"}


def request_sentence(item: Item, rng: random.Random) -> str:
    """A sentence asking for something like `item`, as shoppers ask: the kind of thing (its most specific
    category), a brand and the kind ("Fleetfoot running shoes"), or 2-3 words of its title in their order; one
    of those the item has, drawn with `rng`."""
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z'&-]+", item.title) if len(w) > 2 and w.lower() not in _FILLER]
    kind = item.category[-1].lower() if item.category else None
    ways = []
    if kind:
        ways.append(kind)
        if item.brand and item.brand.strip():
            ways.append(f"{item.brand.strip()} {kind}")
    if len(words) >= 2:
        n = min(len(words), rng.choice((2, 3)))
        ways.append(" ".join(words[i] for i in sorted(rng.sample(range(len(words)), n))))
    what = rng.choice(ways) if ways else (item.title.strip() or item.description.strip()[:60])
    return rng.choice(_OPENERS).format(what)


def free_text_cases(catalog: Catalog, cases: Iterable[Case], sequences: Mapping[str, Sequence[str]],
                    seed: int) -> list[Case]:
    """Each protocol A case without interests again, with a sentence asking for the user's next item (the first
    target after the seed pool) as free text: the requests a shopper types into the chat, which no protocol
    covers. Seeded per user, so a user's cases say the same sentence."""
    out = []
    for c in cases:
        if c.protocol != "A" or c.interests:
            continue
        s = sequences[c.user]
        nxt = next(i for i in s if i in c.targets)
        said = request_sentence(catalog.get(nxt), random.Random(f"{seed}:{c.user}"))
        out.append(replace(c, setting=c.setting + TEXT, profile=replace(c.profile, free_text=said)))
    return out


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
        warm = list(dict.fromkeys(i for i in s if i not in cold))[-MAX_RECENT:]  # a profile's limit
        targets = {i for i in s if i in cold}
        profile = UserProfile(recent_items=tuple(RecentItem(i) for i in warm))
        cases.append(Case(u, "B", "cold-only", profile, Filters(candidates=tuple(sorted(cold))), targets))
        cases.append(Case(u, "B", "full", profile, Filters(), targets))
    return cases


def request_type(profile: UserProfile, new_items_only: bool) -> str:
    """What a request gives: "k0".."k3" known items, "long" more, "+interests", "+text" (free text),
    "+demographics"; a request that allows only new items (no allowed item has a user in the logs) is
    "new-items"."""
    if new_items_only:
        return NEW_ITEMS
    n = len(profile.recent_items)
    key = LONG if n > MAX_COLD_KNOWN else f"k{n}"
    if profile.interests:
        key += "+interests"
    if profile.free_text:
        key += TEXT
    if any(getattr(profile, f) is not None for f in DEMOGRAPHICS):
        key += "+demographics"
    return key
