"""Chat turns -> profile and filters: what a shopper's messages mean for the next recommend() call.

Rule-based on purpose: every change it makes is visible and editable in the UI's profile panel, and it
cannot invent anything the shopper did not say. Follow-ups refine the same session state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import numpy as np

from ..data.catalog import Catalog
from ..data.filters import Filters
from ..data.profile import MAX_TEXT, UserProfile
from ..ranking.contract import Recommendation
from .understand import read

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
    """One shopper's session: what they told us, who they shop for, what they rejected, what they were shown."""

    profile: UserProfile = field(default_factory=UserProfile)  # the shopper's own
    not_interested: frozenset[str] = frozenset()
    max_price: float | None = None
    shown: tuple[Recommendation, ...] = ()
    recipient: str | None = None  # "daughter": shopping for someone else (gift mode) while set
    recipient_profile: UserProfile = field(default_factory=UserProfile)
    for_recipient: bool = False
    disliked: frozenset[str] = frozenset()  # items whose text holds a word the shopper said they dislike
    dislikes: tuple[str, ...] = ()
    occasion: str | None = None
    stated_max_price: float | None = None  # the limit the shopper said ("under $80"); "cheaper" moves max_price

    def ranked_profile(self) -> UserProfile:
        """The profile the next list is ranked for: the recipient's in gift mode (with the shopper's budget,
        excluded brands and rejected items), else the shopper's."""
        if not self.for_recipient:
            return self.profile
        r, p = self.recipient_profile, self.profile
        return replace(r, budget=r.budget if r.budget is not None else p.budget,
                       excluded_brands=tuple(dict.fromkeys(r.excluded_brands + p.excluded_brands)),
                       recent_items=r.recent_items)

    def filters(self) -> Filters:
        return Filters(exclude=self.not_interested | self.disliked, max_price=self.max_price)


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


def interpret(message: str, state: ChatState, catalog: Catalog, encoder=None) -> Turn:
    """Apply one shopper message to the session state. `encoder` (the Recommender's text encoder) maps stated
    interests to the catalog's categories by meaning ("drawing" -> a writing-supplies category); without one,
    only by words."""
    polite = check_message(message)
    if polite:
        return Turn(state, polite, recommend=False)
    text = message.strip()
    low = text.lower()
    notes: list[str] = []
    if re.search(r"\b(start over|reset|new search)\b", low):
        return Turn(ChatState(), "Starting over.", recommend=False)
    said = read(text)
    p, rp = state.profile, state.recipient_profile
    recipient, for_recipient = state.recipient, state.for_recipient

    upd: dict = {}
    if said.shopper.age is not None:
        upd["age"] = said.shopper.age
    if said.shopper.gender:
        upd["gender"] = said.shopper.gender
    if said.budget is not None:
        upd["budget"] = said.budget
    new_max = said.max_price if said.max_price is not None else state.max_price
    stated_max = said.max_price if said.max_price is not None else state.stated_max_price
    if said.recipient:
        if said.recipient != state.recipient:
            rp = UserProfile()  # someone new
        recipient, for_recipient = said.recipient, True
        who = said.for_recipient
        rp = replace(rp, age=who.age if who.age is not None else rp.age, gender=who.gender or rp.gender)
        notes.append(f"shopping for your {recipient}" + (f" ({rp.age})" if rp.age is not None else ""))
    elif said.for_self and state.for_recipient:
        for_recipient = False
        notes.append("now something for you")

    if for_recipient != state.for_recipient and said.max_price is None:
        new_max = stated_max  # "cheaper" was about the other person's list
    # Interests: each person's own words, mapped onto the catalog; category names go to the person the words are
    # about (in a message without a recipient, to whoever the list is for).
    mine, mine_notes = map_interests(said.shopper.interests, catalog, encoder)
    theirs, their_notes = map_interests(said.for_recipient.interests, catalog, encoder)
    notes += mine_notes + their_notes

    def named(text: str) -> list[str]:
        return [lvl for lvl in _category_levels(catalog) if re.search(rf"\b{re.escape(lvl.lower())}s?\b", text)]

    if said.recipient:  # categories named in the words about the recipient are theirs, the rest the shopper's
        theirs += named(_positive(said.recipient_text))
        mine += [lvl for lvl in named(_positive(said.own_text)) if lvl not in theirs]
    elif for_recipient:
        theirs += [lvl for lvl in named(_positive(low)) if lvl not in mine]
    else:
        mine += named(_positive(low))
    if mine:
        upd["interests"] = tuple(dict.fromkeys(p.interests + tuple(mine)))[-20:]
    if theirs:
        rp = replace(rp, interests=tuple(dict.fromkeys(rp.interests + tuple(theirs)))[-20:])

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
    dislikes = [d for d in said.dislikes if d.lower() not in brands]
    disliked = set(state.disliked)
    if dislikes:
        hit = _disliked_items(dislikes, catalog)
        if hit:
            disliked |= hit
            notes.append("nothing " + " or ".join(dislikes))

    rejected = set(state.not_interested)
    pick = _shown_pick(low, "not interested in", state)
    if pick:
        rejected.add(pick.item_id)
        notes.append(f"not showing {pick.title} again")
    target = rp if for_recipient else replace(p, **upd)
    recent = list(target.recent_items)
    pick = _shown_pick(low, "(?:more like|similar to|something like)", state)
    if pick:
        recent.append(pick.item_id)
        notes.append(f"more like {pick.title}")
    if recent != [r.item_id for r in target.recent_items]:
        if for_recipient:
            rp = replace(rp, recent_items=tuple(dict.fromkeys(recent)))
        else:
            upd["recent_items"] = tuple(dict.fromkeys(recent))

    if re.search(r"\bcheaper\b|\bless expensive\b|\btoo expensive\b", low):
        prices = [r.price for r in state.shown if r.price is not None]
        if prices:
            new_max = round(0.75 * sum(prices) / len(prices), 2)
            notes.append(f"items under ${new_max:.2f}")
        else:
            notes.append("cheaper items (I need to show you some first)")

    positive = _positive(text).strip()
    if positive and not _is_command(low) and not _SWITCH.fullmatch(low):
        if said.recipient:  # each person's words to their own profile: the dad's cooking is not the daughter's
            theirs_said, own_said = _positive(said.recipient_text).strip(), _positive(said.own_text).strip()
            if theirs_said:
                rp = replace(rp, free_text=_joined(rp.free_text, theirs_said))
            if set(re.findall(r"[a-z']{4,}", own_said)) - _FILLER:
                upd["free_text"] = _joined(p.free_text, own_said)
        elif for_recipient:
            rp = replace(rp, free_text=_joined(rp.free_text, positive))
        else:
            upd["free_text"] = _joined(p.free_text, positive)
    profile = replace(p, **upd)
    if new_max is not None and new_max != state.max_price and not any("under $" in n for n in notes):
        notes.append(f"items under ${new_max:.2f}")
    if said.occasion:
        notes.append(f"for a {said.occasion}")
    state = replace(state, profile=profile, max_price=new_max, not_interested=frozenset(rejected),
                    recipient=recipient, recipient_profile=rp, for_recipient=for_recipient,
                    disliked=frozenset(disliked), dislikes=tuple(dict.fromkeys(state.dislikes + tuple(dislikes))),
                    occasion=said.occasion or state.occasion, stated_max_price=stated_max)
    return Turn(state, "; ".join(notes))


_FILLER = {"something", "anything", "looking", "gift", "present", "need", "find", "show", "hello", "please", "thanks",
           "some", "ideas", "shopping", "want", "would", "like", "good", "nice", "what", "with", "that", "this"}
_SWITCH = re.compile(r"\W*(?:ok(?:ay)?,? |now,? |and )*(?:show me |find me )?(?:something|anything|some(?:thing)? "
                     r"(?:stuff|ideas)) for (?:me|myself)(?: now| too| please| instead)?\W*")


def _joined(old: str | None, new: str) -> str:
    return (f"{old} {new}".strip() if old else new)[-MAX_TEXT:]


_NOT_WORDS = {"colours", "colors", "colour", "color", "stuff", "things", "anything", "products", "items", "much",
              "more", "kind", "kinds", "type", "types", "ones", "that", "this", "those", "these"}


def _disliked_items(phrases: list[str], catalog: Catalog) -> set[str]:
    """Items whose title or category holds a word of what the shopper dislikes ("no plastic", "hate pink")."""
    words = {w for p in phrases for w in re.findall(r"[a-z]+", p.lower()) if len(w) > 3 and w not in _NOT_WORDS}
    if not words:
        return set()
    pat = re.compile(r"\b(?:" + "|".join(re.escape(w.rstrip("s")) for w in sorted(words)) + r")(?:s|es)?\b", re.I)
    return {it.item_id for it in catalog if pat.search(f"{it.title} {it.category_str}")}


# Cosine similarity (text encoder) from which a stated interest counts as naming a category; below it, the
# interest is kept in the shopper's own words (the text and lexical parts of the prior still use them). Chosen on
# the demo's development messages, never on the held-out set (benchmarks/chat_understanding.py).
MATCH_SIMILARITY = 0.45
_EMB: dict[tuple[str, str], tuple[list[str], np.ndarray]] = {}


def map_interests(phrases: list[str], catalog: Catalog, encoder=None) -> tuple[list[str], list[str]]:
    """Stated interests -> the catalog's category names (by words, else by meaning), and notes for the ones
    mapped by meaning ("drawing -> Writing Supplies")."""
    levels = _category_levels(catalog)
    out, notes = [], []
    for phrase in phrases:
        stem = phrase.lower().rstrip("s")
        exact = [lvl for lvl in levels if re.search(rf"\b{re.escape(stem)}(?:s|es)?\b", lvl.lower())
                 or lvl.lower().rstrip("s") in phrase.lower()]
        if exact:  # the broadest category that names it ("yoga": Yoga & Fitness, not Yoga Mat)
            sizes = _levels(catalog)[1]
            out.append(max(exact, key=lambda lvl: (sizes.get(lvl, 0), -len(lvl))))
            continue
        best = _nearest(phrase, levels, catalog, encoder)
        if best is not None:
            out.append(best)
            notes.append(f"{phrase} -> {best}")
        else:
            out.append(phrase.title())
    return list(dict.fromkeys(out)), notes


def _nearest(phrase: str, levels: list[str], catalog: Catalog, encoder) -> str | None:
    if encoder is None or not levels:
        return None
    key = (catalog.fingerprint(), getattr(encoder, "name", type(encoder).__name__))
    if key not in _EMB:
        vecs = np.asarray(encoder.encode(levels), dtype=np.float32)
        _EMB[key] = (levels, vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12))
    names, vecs = _EMB[key]
    q = np.asarray(encoder.encode([phrase]), dtype=np.float32)[0]
    sims = vecs @ (q / max(np.linalg.norm(q), 1e-12))
    j = int(np.argmax(sims))
    return names[j] if sims[j] >= MATCH_SIMILARITY else None


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


_LEVELS: dict[str, tuple[list[str], dict[str, int]]] = {}


def _levels(catalog: Catalog) -> tuple[list[str], dict[str, int]]:
    """Category names worth matching as interests (specific levels, not departments), and items per level."""
    key = catalog.fingerprint()
    if key not in _LEVELS:
        names = {lvl for it in catalog for lvl in it.category[1:]} or {lvl for it in catalog for lvl in it.category}
        sizes: dict[str, int] = {}
        for it in catalog:
            for lvl in set(it.category):
                sizes[lvl] = sizes.get(lvl, 0) + 1
        _LEVELS[key] = (sorted(n for n in names if len(n) > 2), sizes)
    return _LEVELS[key]


def _category_levels(catalog: Catalog) -> list[str]:
    return _levels(catalog)[0]
