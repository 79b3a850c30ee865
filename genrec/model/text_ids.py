"""Text to token IDs with no way for text to write a special token.

A tokenizer parses the literal text of its added tokens: "<unused5>" in a shopper's free text or a catalog
title would become an item-code token, "<end_of_turn>" a control token. Every prompt and training text genrec
tokenises goes through `encode`: special tokens in the text are split into ordinary pieces
(`split_special_tokens`), and the added tokens that are not special (Gemma's "[multimodal]") are broken with
a zero-width space. Item codes, BOS and EOS are placed by genrec as IDs, never written as text.
"""

from __future__ import annotations

from functools import lru_cache

BREAK = "\u200b"  # zero-width space: splits a marker's text without changing what a reader sees


@lru_cache(maxsize=8)
def _markers(tokenizer) -> tuple[str, ...]:
    """The non-special added tokens a text could spell (whitespace tokens such as Gemma's newline runs are
    harmless and kept)."""
    added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    return tuple(sorted({t.content for t in added.values() if not t.special and t.content.strip()
                         and len(t.content) > 1}, key=len, reverse=True))


def neutralise(tokenizer, text: str) -> str:
    """`text` with every non-special added token's literal broken, so it tokenises as plain text."""
    for m in _markers(tokenizer):
        if m in text:
            text = text.replace(m, m[0] + BREAK + m[1:])
    return text


def encode(tokenizer, text: str, add_special_tokens: bool = True) -> list[int]:
    """Token IDs of `text` as plain text (BOS added when `add_special_tokens`, as the tokenizer does)."""
    return tokenizer(neutralise(tokenizer, text), add_special_tokens=add_special_tokens,
                     split_special_tokens=True)["input_ids"]


def encode_batch(tokenizer, texts: list[str], **kwargs):
    """`tokenizer(texts, **kwargs)` (padding, tensors) with the same protection as `encode`."""
    return tokenizer([neutralise(tokenizer, t) for t in texts], split_special_tokens=True, **kwargs)


def special_ids(tokenizer) -> set[int]:
    """Every ID text must never produce: the special tokens and the non-whitespace added tokens (less the
    unknown token, which is what unknown text is)."""
    added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    return (set(tokenizer.all_special_ids) | {i for i, t in added.items() if t.content.strip()}) - {
        tokenizer.unk_token_id}


PROBE = "A stainless steel water bottle for trail running, 750 ml."  # ordinary text every tokenizer meets


def tokenizer_fingerprint(tokenizer) -> str:
    """What a prompt becomes under this tokenizer: a hash of a probe sentence's token IDs (BOS included) and the
    vocabulary size. An adapter records it, so one trained under another tokenization (another converter, a
    changed tokenizer file) is refused instead of reading prompts it never saw."""
    import hashlib

    ids = encode(tokenizer, PROBE)
    return hashlib.sha256(f"{len(tokenizer)}:{ids}".encode()).hexdigest()[:16]
