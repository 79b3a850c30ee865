"""UserProfile: what a shop knows of a new user (demographics, interests, free text, a few items)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..errors import ProfileError

MAX_TEXT = 2000  # characters of free text; longer text is a paste, not a profile
MAX_FIELD = 200  # characters of gender, location, occupation, each interest and each excluded brand
MAX_INTERESTS = 50
MAX_RECENT = 50


def parse_age(value: Any) -> int | None:
    """Years from an age as shops' users files write it: 34, 34.0, "34", a band "25-34" or "35+" (its lower
    bound, as MovieLens codes its age groups), "under 18" or "<18" (17). None where no age from 0 to 120 can
    be read ("unknown", "", a birth year, a bool)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):  # compared as an int: float() of one past 1e308 overflows
        years = float(value) if 0 <= value <= 120 else -1.0
    elif isinstance(value, float):
        years = value if math.isfinite(value) else -1.0
    else:
        text = str(value).strip().lower()
        m = re.search(r"-?\d+(?:\.\d+)?", text)
        if m is None:
            return None
        below = text[:m.start()].strip() in ("under", "below", "less than", "younger than", "<")
        years = float(m.group()) - below
    return int(years) if 0 <= years <= 120 else None


def _number(v, name: str) -> float | None:
    """A finite number, or a ProfileError naming the field (bools, NaN, inf and overflowing ints are not)."""
    if v is None:
        return None
    try:
        ok = not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(float(v))
    except OverflowError:
        ok = False
    if not ok:
        raise ProfileError(f"{name} must be a finite number, got {str(v)[:40]!r}")
    return v


@dataclass(frozen=True)
class RecentItem:
    """An item the user touched: its ID, and optionally a rating and when (ISO time or epoch)."""

    item_id: str
    rating: float | None = None
    timestamp: str | None = None

    def __post_init__(self):
        if not isinstance(self.item_id, str) or not self.item_id.strip():
            raise ProfileError(f"recent_items: item_id must be a non-empty string, got {self.item_id!r}")
        if len(self.item_id) > MAX_FIELD:
            raise ProfileError(f"recent_items: item_id has {len(self.item_id)} characters; at most {MAX_FIELD}")
        _number(self.rating, "recent_items: rating")


@dataclass(frozen=True)
class UserProfile:
    """A new user's profile. Every field is optional; an empty profile is valid (pure cold start)."""

    age: int | None = None  # years, 0..120
    gender: str | None = None  # free text as the shop records it
    location: str | None = None
    occupation: str | None = None
    interests: tuple[str, ...] = ()  # stated interests, e.g. ("trail running", "camping")
    free_text: str | None = None  # a sentence the user wrote
    budget: float | None = None  # the most the user wants to pay per item
    recent_items: tuple[RecentItem, ...] = ()  # oldest first
    excluded_brands: tuple[str, ...] = ()

    def __post_init__(self):
        # Accept lists from Python callers; store tuples so a profile is hashable and immutable.
        for name in ("interests", "excluded_brands"):
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        if isinstance(self.recent_items, (str, int)) and not isinstance(self.recent_items, bool):
            object.__setattr__(self, "recent_items", (self.recent_items,))  # one ID, never its characters
        if not isinstance(self.recent_items, (list, tuple)):
            raise ProfileError(f"recent_items must be a list of item IDs or objects, got "
                               f"{type(self.recent_items).__name__}")
        if len(self.recent_items) > MAX_RECENT:
            raise ProfileError(f"recent_items has {len(self.recent_items)} entries; at most {MAX_RECENT}")
        object.__setattr__(self, "recent_items", tuple(_recent(r) for r in self.recent_items))
        if self.age is not None and (isinstance(self.age, bool) or not isinstance(self.age, int)
                                     or not 0 <= self.age <= 120):
            raise ProfileError(f"age must be an integer from 0 to 120, got {str(self.age)[:40]!r}")
        for name in ("gender", "location", "occupation", "free_text"):
            v = getattr(self, name)
            if v is not None and not isinstance(v, str):
                raise ProfileError(f"{name} must be text, got {type(v).__name__}")
            limit = MAX_TEXT if name == "free_text" else MAX_FIELD
            if v is not None and len(v) > limit:
                raise ProfileError(f"{name} has {len(v)} characters; at most {limit} are accepted")
        if _number(self.budget, "budget") is not None and self.budget <= 0:
            raise ProfileError(f"budget must be a positive number, got {self.budget!r}")
        for name, limit in (("interests", MAX_INTERESTS), ("excluded_brands", MAX_INTERESTS)):
            v = getattr(self, name)
            if not isinstance(v, tuple) or not all(isinstance(s, str) and s.strip() for s in v):
                raise ProfileError(f"{name} must be a list of non-empty strings, got {v!r}")
            if len(v) > limit:
                raise ProfileError(f"{name} has {len(v)} entries; at most {limit} are accepted")
            if any(len(x) > MAX_FIELD for x in v):
                raise ProfileError(f"{name}: an entry has more than {MAX_FIELD} characters")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UserProfile:
        if not isinstance(data, dict):
            raise ProfileError(f"a profile must be an object, got {type(data).__name__}")
        if not all(isinstance(k, str) for k in data):
            raise ProfileError("profile field names must be strings")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ProfileError(f"unknown profile field(s) {unknown}; known: {sorted(known)}")
        d = dict(data)
        for name in ("interests", "excluded_brands"):
            v = d.get(name)
            if isinstance(v, str):
                d[name] = tuple(s.strip() for s in v.split(",") if s.strip())
            elif isinstance(v, list):
                d[name] = tuple(s.strip() if isinstance(s, str) else s for s in v)
            elif v is None:
                d.pop(name, None)
        if d.get("recent_items") is None:
            d.pop("recent_items", None)
        if isinstance(d.get("age"), float) and d["age"].is_integer():
            d["age"] = int(d["age"])
        for name in ("gender", "location", "occupation", "free_text"):
            if isinstance(d.get(name), str):
                d[name] = d[name].strip() or None
        return cls(**d)

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> UserProfile:
        """Parse a JSON object, given as text or as a path to a .json file."""
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            if not text.strip() or len(text) > 4096 or "\n" in text:
                raise ProfileError("a profile must be a JSON object or the path of a .json file holding one")
            p = Path(text)
            if not p.is_file():
                raise ProfileError(f"{text[:80]}: no such profile file (or not a JSON object)")
            try:
                text = p.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                raise ProfileError(f"{p}: cannot read the profile file ({type(e).__name__})") from None
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as e:
            raise ProfileError(f"profile is not valid JSON: {e.msg} at line {e.lineno}") from None
        except (ValueError, RecursionError) as e:  # a 4,300+ digit number, nesting thousands deep
            raise ProfileError(f"profile JSON holds an unreadable value ({type(e).__name__})") from None

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["interests"], d["excluded_brands"] = list(self.interests), list(self.excluded_brands)
        d["recent_items"] = [{k: v for k, v in vars(r).items() if v is not None} for r in self.recent_items]
        return {k: v for k, v in d.items() if v not in (None, [], ())}

    def __repr__(self) -> str:
        # Profiles are personal data: keep them out of logs and tracebacks by default.
        return f"UserProfile(<{len(self.to_dict())} fields>)"


def _recent(r: Any) -> RecentItem:
    if isinstance(r, RecentItem):
        return r
    if isinstance(r, (str, int)) and not isinstance(r, bool):
        return RecentItem(item_id=str(r))
    if isinstance(r, dict):
        extra = sorted(set(r) - {"item_id", "rating", "timestamp"})
        if extra:
            raise ProfileError(f"recent_items: unknown field(s) {extra}")
        if "item_id" not in r:
            raise ProfileError("recent_items: an entry lacks item_id")
        ts = r.get("timestamp")
        return RecentItem(item_id=str(r["item_id"]), rating=r.get("rating"),
                          timestamp=None if ts is None else str(ts))
    raise ProfileError(f"recent_items: each entry must be an item ID or an object, got {r!r}")
