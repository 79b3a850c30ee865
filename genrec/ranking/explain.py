"""Explanations: true facts about a (profile, item) pair, phrased by the model and checked for grounding.

An explanation may only state what the profile or the item data say. `item_facts` builds such statements
from exact matches. The model is asked to phrase them (one batch for all K items); its sentence is kept
only if every number and content word in it occurs in the profile, the item or the facts, otherwise the
facts themselves are the explanation. `Explanation.source` says which one the caller got.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from ..data.catalog import Item
from ..data.profile import UserProfile
from ..model.prompts import render
from ..model.text_ids import encode_batch

_WORD = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")
# Words any explanation may use without a source: connectives and the vocabulary of recommending.
_FREE = set("""a an the and or but so as at by for from in into of on to with without this that these those it
its it's is are was be been being you your you're yours they them their we our i me my he she his her can could
will would may might should must do does did has have had not no very more most less also too just because
since while which who what when where why how than then there here all any each both some such great good nice
perfect ideal well best better fits fit fitting suits suit suited matches match matching makes make made keep
keeps help helps use used using like likes love loves need needs want wants choice option pick product products
item items buy bought looked viewed recommend recommended recommendation interest interests interested budget
price priced cost costs within under below about around only one two new customer customers shopper someone day
everyday daily work home quality""".split())


@dataclass(frozen=True)
class Explanation:
    text: str
    source: str  # "model": the model's sentence passed the grounding check; "facts": built from facts


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _stem(w: str) -> str:
    for suffix in ("ies", "es", "s", "ing", "ed"):
        if len(w) > len(suffix) + 2 and w.endswith(suffix):
            return w[: -len(suffix)]
    return w


def _item_words(item: Item) -> set[str]:
    text = " ".join([item.title, item.description, " ".join(item.category), item.brand or "",
                     " ".join(f"{k} {v}" for k, v in item.attributes.items())])
    return {_stem(w) for w in _words(text)}


def item_facts(profile: UserProfile, item: Item, recent: list[Item]) -> list[str]:
    """True statements linking the profile to the item, most specific first; never empty."""
    facts: list[str] = []
    words = _item_words(item)
    matched = [i for i in profile.interests
               if (iw := [_stem(w) for w in _words(i) if len(w) > 2]) and all(w in words for w in iw)]
    if matched:  # the most specific interest says the most
        facts.append(f"It matches your interest in {max(matched, key=len)}.")
    ages = re.search(r"\bages? (\d{1,2})\s*(?:\+|and up|-\s*(\d{1,2}))", " ".join(item.attributes.values()) + " " +
                     item.title, re.I)
    if ages and profile.age is not None and int(ages.group(1)) <= profile.age <= int(ages.group(2) or 120):
        facts.append(f"It is made for ages {ages.group(1)}{'-' + ages.group(2) if ages.group(2) else '+'}, "
                     f"which fits age {profile.age}.")
    if profile.budget is not None and item.price is not None and item.price <= profile.budget:
        facts.append(f"At ${item.price:.2f} it is within your budget of ${profile.budget:.2f}.")
    for r in reversed(recent):
        if item.category and r.category and r.category[-1] == item.category[-1] and r.item_id != item.item_id:
            facts.append(f"It is in {item.category[-1]}, like {r.display_title}, which you looked at.")
            break
    for r in reversed(recent):
        if item.brand and r.brand == item.brand and r.item_id != item.item_id:
            facts.append(f"It is made by {item.brand}, like {r.display_title}.")
            break
    if profile.free_text:
        covered = {_stem(w) for i in matched for w in _words(i)}
        said = [w for w in dict.fromkeys(_words(profile.free_text))
                if len(w) > 3 and w not in _FREE and _stem(w) not in covered]
        hits = [w for w in said if _stem(w) in words][:3]
        if hits:
            facts.append(f"It relates to what you wrote: {', '.join(hits)}.")
    facts.append(about_item(item))
    return facts


def about_item(item: Item) -> str:
    """One true, specific sentence about the item from its own data (what it is made for and its first feature,
    else the description's first sentence, else its attributes): what a shop assistant would point out."""
    d = " ".join(item.description.split())
    made = re.search(r"\bmade for ([^.;]{3,80})", d, re.I)
    feats = re.search(r"\bfeatures? ([^.;]{3,200})", d, re.I)
    first = re.split(r",\s*|\s+and\s+", feats.group(1))[0].strip() if feats else ""
    if made:
        return f"Made for {made.group(1).strip()}" + (f", with {first}." if first else ".")
    sentence = re.split(r"(?<=[.!?])\s", d)[0].strip() if d else ""
    if 10 <= len(sentence) <= 160:
        return sentence if sentence[-1] in ".!?" else sentence + "."
    attrs = [f"{k.lower()} {v}" for k, v in item.attributes.items() if len(v) < 40][:3]
    leaf = item.category[-1] if item.category else "item"
    if attrs:
        return f"This {leaf.lower()} comes with {', '.join(attrs)}."
    return f"A {leaf.lower()} by {item.brand}." if item.brand else f"{item.display_title}."


def is_grounded(sentence: str, sources: list[str], item: Item, copied: list[str] = ()) -> bool:
    """True if `sentence` names the item, copies none of `copied` (the user's own words) and every number
    and content word in it occurs in the sources."""
    src_words = {_stem(w) for s in sources for w in _words(s)}
    src_text = " ".join(sources).lower()
    words = _words(sentence)
    if len(words) < 4:
        return False
    about_item = {_stem(w) for w in _words(" ".join([item.title, item.brand or "", *item.category]))} - _FREE
    if not any(_stem(w) in about_item for w in words):
        return False
    if any(c and _words(c) and " ".join(_words(c)) in " ".join(words) for c in copied):
        return False
    for w in words:
        if any(c.isdigit() for c in w):
            if w not in src_text:
                return False
        elif w not in _FREE and _stem(w) not in src_words:
            return False
    return True


def _profile_sources(profile: UserProfile) -> list[str]:
    return [str(v) for v in (profile.free_text, profile.occupation, profile.location, profile.gender,
                             profile.age, profile.budget) if v is not None] + list(profile.interests)


def whole_sentences(text: str) -> str:
    """`text` cut after its last full stop, question or exclamation mark ("" if it has none): a generation
    stopped by the token limit mid-sentence ("It is made by Keyforge,") shows only what it finished."""
    cut = max(text.rfind(c) for c in ".!?")
    return text[: cut + 1] if cut >= 0 else ""


@torch.inference_mode()
def explain_items(model, tokenizer, profile: UserProfile, items: list[Item], recent: list[Item],
                  max_new_tokens: int = 32) -> list[Explanation]:
    """One explanation per item; the K prompts run as one left-padded batch through `generate`."""
    from transformers import GenerationConfig

    facts = [item_facts(profile, it, recent) for it in items]
    # Without the model: the most specific link to the shopper, then what is particular to the item.
    fallback = [Explanation(f[0] if len(f) == 1 else f"{f[0]} {f[-1]}", "facts") for f in facts]
    if max_new_tokens <= 0 or not items:
        return fallback
    prompts = [render("explain", profile=profile, item=it, facts=f) for it, f in zip(items, facts)]
    # padding_side per call, not by setting the shared tokenizer's attribute: concurrent requests share it.
    enc = encode_batch(tokenizer, prompts, return_tensors="pt", padding=True, padding_side="left").to(model.device)
    # An explicit config: greedy, so sampling settings shipped with a model never apply here.
    # A newline ends the sentence: make it an end token so each row stops as soon as its line is done.
    newline = tokenizer.encode("\n", add_special_tokens=False)
    eos = [tokenizer.eos_token_id] + (newline if len(newline) == 1 else [])
    gen = GenerationConfig(do_sample=False, num_beams=1, max_new_tokens=max_new_tokens,
                           pad_token_id=tokenizer.pad_token_id, eos_token_id=eos)
    out = model.generate(**enc, generation_config=gen)
    texts = tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    result = []
    for text, it, f, fb in zip(texts, items, facts, fallback):
        sentence = whole_sentences(text.strip().split("\n")[0].strip().lstrip("-* ").strip('"'))
        sources = _profile_sources(profile) + [it.text(10_000)] + f + [r.display_title for r in recent]
        ok = is_grounded(sentence, sources, it, copied=[profile.free_text or ""])
        result.append(Explanation(sentence, "model") if ok else fb)
    return result
