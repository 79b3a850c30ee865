import copy
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from genrec import GenrecError
from genrec.data.dataset import load_interactions, write_dataset
from genrec.model.prompts import PromptShape
from genrec.model.text_ids import tokenizer_fingerprint
from genrec.ranking.prior import category_similarity, item_similarity
from genrec.training.train import TrainConfig, train
from genrec.training.train_data import DataConfig

from .conftest import TINY_CODES, HashEncoder


@pytest.fixture(scope="module")
def shop(tmp_path_factory, demo):
    """80 demo items and 30 users whose sequences stay within one department (learnable)."""
    items = list(demo)[:80]
    rng = np.random.default_rng(0)
    inter = []
    for u in range(30):
        pool = [i for i in range(80) if (i // 40) == u % 2]
        for s, i in enumerate(rng.choice(pool, 6, replace=False)):
            inter.append({"user_id": f"u{u}", "item_id": items[i].item_id, "seq": s})
    rows = [{"item_id": it.item_id, "title": it.title, "description": it.description, "category": it.category_str,
             "brand": it.brand, "price": it.price} for it in items]
    return write_dataset(tmp_path_factory.mktemp("shop"), rows, inter)


def config(shop, out, **kw):
    return TrainConfig(**{"catalog": str(shop / "items.jsonl"), "interactions": str(shop / "interactions.jsonl"),
                          "out": str(out), "codes": TINY_CODES, "max_steps": 40, "batch_size": 8,
                          "learning_rate": 5e-3, **kw})


def test_training_moves_lora_and_code_rows_only_and_reloads_identically(shop, tmp_path, tiny_model, tokenizer):
    from peft import PeftModel

    original = copy.deepcopy(tiny_model)
    trained = copy.deepcopy(tiny_model)
    out = train(config(shop, tmp_path / "ad"), model=trained, tokenizer=tokenizer, encoder=HashEncoder())
    meta = json.loads((out / "genrec_adapter.json").read_text())
    assert meta["tokenizer"] == tokenizer_fingerprint(tokenizer)  # what its prompts were cut into
    logs = meta["metrics"]
    assert logs["steps"] == 40 and logs["last_logged_loss"] < logs["first_logged_loss"]  # loss falls
    # the base weights under the adapter did not move; LoRA B matrices (zero at init) did
    base_now = {n.replace(".base_layer", "").replace(".token_adapter", ""): p for n, p in trained.named_parameters()
                if "lora_" not in n and "trainable_tokens" not in n}
    for name, p in original.named_parameters():
        assert torch.equal(p, base_now[name]), name
    lora_b = [p for n, p in trained.named_parameters() if "lora_B" in n]
    assert lora_b and all(p.abs().sum() > 0 for p in lora_b)
    # only code-token embedding rows changed
    reloaded = PeftModel.from_pretrained(copy.deepcopy(original), out)
    merged = copy.deepcopy(reloaded).merge_and_unload()
    changed = (merged.get_input_embeddings().weight != original.get_input_embeddings().weight).any(1).nonzero()
    from genrec.model.item_ids import reserved_token_ids

    code_ids = set(reserved_token_ids(tokenizer, TINY_CODES.reserved_needed()))  # codes and END
    changed = {int(i) for i in changed.ravel()}
    assert changed and changed <= code_ids
    # the saved adapter reproduces the trained model's outputs
    x = tokenizer("A new customer is shopping.", return_tensors="pt")["input_ids"]
    trained.eval()  # the Trainer leaves it in train mode (LoRA dropout on)
    reloaded.eval()
    with torch.no_grad():
        assert torch.allclose(trained(x).logits, reloaded(x).logits, atol=1e-5)
        assert torch.allclose(trained(x).logits, merged(x).logits, atol=1e-4)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["README.md", "adapter_config.json", "adapter_model.safetensors", "codes.json", "codes.npz",
         "genrec_adapter.json", "shop_prior.npz"])
    assert (out / "adapter_model.safetensors").stat().st_size < 2_000_000


def test_trained_adapter_serves_recommendations(shop, tmp_path, tiny_model, tokenizer, demo):
    from genrec import Catalog, Recommender, RecommenderConfig

    out = train(config(shop, tmp_path / "ad", max_steps=10, data=DataConfig(prompt=PromptShape(description_chars=40))),
                model=copy.deepcopy(tiny_model), tokenizer=tokenizer, encoder=HashEncoder())
    cat = Catalog.load(shop / "items.jsonl")
    bigger = Catalog(list(cat) + [demo[500]])  # a new item: gets a code from its text, no retraining
    rec = Recommender(bigger, adapter=out, config=RecommenderConfig(codes=TINY_CODES, cache_index=False,
                                                                    new_item_neighbours=0),
                      model=copy.deepcopy(tiny_model), tokenizer=tokenizer, encoder=HashEncoder())
    ids = [r.item_id for r in rec.recommend({"interests": ["Running"]}, k=10, explain=True)]
    assert len(set(ids)) == 10 and set(ids) <= {it.item_id for it in bigger}
    assert demo[500].item_id in rec.codes.codes
    assert rec.prompt_shape == PromptShape(description_chars=40, max_recent_items=5)  # prompts shaped as in training
    # the adapter carries its training logs' prior (popularity, item-kNN) by item ID; the new item has neither
    logs = load_interactions(shop / "interactions.jsonl", cat)
    got, want = rec.prior.similarity.toarray(), item_similarity(cat, logs).toarray()
    assert np.allclose(got[:80, :80], want, atol=1e-3) and not got[80].any() and not got[:, 80].any()
    users = [sum(it.item_id in seq for seq in logs.values()) for it in cat]
    assert np.allclose(rec.prior.log_pop, np.log1p(users + [0]))
    assert rec.prior.new_items_only(np.arange(81) == 80)  # by default the new item borrows from its text neighbours:
    borrowed = Recommender(bigger, adapter=out, config=RecommenderConfig(codes=TINY_CODES, cache_index=False),
                           model=copy.deepcopy(tiny_model), tokenizer=tokenizer, encoder=HashEncoder()).prior
    assert borrowed.log_pop[80] > 0 and borrowed.similarity[:80, 80].nnz
    assert borrowed.new_items_only(np.arange(81) == 80)  # still new: it only borrows
    cats, saved = category_similarity(cat, logs), rec.prior.categories
    assert saved.names == cats.names
    assert np.allclose(saved.matrix.toarray()[:, :80], cats.matrix.toarray(), atol=1e-3) and not saved.matrix[:, 80].nnz
    with pytest.raises(GenrecError, match="another catalog"):
        Recommender(Catalog(list(demo)[300:400]), adapter=out, config=RecommenderConfig(codes=TINY_CODES),
                    model=copy.deepcopy(tiny_model), tokenizer=tokenizer, encoder=HashEncoder())


def test_training_ends_with_the_shop_fit_on_users_held_out_of_its_examples(shop, tmp_path, tiny_model, tokenizer):
    from genrec import Catalog, Recommender, RecommenderConfig
    from genrec.training.fit import FitConfig

    fit = FitConfig(holdout_share=0.34, collab=None, min_cases=5, grid=(0.0, 1.0, 4.0))
    out = train(config(shop, tmp_path / "ad", max_steps=10, fit=fit), model=copy.deepcopy(tiny_model),
                tokenizer=tokenizer, encoder=HashEncoder())
    data = json.loads((out / "genrec_adapter.json").read_text())["training_data"]
    assert data["fit_held_out_users"] == 10 and data["train_users"] == 20  # 30 users, 10 held out of training
    # the metadata names them, so a fit of this adapter elsewhere (genrec eval --adapter) holds out the same
    from genrec.training.fit import adapter_holdout

    seqs = load_interactions(shop / "interactions.jsonl", Catalog.load(shop / "items.jsonl"))
    held, items = adapter_holdout(out, seqs)
    assert held == data["fit_held_out_user_ids"] and len(held) == 10 and items == set(data["fit_held_out_item_ids"])
    assert adapter_holdout(out, {u: s for u, s in seqs.items() if u != held[0]})[0] == held[1:]
    assert data["by_task"]["rec"] <= 20 * DataConfig().rec_per_user
    manifest = json.loads((out / "shop.json").read_text())
    assert manifest["data"]["with_model"] and manifest["data"]["held_out_users"] == 10
    assert manifest["data"]["users"] == 30  # the signals are refitted on every training user
    assert {w["model"] for w in manifest["weights"].values()} <= {0.0, 1.0, 4.0}
    rec = Recommender(Catalog.load(shop / "items.jsonl"), adapter=out,
                      config=RecommenderConfig(codes=TINY_CODES, cache_index=False),
                      model=copy.deepcopy(tiny_model), tokenizer=tokenizer, encoder=HashEncoder())
    assert rec.shop is not None and rec.shop.manifest.held_out["default"]["cases"] > 0
    assert len(rec.recommend({"interests": ["Running"]}, k=5, explain=False)) == 5


def test_training_without_the_fit_keeps_its_users_out_for_a_later_fit(shop, tmp_path, tiny_model, tokenizer,
                                                                         monkeypatch):
    """--no-fit skips the model passes, not the hold-out: the users FitConfig() holds out stay out of the
    examples and are listed, and `genrec fit --adapter` chooses the model's weight on them (before, a --no-fit
    adapter trained on every user and the later fit drew users it had seen, leaning to the model)."""
    from genrec.apps.cli import main
    from genrec.training import fit as fit_module

    items = [json.loads(line)["item_id"] for line in (shop / "items.jsonl").read_text().splitlines()]
    rng = np.random.default_rng(1)  # 60 users: FitConfig()'s 20% share reaches MIN_HELD_OUT_USERS
    inter = tmp_path / "interactions.jsonl"
    inter.write_text("".join(json.dumps({"user_id": f"v{u}", "item_id": items[i], "seq": s}) + "\n"
                             for u in range(60) for s, i in enumerate(rng.choice(80, 6, replace=False))))
    out = train(config(shop, tmp_path / "ad", max_steps=2, interactions=str(inter), fit=None),
                model=copy.deepcopy(tiny_model), tokenizer=tokenizer, encoder=HashEncoder())
    data = json.loads((out / "genrec_adapter.json").read_text())["training_data"]
    assert data["fit_held_out_users"] == 12 and data["train_users"] == 48 and not (out / "shop.json").exists()
    seen = []

    def fit_shop(*args, holdout=None, **kw):
        seen.append(holdout)
        raise GenrecError("stop after the hold-out is chosen")

    monkeypatch.setattr(fit_module, "fit_shop", fit_shop)
    monkeypatch.setattr("genrec.ranking.recommender.Recommender", lambda *a, **kw: None)  # no base model load
    args = ["fit", "--catalog", str(shop / "items.jsonl"), "--interactions", str(inter), "--out", str(tmp_path / "f")]
    assert main(args + ["--adapter", str(out)]) != 0 and main(args) != 0
    assert seen[0] == (data["fit_held_out_user_ids"], set(data["fit_held_out_item_ids"])) and seen[1] is None


def test_time_budget_stops_early_and_still_writes_the_adapter(shop, tmp_path, tiny_model, tokenizer):
    items = [json.loads(line)["item_id"] for line in (shop / "items.jsonl").read_text().splitlines()]
    splits = tmp_path / "splits.json"
    splits.write_text(json.dumps({"train_users": [f"u{u}" for u in range(20)], "cold_items": items[:5]}))
    out = train(config(shop, tmp_path / "ad", max_steps=10_000, max_minutes=0.05, train_users=str(splits)),
                model=copy.deepcopy(tiny_model), tokenizer=tokenizer, encoder=HashEncoder())
    meta = json.loads((out / "genrec_adapter.json").read_text())
    assert meta["training_data"]["train_users"] == 20 and meta["training_data"]["cold_items_held_out"] == 5
    m = meta["metrics"]
    assert 1 <= m["steps"] < 10_000 and m["planned_steps"] == 10_000 and m["stopped_at_deadline"]
    assert m["tokens_per_s"] > 0 and (out / "adapter_model.safetensors").exists()
    assert not (tmp_path / ".ad.checkpoints").exists()
    with pytest.raises(GenrecError, match="max_minutes"):
        config(shop, tmp_path / "x", max_minutes=0)


def test_a_splits_file_holds_its_cold_items_out_of_training(shop, tmp_path):
    from genrec.data.dataset import read_train_users as _train_users

    seqs = {"u1": ["A", "C"], "u2": ["B", "C"]}
    splits = tmp_path / "splits.json"
    splits.write_text(json.dumps({"train_users": ["u1", "u2"], "cold_items": ["A", "B"]}))
    assert _train_users(str(splits), seqs) == (["u1", "u2"], {"A", "B"})
    (tmp_path / "users.txt").write_text("u1\nu2\n")
    assert _train_users(str(tmp_path / "users.txt"), seqs)[1] == set() and _train_users(None, seqs)[1] == set()


def test_a_training_user_with_a_long_history_gives_examples(tiny_rec, tokenizer):
    """A shop's loyal customer (120 items) must not stop training: a profile holds at most MAX_RECENT known
    items, so a warm example's known items are cut to their latest ones (`genrec train` on amazon_office
    stopped with "recent_items has 56 entries")."""
    from genrec.data.cases import cold_profile
    from genrec.data.profile import MAX_RECENT
    from genrec.training.train_data import build_examples

    seq = [it.item_id for it in list(tiny_rec.catalog)[:120]]
    known = cold_profile(tiny_rec.catalog, {}, seq, 100, with_interests=False).recent_items
    assert [r.item_id for r in known] == seq[100 - MAX_RECENT:100]
    examples = build_examples(tiny_rec.catalog, {"loyal": seq}, {}, tiny_rec.codes, tokenizer,
                              tiny_rec.reserved.tolist(), DataConfig(cold_share=0.0, rec_per_user=20,
                                                                     item_code_per_item=0, code_title_per_item=0))
    assert sum(ex.task == "rec" for ex in examples) == 20


def test_bad_inputs_fail_before_any_training(shop, tmp_path):
    bad = tmp_path / "inter.jsonl"
    bad.write_text('{"user_id": "u1", "item_id": "NOPE"}\n')
    with pytest.raises(GenrecError, match="no interaction names a catalog item \\(unknown item_id 'NOPE'"):
        train(TrainConfig(catalog=str(shop / "items.jsonl"), interactions=str(bad), out=str(tmp_path / "a")))
    (tmp_path / "users.jsonl").write_text('{"user_id": "", "age": 9}\n')
    with pytest.raises(GenrecError, match="missing required value"):
        train(config(shop, tmp_path / "a", users=str(tmp_path / "users.jsonl")))
    (tmp_path / "train.txt").write_text("\n")
    with pytest.raises(GenrecError, match="no training users"):
        train(config(shop, tmp_path / "a", train_users=str(tmp_path / "train.txt")))
    (tmp_path / "train.txt").write_text("ghost\n")
    with pytest.raises(GenrecError, match="have no interactions"):
        train(config(shop, tmp_path / "a", train_users=str(tmp_path / "train.txt")))
    with pytest.raises(GenrecError, match="file not found"):
        config(shop, tmp_path / "a", users=str(tmp_path / "missing.jsonl"))
    (tmp_path / "exists").mkdir()
    with pytest.raises(GenrecError, match="already exists"):
        train(config(shop, tmp_path / "exists"))


def test_kill_9_mid_training_then_resume_finishes_all_steps(shop, tmp_path, tiny_model, tokenizer):
    base = tmp_path / "base"
    tiny_model.save_pretrained(base)
    tokenizer.save_pretrained(base)
    out = tmp_path / "adapters" / "shop"
    cmd = [sys.executable, "-m", "genrec.apps.cli", "train", "--catalog", str(shop / "items.jsonl"), "--interactions",
           str(shop / "interactions.jsonl"), "--out", str(out), "--base-model", str(base), "--branching", "8",
           "--max-depth", "10", "--max-steps", "300", "--save-steps", "20", "--batch-size", "4", "--lr", "0.005"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpts = out.parent / ".shop.checkpoints"
    deadline = time.time() + 240
    while time.time() < deadline and not (ckpts.exists() and any(ckpts.glob("checkpoint-*"))):
        assert proc.poll() is None, "training ended before it could be killed"
        time.sleep(0.2)
    time.sleep(1.0)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists()  # never a half-written adapter
    assert subprocess.run(cmd, capture_output=True).returncode == 2  # refuses to start over silently
    done = subprocess.run(cmd + ["--resume"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    meta = json.loads((out / "genrec_adapter.json").read_text())
    assert meta["metrics"]["steps"] == 300
    assert not ckpts.exists()
    assert (out / "adapter_model.safetensors").exists()


def test_resume_skips_a_checkpoint_cut_off_while_saving(tmp_path):
    from genrec.training.train import _last_complete_checkpoint

    for step, complete in ((20, True), (40, True), (60, False)):
        c = tmp_path / f"checkpoint-{step}"
        c.mkdir()
        (c / "adapter_model.safetensors").write_bytes(b"x")
        if complete:
            (c / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    (tmp_path / "checkpoint-60" / "trainer_state.json").write_text('{"global_st')  # cut off mid-write
    assert _last_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-40"
    assert not (tmp_path / "checkpoint-60").exists()
    assert _last_complete_checkpoint(tmp_path / "none") is None


def test_cli_train_no_fit_skips_the_shop_fit(shop, tmp_path, monkeypatch):
    from genrec.apps.cli import main
    from genrec.training import train as train_module

    seen = []
    monkeypatch.setattr(train_module, "train", lambda cfg: seen.append(cfg) or tmp_path / "out")
    base = ["train", "--catalog", str(shop / "items.jsonl"), "--interactions", str(shop / "interactions.jsonl"),
            "--out", str(tmp_path / "out")]
    assert main(base) == 0 and main(base + ["--no-fit"]) == 0
    assert seen[0].fit is not None and seen[1].fit is None
