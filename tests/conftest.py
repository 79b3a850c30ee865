"""Shared fixtures: a tiny tokenizer with reserved tokens, a tiny random Gemma 3, a fast text encoder."""

from __future__ import annotations

import re
import zlib

import numpy as np
import pytest
import torch

from genrec import Catalog, CodeConfig, Recommender, RecommenderConfig, SearchConfig
from genrec.api import demo_catalog

N_RESERVED = 120
TINY_CODES = CodeConfig(branching=8, max_depth=10)  # needs 1 + 8 * 10 = 81 reserved tokens


class HashEncoder:
    """Bag-of-words hashing encoder: deterministic, instant, similar texts get similar vectors."""

    name = "hash-test"

    def __init__(self, dim: int = 64):
        self.dim = dim

    def encode(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"[a-z]+", t.lower()):
                out[i, zlib.crc32(w.encode()) % self.dim] += 1.0
            out[i] /= max(np.linalg.norm(out[i]), 1e-9)
        return out


def make_tokenizer(corpus: list[str], n_reserved: int = N_RESERVED):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = sorted({w for t in corpus for w in re.findall(r"\w+|[^\w\s]", t)})
    specials = ["<pad>", "<eos>", "<bos>", "<unk>"] + [f"<unused{i}>" for i in range(n_reserved)]
    vocab = {tok: i for i, tok in enumerate(specials + words)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>",
                                   pad_token="<pad>", unk_token="<unk>")
    fast.add_special_tokens({"additional_special_tokens": specials[4:]})
    return fast


def make_tiny_model(vocab_size: int, seed: int = 0):
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(seed)
    cfg = Gemma3TextConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=2, num_key_value_heads=1, head_dim=16, sliding_window=16,
                           max_position_embeddings=4096, layer_types=["sliding_attention", "full_attention"],
                           pad_token_id=0, eos_token_id=1, bos_token_id=2)
    model = Gemma3ForCausalLM(cfg).eval()
    # Random init puts every logit near 0; spread the output rows so the model has real preferences.
    with torch.no_grad():
        model.get_output_embeddings().weight.normal_(0, 1.0)
    return model


@pytest.fixture(scope="session")
def demo() -> Catalog:
    return demo_catalog()


@pytest.fixture(scope="session")
def tokenizer(demo):
    corpus = [it.text(10_000) for it in demo] + [p.read_text() for p in _prompt_files()]
    corpus += ["customer running camping budget interests says coffee cooking $ 0 1 2 3 4 5 6 7 8 9 ."]
    return make_tokenizer(corpus)


def _prompt_files():
    from genrec.model.prompts import PROMPTS_DIR

    return sorted(PROMPTS_DIR.glob("*.j2"))


@pytest.fixture(scope="session")
def tiny_model(tokenizer):
    return make_tiny_model(len(tokenizer))


@pytest.fixture(scope="session")
def encoder():
    return HashEncoder()


def make_recommender(catalog, model, tokenizer, encoder, model_weight=1.0, **kw) -> Recommender:
    kw = {"cache_index": False, "explain_max_new_tokens": 8, "explain_with_model": True, **kw}
    cfg = RecommenderConfig(codes=TINY_CODES, search=SearchConfig(model_weight=model_weight), **kw)
    return Recommender(catalog, config=cfg, model=model, tokenizer=tokenizer, encoder=encoder)


@pytest.fixture(scope="session")
def tiny_rec(demo, tiny_model, tokenizer, encoder) -> Recommender:
    """The demo catalog over a tiny random model whose logits are used (model_weight=1)."""
    return make_recommender(demo, tiny_model, tokenizer, encoder)
