"""Chat turns -> profile and filters: what a shopper's messages mean for the next recommend() call.

Rule-based on purpose: every change it makes is visible and editable in the UI's profile panel, and it
cannot invent anything the shopper did not say. Follow-ups refine the same session state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from ..data.catalog import Catalog
from ..data.filters import Filters
from ..data.profile import MAX_TEXT, UserProfile
from ..ranking.contract import Recommendation

MAX_MESSAGE = 10_000
_INJECTION = re.compile(r"ignore (all |any |the )?(previous|prior|above) (instructions|prompts?)|system prompt|"
                        r"you are now|disregard (all|your) |jailbreak|act as (an? )?(ai|assistant|system)", re.I)
_NEGATION = re.compile(r"\b(hate|hates|don'?t like|do not like|dislike|no|not|avoid|without|except|can'?t stand)\b",
                       re.I)
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
             "fifth": 5, "5th": 5, "last": -1}
_RECIPIENTS = {"daughter": "female", "wife": "female", "girlfriend": "female", "mom": "female",
               "mother": "female", "sister": "female", "niece": "female", "son": "male", "husband": "male",
               "boyfriend": "male", "dad": "male", "father": "male", "brother": "male", "nephew": "male"}


@dataclass(frozen=True)
class ChatState:
    """One shopper's session: what they told us, what they rejected, what they were shown."""

    profile: UserProfile = field(default_factory=UserProfile)
    not_interested: frozenset[str] = frozenset()
    max_price: float | None = None
    shown: tuple[Recommendation, ...] = ()

    def filters(self) -> Filters:
        return Filters(exclude=self.not_interested, max_price=self.max_price)


@dataclass(frozen=True)
class Turn:
    state: ChatState
    note: str  # what genrec understood, shown to the shopper
    recommend: bool = True  # False: answer with `note` only (empty, huge or hostile message)


def check_message(message: str | None) -> str | None:
    """A polite answer for a message genrec will not act on, or None."""
    if message is None or not message.strip():
        return "Tell me a little about yourself or what you are shopping for, and I'll suggest products."
    if len(message) > MAX_MESSAGE:
        return (f"That message is {len(message):,} characters long; please keep it under {MAX_MESSAGE:,} "
                "and tell me what you are looking for.")
    if _INJECTION.search(message):
        return "I can only recommend products from this shop. What are you looking for?"
    return None


def interpret(message: str, state: ChatState, catalog: Catalog) -> Turn:
    """Apply one shopper message to the session state."""
    polite = check_message(message)
    if polite:
        return Turn(state, polite, recommend=False)
    text = message.strip()
    low = text.lower()
    p = state.profile
    notes: list[str] = []
    if re.search(r"\b(start over|reset|new search)\b", low):
        return Turn(ChatState(), "Starting over.", recommend=False)

    upd: dict = {}
    m = re.search(r"\b(?:i'?m|i am|aged?)\s+(\d{1,3})\b", low) or re.search(r"\b(\d{1,3})\s*(?:years? old|y/?o)\b", low)
    if m and 0 < int(m.group(1)) <= 120:
        upd["age"] = int(m.group(1))
    m = re.search(r"\bi'?m an? (woman|man|girl|guy|mom|dad|mother|father)\b", low)
    if m:
        upd["gender"] = "female" if m.group(1) in ("woman", "girl", "mom", "mother") else "male"
    m = re.search(r"budget (?:is |of |about |around |~|roughly )*\$?\s?(\d+(?:\.\d+)?)", low) or \
        re.search(r"\babout \$(\d+(?:\.\d+)?)", low)
    if m:
        upd["budget"] = float(m.group(1))
    m = re.search(r"\b(?:under|below|less than|max(?:imum)?|at most) \$?\s?(\d+(?:\.\d+)?)", low)
    new_max = float(m.group(1)) if m else state.max_price
    for word, gender in _RECIPIENTS.items():
        if re.search(rf"\bfor my {word}\b", low):
            upd["gender"] = gender
            upd["age"] = None  # the shopper's own age no longer describes who it is for
            notes.append(f"shopping for your {word}")
            break

    brands = {b.lower(): b for b in (it.brand for it in catalog) if b}
    excluded = list(p.excluded_brands)
    if re.search(r"\bnot that brand\b|\bno more of that brand\b", low) and state.shown:
        excluded.append(state.shown[0].brand or "")
    for b_low, b in brands.items():
        if re.search(rf"\b(?:not|no|hate|avoid|without|except)\s+(?:any\s+)?{re.escape(b_low)}\b", low):
            excluded.append(b)
    excluded = [b for b in dict.fromkeys(excluded) if b]
    if excluded != list(p.excluded_brands):
        upd["excluded_brands"] = tuple(excluded)
        notes.append("leaving out " + ", ".join(excluded))

    rejected = set(state.not_interested)
    pick = _shown_pick(low, "not interested in", state)
    if pick:
        rejected.add(pick.item_id)
        notes.append(f"not showing {pick.title} again")
    recent = list(p.recent_items)
    pick = _shown_pick(low, "(?:more like|similar to|something like)", state)
    if pick:
        recent.append(pick.item_id)
        notes.append(f"more like {pick.title}")
    if recent != [r.item_id for r in p.recent_items]:
        upd["recent_items"] = tuple(dict.fromkeys(recent))

    if re.search(r"\bcheaper\b|\bless expensive\b|\btoo expensive\b", low):
        prices = [r.price for r in state.shown if r.price is not None]
        if prices:
            new_max = round(0.75 * sum(prices) / len(prices), 2)
            notes.append(f"items under ${new_max:.2f}")
        else:
            notes.append("cheaper items (I need to show you some first)")

    interests = list(p.interests)
    for level in _category_levels(catalog):
        if re.search(rf"\b{re.escape(level.lower())}s?\b", _positive(low)) and level not in interests:
            interests.append(level)
    if interests != list(p.interests):
        upd["interests"] = tuple(interests[-20:])
    said = _positive(text).strip()
    if said and not _is_command(low):
        free = f"{p.free_text} {said}".strip() if p.free_text else said
        upd["free_text"] = free[-MAX_TEXT:]
    profile = replace(p, **upd)
    if new_max is not None and new_max != state.max_price and not notes:
        notes.append(f"items under ${new_max:.2f}")
    return Turn(replace(state, profile=profile, max_price=new_max, not_interested=frozenset(rejected)),
                "; ".join(notes))


_ORDINAL = "|".join(_ORDINALS)


def _shown_pick(low: str, lead: str, state: ChatState) -> Recommendation | None:
    """The shown card a phrase like "<lead> the second one" or "<lead> #2" points at, if any."""
    m = re.search(rf"\b{lead} (?:the )?({_ORDINAL})(?: one)?\b", low) or \
        re.search(rf"\b{lead} (?:#|number |no\.? ?)(\d+)\b", low)
    if not m or not state.shown:
        return None
    idx = _ORDINALS.get(m.group(1)) or int(m.group(1))
    if idx == 0 or idx > len(state.shown):
        return None
    return state.shown[idx - 1 if idx > 0 else -1]


def not_interested(state: ChatState, item_id: str) -> ChatState:
    return replace(state, not_interested=state.not_interested | {item_id},
                   shown=tuple(r for r in state.shown if r.item_id != item_id))


def _positive(text: str) -> str:
    """The message without its negative sentences ("I hate bright colours" says what not to show)."""
    parts = re.split(r"(?<=[.!?;,])\s+|\bbut\b", text)
    return " ".join(s for s in parts if not _NEGATION.search(s))


def _is_command(low: str) -> bool:
    return bool(re.fullmatch(r"\W*(cheaper|less expensive|more like .*|not that brand|something cheaper|"
                             r"not interested in .*)\W*", low))


_LEVELS: dict[str, list[str]] = {}


def _category_levels(catalog: Catalog) -> list[str]:
    """Category names of the catalog worth matching as interests (specific levels, not departments)."""
    key = catalog.fingerprint()
    if key not in _LEVELS:
        names = {lvl for it in catalog for lvl in it.category[1:]} or {lvl for it in catalog for lvl in it.category}
        _LEVELS[key] = sorted(n for n in names if len(n) > 2)
    return _LEVELS[key]
