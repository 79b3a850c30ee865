"""No text can write a special token: every reserved token's literal text, given through profiles, chat
messages and catalog fields, tokenises to ordinary tokens; only genrec places codes, BOS and EOS."""

import pytest

from genrec import Catalog, UserProfile
from genrec.apps.chat import ChatState, interpret
from genrec.data.catalog import Item
from genrec.data.profile import RecentItem
from genrec.model.text_ids import encode, neutralise, special_ids
from genrec.training.train import _tokenize
from genrec.training.train_data import DataConfig, build_examples

from .conftest import HashEncoder, make_recommender, make_tiny_model, make_tokenizer


@pytest.fixture(scope="module")
def hostile():
    """A tokenizer with the tiny one's reserved tokens plus a non-special added marker, a catalog whose text
    and a profile whose every field spell all of them, and a recommender over both."""
    corpus = ["pen ink notebook customer product title code says interests recommend new shopping"]
    tok = make_tokenizer(corpus)
    tok.add_tokens(["[multimodal]"])  # an added token that is not special (Gemma has one)
    literals = " ".join(t.content for t in tok.added_tokens_decoder.values())
    items = [Item(f"i{n}", f"pen {literals[:900]}", category=("Office", literals[:40]), brand="Inky",
                  description=f"notebook {literals}") for n in range(12)]
    cat = Catalog(items)
    rec = make_recommender(cat, make_tiny_model(len(tok)), tok, HashEncoder())
    return tok, literals, cat, rec


def _leaks(ids, tok, allowed_first=True):
    bad = special_ids(tok)
    body = ids[1:] if allowed_first and ids[:1] == [tok.bos_token_id] else ids
    return [i for i in body if i in bad]


def test_literal_special_tokens_in_any_text_never_become_special_ids(hostile):
    tok, literals, cat, rec = hostile
    assert _leaks(tok(f"x {literals}")["input_ids"], tok)  # the plain tokenizer would let them through
    profile = UserProfile(gender=literals[:100], location=literals[:100], occupation=literals[:100],
                          interests=(literals[:100],), free_text=literals,
                          recent_items=tuple(RecentItem(f"i{n}") for n in range(3)))
    text, _ = rec.prompt(profile)
    assert "<unused5>" in text.replace("\u200b", "")  # the text is there, as text
    assert _leaks(encode(tok, text), tok) == []
    state = interpret(f"I like {literals}", ChatState(), cat).state
    assert _leaks(encode(tok, rec.prompt(state.profile)[0]), tok) == []
    assert neutralise(tok, "[multimodal]") != "[multimodal]"


def test_training_prompts_hold_special_ids_only_where_genrec_puts_them(hostile):
    tok, literals, cat, rec = hostile
    seqs = {f"u{n}": [f"i{(n + j) % 12}" for j in range(4)] for n in range(6)}
    users = {u: {"occupation": literals[:50]} for u in seqs}
    examples = build_examples(cat, seqs, users, rec.codes, tok, rec.reserved.tolist(),
                              DataConfig(explain_share=1.0))
    rows = _tokenize(examples, tok, 512)
    bad = special_ids(tok)
    for ex, row in zip(examples, rows):
        prompt = [i for i, lab in zip(row["input_ids"], row["labels"]) if lab == -100]
        own = set(ex.code) | {tok.bos_token_id}
        assert [i for i in prompt if i in bad and i not in own] == [], ex.task
        if ex.task == "code_title":  # the code is there, as the item's code IDs
            assert list(ex.code) in [seq[:-1] for seq in rec.sequences]
            assert set(ex.code) <= set(prompt)


@pytest.mark.integration
def test_gemma_reserved_and_control_token_literals_stay_text():
    from transformers import AutoTokenizer

    from genrec.model.base_model import resolve_model_dir

    tok = AutoTokenizer.from_pretrained(resolve_model_dir(None))
    literals = "".join(f"<unused{i}> " for i in range(99)) + "<end_of_turn> <start_of_turn> <bos> <eos> [multimodal]"
    assert _leaks(tok(literals)["input_ids"], tok)
    assert _leaks(encode(tok, literals), tok) == []
