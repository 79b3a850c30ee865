import copy
import json

import pytest
import torch

from genrec import ModelError, Recommender, RecommenderConfig
from genrec.model.text_ids import tokenizer_fingerprint
from genrec.ranking.recommender import base_model_id

from .conftest import TINY_CODES


def make_adapter(tiny_model, folder, seed=0):
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(copy.deepcopy(tiny_model), LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)  # a fresh lora_B is zero; give the adapter an effect to detect
    model.save_pretrained(folder)
    return folder


def test_adapter_loads_and_switches_model_scores_on(tmp_path, demo, tiny_model, tokenizer, encoder):
    folder = make_adapter(tiny_model, tmp_path / "ad")
    cfg = RecommenderConfig(codes=TINY_CODES, cache_index=False, explain_max_new_tokens=0)
    rec = Recommender(demo, adapter=folder, config=cfg, model=copy.deepcopy(tiny_model), tokenizer=tokenizer,
                      encoder=encoder)
    assert rec.model_weight == 1.0  # with an adapter the model's code scores count
    plain = Recommender(demo, config=cfg, model=copy.deepcopy(tiny_model), tokenizer=tokenizer, encoder=encoder)
    assert plain.model_weight == 0.0
    profile = {"interests": ["yoga"]}
    a = rec.recommend(profile, k=10, explain=False)
    assert len({r.item_id for r in a}) == 10 and all(r.item_id in demo for r in a)
    assert [r.score for r in a] != [r.score for r in plain.recommend(profile, k=10, explain=False)]


def test_adapter_for_another_base_model_or_prompt_is_refused(tmp_path, demo, tiny_model, tokenizer, encoder):
    folder = make_adapter(tiny_model, tmp_path / "ad")
    cfg = RecommenderConfig(codes=TINY_CODES, cache_index=False)
    Recommender(demo, config=cfg, model=tiny_model, tokenizer=tokenizer, encoder=encoder).codes.save(folder)
    (folder / "genrec_adapter.json").write_text(json.dumps({"base_model": "some-other-model"}))
    with pytest.raises(ModelError, match="trained on base model 'some-other-model'"):
        Recommender(demo, adapter=folder, config=cfg, model=tiny_model, tokenizer=tokenizer, encoder=encoder)
    meta = {"base_model": base_model_id(tiny_model), "prompt_template_version": "000000000000"}
    (folder / "genrec_adapter.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="prompt version"):
        Recommender(demo, adapter=folder, config=cfg, model=tiny_model, tokenizer=tokenizer, encoder=encoder)
    meta = {"base_model": base_model_id(tiny_model), "tokenizer": "0" * 16}  # trained under another tokenization
    (folder / "genrec_adapter.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="another tokenization"):
        Recommender(demo, adapter=folder, config=cfg, model=tiny_model, tokenizer=tokenizer, encoder=encoder)
    meta["tokenizer"] = tokenizer_fingerprint(tokenizer)
    (folder / "genrec_adapter.json").write_text(json.dumps(meta))
    Recommender(demo, adapter=folder, config=cfg, model=tiny_model, tokenizer=tokenizer, encoder=encoder)
    with pytest.raises(ModelError, match="not an adapter folder"):
        Recommender(demo, adapter=tmp_path, config=cfg, model=tiny_model, tokenizer=tokenizer, encoder=encoder)


def test_a_wrongly_converted_tokenizer_is_refused():
    """What transformers 5.17 made of the packaged Gemma's tokenizer: one token per character, no BOS (and 5.18 to
    5.22: subwords without BOS). Both are refused; subwords opening with BOS pass."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    from genrec.model.base_model import check_converted_tokenizer
    from genrec.model.text_ids import PROBE

    def build(split, bos: bool):
        units = sorted(set(split.findall(PROBE)))
        vocab = {t: i for i, t in enumerate(["<pad>", "<eos>", "<bos>", "<unk>"] + units)}
        tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.Split(Regex(split.pattern), "isolated")
        if bos:
            tok.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 2)])
        return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
                                       unk_token="<unk>")

    import re

    check_converted_tokenizer(build(re.compile(r"\w+|[^\w\s]"), True), "ok", "5.25.0")
    for split, bos, what in ((re.compile("."), False, "57 tokens for 57 characters"),
                             (re.compile(r"\w+|[^\w\s]"), False, "BOS first: False")):
        with pytest.raises(ModelError, match=f"transformers 5.17.0 converted .*{what}"):
            check_converted_tokenizer(build(split, bos), "gemma.gguf", "5.17.0")


@pytest.mark.parametrize("damage, match", [
    (lambda f: (f / "adapter_model.safetensors").write_bytes((f / "adapter_model.safetensors").read_bytes()[:1000]),
     "adapter_model.safetensors is damaged"),
    (lambda f: (f / "adapter_model.safetensors").write_bytes(b""), "adapter_model.safetensors is damaged"),
    (lambda f: (f / "adapter_model.safetensors").unlink(), "lacks adapter_model.safetensors"),
    (lambda f: (f / "codes.npz").unlink(), "lacks codes.npz"),
    (lambda f: (f / "codes.json").unlink(), "lacks codes.json"),
    (lambda f: (f / "codes.json").write_text("{garbage"), "codes.json is damaged"),
    (lambda f: (f / "genrec_adapter.json").write_text("[1, 2]"), "expected a JSON object"),
    (lambda f: (f / "genrec_adapter.json").write_bytes(b"\xff\xfe\x00binary"), "unreadable"),
])
def test_a_damaged_adapter_folder_is_refused_naming_the_file(tmp_path, damage, match):
    import shutil

    from genrec.api import demo_adapter
    from genrec.errors import ModelError
    from genrec.model.adapters import read_metadata

    folder = tmp_path / "demo"
    shutil.copytree(demo_adapter(), folder)
    read_metadata(folder)  # the intact copy loads
    damage(folder)
    with pytest.raises(ModelError, match=match):
        read_metadata(folder)
