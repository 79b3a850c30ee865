import copy
import json

import pytest
import torch

from genrec import ModelError, Recommender, RecommenderConfig
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
    (folder / "genrec_adapter.json").write_text(json.dumps({"base_model": "some-other-model"}))
    with pytest.raises(ModelError, match="trained on base model 'some-other-model'"):
        Recommender(demo, adapter=folder, config=cfg, model=tiny_model, tokenizer=tokenizer, encoder=encoder)
    meta = {"base_model": base_model_id(tiny_model), "prompt_template_version": "000000000000"}
    (folder / "genrec_adapter.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="prompt version"):
        Recommender(demo, adapter=folder, config=cfg, model=tiny_model, tokenizer=tokenizer, encoder=encoder)
    with pytest.raises(ModelError, match="not an adapter folder"):
        Recommender(demo, adapter=tmp_path, config=cfg, model=tiny_model, tokenizer=tokenizer, encoder=encoder)
