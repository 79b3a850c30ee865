"""Supervised examples for adapter training: cold-start users first, plus tasks tying item text to codes.

Examples are (prompt text, target token ids). Recommendation examples mirror evaluation protocol A: a
user's profile with 0-3 known items from the start of the sequence and, half the time, the leaf
categories of the first three items as stated interests; the target is a later item. Item tasks
(text -> code, code -> title) cover every catalog item, so items with few or no interactions (new items)
still get a place the model knows. Explanation targets are the grounded facts of genrec.ranking.explain.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from ..data.cases import cold_profile
from ..data.catalog import Catalog
from ..errors import GenrecError
from ..model.item_ids import ItemCodes
from ..model.prompts import PromptShape, render
from ..model.text_ids import encode
from ..ranking.explain import item_facts

CODE_SLOT = "\x00code\x00"  # where the code_title prompt's code IDs go


@dataclass(frozen=True)
class DataConfig:
    """Mix of training tasks."""

    rec_per_user: int = 4  # recommendation examples per training user
    cold_share: float = 0.8  # share of recommendation examples with 0-3 known items (the rest: longer)
    item_code_per_item: int = 1
    code_title_per_item: int = 1
    explain_share: float = 0.1  # explanation examples per recommendation example
    prompt: PromptShape = PromptShape()  # how prompts show a profile; the adapter records it for serving
    seed: int = 0

    def __post_init__(self):
        if not 0 <= self.cold_share <= 1 or not 0 <= self.explain_share <= 1:
            raise GenrecError("cold_share and explain_share must be within 0..1")
        for name in ("rec_per_user", "item_code_per_item", "code_title_per_item"):
            if getattr(self, name) < 0:
                raise GenrecError(f"{name} must be >= 0")


@dataclass(frozen=True)
class Example:
    task: str  # "rec", "item_code", "code_title" or "explain"
    prompt: str
    target: list[int]  # token ids to learn (loss is on these only)
    # Token ids genrec places after the prompt, then more text: the code_title task shows an item code, which
    # must be IDs because no text may tokenise into a code token (genrec.model.text_ids).
    code: tuple[int, ...] = ()
    suffix: str = ""


def build_examples(catalog: Catalog, sequences: dict[str, list[str]], users: dict[str, dict], codes: ItemCodes,
                   tokenizer, reserved: list[int], cfg: DataConfig = DataConfig()) -> list[Example]:
    rng = random.Random(cfg.seed)
    code_ids = {it.item_id: [reserved[i] for i in codes.token_indices(it.item_id)] for it in catalog}
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []

    def text_ids(text: str) -> list[int]:
        return encode(tokenizer, " " + text + "\n", add_special_tokens=False)

    out: list[Example] = []
    for user, seq in sequences.items():
        fields = users.get(user, {})
        for _ in range(cfg.rec_per_user if len(seq) > 1 else 0):
            if rng.random() < cfg.cold_share:
                k = rng.randint(0, min(3, len(seq) - 1))
            else:
                k = rng.randint(min(4, len(seq) - 1), len(seq) - 1)
            later = [i for i in seq[max(k, 3 if len(seq) > 3 else k):] if i not in seq[:k]] or [seq[k]]
            target = rng.choice(later)
            # The profile evaluation builds (genrec.data.cases), its known items cut to what the prompt shows.
            profile = cold_profile(catalog, fields, seq, k, with_interests=rng.random() < 0.5)
            profile = replace(profile, recent_items=profile.recent_items[-cfg.prompt.max_recent_items:])
            recent = [catalog.get(r.item_id) for r in profile.recent_items]
            prompt = cfg.prompt.recommend(profile, recent)
            out.append(Example("rec", prompt, code_ids[target]))
            if rng.random() < cfg.explain_share:
                item = catalog.get(target)
                facts = item_facts(profile, item, recent)
                out.append(Example("explain", render("explain", profile=profile, item=item, facts=facts),
                                   text_ids(" ".join(facts[:2])) + eos))
    for it in catalog:
        for _ in range(cfg.item_code_per_item):
            out.append(Example("item_code", cfg.prompt.item_code(it), code_ids[it.item_id]))
        head, tail = render("code_title", code=CODE_SLOT).split(CODE_SLOT)
        for _ in range(cfg.code_title_per_item):
            out.append(Example("code_title", head, text_ids(it.display_title) + eos, tuple(code_ids[it.item_id][:-1]),
                               tail))
    rng.shuffle(out)
    if not out:
        raise GenrecError("no training examples: the training users have fewer than 2 interactions each")
    return out
