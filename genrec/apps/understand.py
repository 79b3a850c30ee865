"""What one shopper message says, as fields: the shopper's own age and gender, who the shopping is for (with
their age, gender and interests kept apart), interests, budget, price limit, dislikes, occasion.

Rules, on purpose: each field is visible and editable in the UI panel and none can be invented. Measured on
held-out messages with their true fields (benchmarks/chat_understanding.py, results/chat_understanding.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_UNITS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve thirteen "
                                     "fourteen fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * (i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
_NUMBER = (r"(?:\d{1,3}|(?:" + "|".join(_TENS) + r")(?:[- ](?:" + "|".join(list(_UNITS)[1:10]) + r"))?|"
           + "|".join(_UNITS) + ")")
_DECADE = {"twenties": 25, "thirties": 35, "forties": 45, "fifties": 55, "sixties": 65, "seventies": 75,
           "eighties": 85, "teens": 16}
RELATIONS = {  # who a gift is for -> their gender (None: not implied)
    "daughter": "female", "wife": "female", "girlfriend": "female", "mom": "female", "mum": "female",
    "mother": "female", "sister": "female", "niece": "female", "grandma": "female", "grandmother": "female",
    "granddaughter": "female", "aunt": "female", "girl": "female",
    "son": "male", "husband": "male", "boyfriend": "male", "dad": "male", "father": "male", "brother": "male",
    "nephew": "male", "grandpa": "male", "grandfather": "male", "grandson": "male", "uncle": "male", "boy": "male",
    "kid": None, "child": None, "partner": None, "friend": None, "colleague": None, "boss": None, "teen": None,
    "teenager": None, "baby": None, "toddler": None, "neighbour": None, "neighbor": None,
}
_SELF_GENDER = {"woman": "female", "girl": "female", "mom": "female", "mum": "female", "mother": "female",
                "wife": "female", "lady": "female", "man": "male", "guy": "male", "dad": "male", "father": "male",
                "husband": "male", "gentleman": "male", "female": "female", "male": "male"}
OCCASIONS = ("birthday", "christmas", "anniversary", "wedding", "graduation", "mother's day", "father's day",
             "valentine", "housewarming", "retirement", "baby shower", "holiday")
_REL = "|".join(sorted(RELATIONS, key=len, reverse=True))
_LIKE = r"(?:love|loves|loving|like|likes|enjoy|enjoys|into|interested in|fan of|obsessed with|passionate about|" \
        r"crazy about|hobby is|hobbies are|play|plays|started|starting|getting into|took up|taking up|new to|" \
        r"learning|practice|practise|collects?|mad about|weekends on|evenings on|time on|hobbies:?|hobby:?|" \
        r"obsessed with|huge|big)"
_CLAUSE_END = r"(?:[.!?;]|\bbut\b|\bbudget\b|\bunder\b|\bbelow\b|\bless than\b|\bno more\b|\bnot more\b|" \
              r"\bat most\b|\bmax\b|\bup to\b|\baround\b|\babout\b|\$|\d|$)"
_DISLIKE = r"(?:hate|hates|dislike|dislikes|don'?t like|doesn'?t like|do not like|not into|can'?t stand|no more|" \
           r"avoid|allergic to|nothing|no)"
_STOP = {"the", "a", "an", "my", "his", "her", "their", "on", "in", "at", "with", "for", "every", "all", "of",
         "lately", "recently", "weekends", "weekend", "too", "also", "very", "much", "really", "so", "stuff",
         "things", "and", "or", "but", "to", "it", "is", "are", "be", "now", "these", "days", "right"}
_MONEY = r"\$?\s?(\d+(?:\.\d+)?)\s*(?:dollars|bucks|usd|\$)?"


@dataclass
class Person:
    age: int | None = None
    gender: str | None = None
    interests: list[str] = field(default_factory=list)


@dataclass
class Reading:
    """One message, read. Empty fields: the message did not say."""

    shopper: Person = field(default_factory=Person)
    recipient: str | None = None  # "daughter", "dad"... when shopping for someone else
    for_recipient: Person = field(default_factory=Person)
    for_self: bool = False  # "now something for me"
    budget: float | None = None  # soft: "around $40", "budget 40"
    max_price: float | None = None  # hard: "under 100 bucks", "no more than 30"
    dislikes: list[str] = field(default_factory=list)
    occasion: str | None = None
    recipient_text: str = ""  # the words about the recipient ("my daughter (8) is into drawing")
    own_text: str = ""  # the rest of the message


def number(text: str) -> int | None:
    """'45', 'forty-five', 'eight' -> int."""
    t = text.strip().lower()
    if t.isdigit():
        return int(t)
    parts = re.split(r"[- ]", t)
    if parts[0] in _TENS:
        return _TENS[parts[0]] + (_UNITS.get(parts[1], 0) if len(parts) > 1 else 0)
    return _UNITS.get(t)


def _age(span: str) -> int | None:
    m = re.search(rf"\b({_NUMBER})[- ]?(?:years?|yrs?)[- ]?old\b|\b({_NUMBER})\s?(?:yo|y/o)\b|\baged? ({_NUMBER})\b"
                  rf"|\((\d{{1,2}})\)|\bis ({_NUMBER})\b(?! (?:dollars|bucks|\$))|,\s?(\d{{1,2}})\s?,", span)
    if m:
        n = number(next(g for g in m.groups() if g))
        return n if n is not None and 0 < n <= 120 else None
    m = re.search(r"\bin (?:my|his|her|their) (early |mid |late )?(twenties|thirties|forties|fifties|sixties|"
                  r"seventies|eighties|teens)\b", span)
    if m:
        return _DECADE[m.group(2)] + {"early ": -3, "mid ": 0, "late ": 3}.get(m.group(1) or "mid ", 0)
    return None


def _phrases(clause: str) -> list[str]:
    """'cooking on weekends and drawing' after a liking verb -> ['cooking', 'drawing']."""
    out = []
    for part in re.split(r",|\band\b|\bor\b|&|/", clause):
        words = []
        for w in re.findall(r"[a-z][a-z'-]*", part):
            if w in _STOP:
                if words:
                    break
                continue
            words.append(w)
            if len(words) == 3:
                break
        if words:
            out.append(" ".join(words))
    return out


def _interests(clause: str) -> list[str]:
    found = []
    for m in re.finditer(rf"\b{_LIKE}\s+(.+?){_CLAUSE_END}", clause):
        found += _phrases(m.group(1))
    return found


def read(message: str) -> Reading:
    """The fields one message states (see Reading)."""
    low = " " + re.sub(r"\s+", " ", message.lower()).strip() + " "
    r = Reading()
    if re.search(r"\b(?:for|about) (?:me|myself)\b|\bmy turn\b|\bback to me\b|\bmyself\b", low):
        r.for_self = True
    # Who else: "my daughter (8)", "a gift for my dad", "my 8 year old son", "my daughter is 8 and loves drawing"
    m = re.search(rf"\b(?:my|our|for an?|gift for|present for)\s+(?:({_NUMBER})[- ]?(?:years?|yrs?)[- ]?old\s+)?"
                  rf"(?:little\s+|teenage\s+)?({_REL})s?\b", low)
    rest = low
    if m and not r.for_self:
        r.recipient = m.group(2)
        clause_end = re.search(r"[.!?;]|\bbut\b|\bi'?m\b|\bi am\b|\bi\b|\bbudget\b", low[m.end():])
        clause = low[m.end(): m.end() + (clause_end.start() if clause_end else len(low))]
        r.for_recipient.age = number(m.group(1)) if m.group(1) else _age(clause)
        r.for_recipient.gender = RELATIONS[r.recipient]
        r.for_recipient.interests = _interests(clause)
        if r.for_recipient.age is None:
            m2 = re.search(rf"\b(?:he|she|they)(?:'s| is| are|'re) ({_NUMBER})\b", clause)
            r.for_recipient.age = number(m2.group(1)) if m2 else None
        rest = low[: m.start()] + " " + low[m.end() + len(clause):]
        r.recipient_text = low[m.start(): m.end() + len(clause)]
    # The shopper: "I'm 45", "45 year old dad", "in my forties", "I'm a woman"
    own = re.sub(rf"\bmy\s+\S+\s+(?:is|are)\s+{_NUMBER}\b", " ", rest)
    m = re.search(rf"\b(?:i'?m|i am|im)\s+(?:an?\s+)?({_NUMBER})\b(?!\s*(?:dollars|bucks|\$|%))", own)
    r.shopper.age = number(m.group(1)) if m else None
    if r.shopper.age is None:
        m = re.search(r"(?:^|[\s,.!])(?:age|aged) (\d{1,3})\b|\b(\d{1,3}) here\b", own)
        r.shopper.age = int(m.group(1) or m.group(2)) if m else None
    if r.shopper.age is None:
        r.shopper.age = _age(re.sub(r"\((\d{1,2})\)|\bis \S+", " ", own))
    if r.shopper.age is not None and not 0 < r.shopper.age <= 120:
        r.shopper.age = None
    m = re.search(r"\b(?:i'?m|i am|im)\s+(?:an?\s+)?(?:\S+\s+){0,4}?(" + "|".join(_SELF_GENDER) + r")\b", own) or \
        re.search(rf"\b{_NUMBER}[- ]?(?:years?|yrs?)[- ]?old\s+(" + "|".join(_SELF_GENDER) + r")\b", own)
    m = m or re.search(r"(?:^|[,.!]\s*|\bhere,?\s+)an? (" + "|".join(_SELF_GENDER) + r")\b", own)
    if m:
        r.shopper.gender = _SELF_GENDER[m.group(1)]
    r.shopper.interests = _interests(own)
    r.own_text = rest
    # Money: a hard limit ("under 100 bucks") or a soft budget ("around $40")
    m = re.search(rf"\b(?:under|below|less than|no more than|not more than|at most|max(?:imum)?|up to|cheaper than|"
                  rf"within|tops|nothing (?:over|above|more than)|not over)\s+{_MONEY}", low)
    if m:
        r.max_price = float(m.group(1))
    m = re.search(rf"\bbudget(?: is| of| about| around| roughly| ~|:)*\s*{_MONEY}", low) or \
        re.search(r"\b(?:around|about|roughly|approximately|~)\s*\$\s?(\d+(?:\.\d+)?)", low) or \
        re.search(r"\b(?:around|about|roughly)\s+(\d+(?:\.\d+)?)\s*(?:dollars|bucks)", low) or \
        re.search(r"\$(\d+(?:\.\d+)?)\s*-?\s*(?:or so|ish|budget)", low) or \
        re.search(r"\b(\d+(?:\.\d+)?)\s*(?:dollar|\$) mark\b", low)
    if m:
        r.budget = float(m.group(1))
    elif r.max_price is not None:
        r.budget = r.max_price
    no_money = re.sub(rf"\b(?:no|not) more than\s+{_MONEY}", " ", low)
    for m in re.finditer(rf"\b{_DISLIKE}\s+(.+?)(?:[.!?;,]|\bbut\b|\band\b|$)", no_money):
        r.dislikes += [p for p in _phrases(m.group(1)) if p not in RELATIONS]
    r.dislikes = list(dict.fromkeys(r.dislikes))
    for occ in OCCASIONS:
        if occ in low:
            r.occasion = occ
            break
    liked = set(r.dislikes)
    r.shopper.interests = [i for i in dict.fromkeys(r.shopper.interests) if i not in liked]
    r.for_recipient.interests = [i for i in dict.fromkeys(r.for_recipient.interests) if i not in liked]
    return r
