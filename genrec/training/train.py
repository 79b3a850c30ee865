"""QLoRA fine-tuning: examples from shop logs -> a self-describing adapter folder.

The base model is loaded in 4-bit NF4 (bitsandbytes) or full precision; peft adds LoRA to the attention
and MLP projections and makes the code tokens' embedding rows trainable (`trainable_token_indices`, so
the adapter stores only those rows). transformers' Trainer runs the loop (so `accelerate launch` spreads
it over GPUs); the loss is computed on the target tokens only, and the 262k-way output layer runs only at
those positions. Checkpoints allow `resume=True` after a crash; the adapter folder is written to a temporary
folder and renamed, so an interrupted run never leaves a half-written adapter.
"""

from __future__ import annotations

import copy
import json
import logging
import resource
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from ..data.catalog import Catalog
from ..data.dataset import load_interactions, load_users, read_train_users
from ..errors import GenrecError
from ..files import atomic_folder
from ..model.adapters import METADATA, checksums
from ..model.base_model import BaseModelConfig, cpu_has_bf16, load_base_model, softcap
from ..model.embed import default_encoder, encode_catalog
from ..model.item_ids import CodeConfig, ItemCodes, reserved_token_ids
from ..model.prompts import template_version
from ..model.text_ids import encode, tokenizer_fingerprint
from ..ranking.shop import save_shop
from ..ranking.signals import fit_signals, save_signals
from .fit import MIN_HELD_OUT_USERS, FitConfig, fit_shop, split_holdout
from .train_data import DataConfig, build_examples

log = logging.getLogger(__name__)
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Paths are checked before any model is loaded."""

    catalog: str
    interactions: str
    out: str  # adapter folder to create, e.g. adapters/shoes
    users: str | None = None  # users.jsonl with profile fields
    train_users: str | None = None  # user IDs one per line, a JSON list, or a splits.json; default: all users
    base: BaseModelConfig = field(default_factory=BaseModelConfig)
    codes: CodeConfig = field(default_factory=CodeConfig)
    data: DataConfig = field(default_factory=DataConfig)
    lora_r: int = 16
    lora_alpha: int | None = None  # None: 2 * lora_r (LoRA's update scaled by alpha / r = 2 at any rank)
    lora_dropout: float = 0.05
    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    learning_rate: float = 2e-4
    batch_size: int = 8
    grad_accum: int = 1
    max_length: int = 512  # tokens per example; long prompts are cut from the left
    save_steps: int = 50
    seed: int = 0
    resume: bool = False
    full_vocab_loss: bool = False  # compute logits at every position (only to measure what the default saves)
    gradient_checkpointing: bool = False  # recompute activations in the backward pass: less memory, ~30% slower
    max_minutes: float | None = None  # stop at this wall-clock budget and write the adapter of the steps done
    # bfloat16 autocast. None: on CUDA, and on a CPU with native bf16 instructions (benchmarks/results/
    # train_speed.md).
    bf16: bool | None = None
    # The shop fit that ends training (genrec.training.fit): its held-out users are kept out of the adapter's examples,
    # so the model's weight beside the prior is chosen on users the adapter never saw. None: no fit (the
    # adapter then ranks with RecommenderConfig's default weights); FitConfig()'s held-out users are still kept
    # out and listed, for a later `genrec fit --adapter`.
    fit: FitConfig | None = field(default_factory=FitConfig)

    def __post_init__(self):
        if self.lora_alpha is None:
            object.__setattr__(self, "lora_alpha", 2 * self.lora_r)
        for name in ("lora_r", "lora_alpha", "batch_size", "grad_accum", "max_length", "save_steps"):
            if getattr(self, name) < 1:
                raise GenrecError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.epochs <= 0 and self.max_steps <= 0:
            raise GenrecError("give epochs > 0 or max_steps > 0")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise GenrecError(f"max_minutes must be > 0, got {self.max_minutes!r}")
        if not 0 <= self.lora_dropout < 1 or self.learning_rate <= 0:
            raise GenrecError("lora_dropout must be in [0, 1) and learning_rate > 0")
        for name in ("catalog", "interactions", "users", "train_users"):
            p = getattr(self, name)
            if p is not None and not Path(p).exists():
                raise GenrecError(f"--{name.replace('_', '-')} {p}: file not found")


class _Examples(torch.utils.data.Dataset):
    def __init__(self, rows):
        self.rows = rows

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]


def _tokenize(examples, tokenizer, max_length: int) -> list[dict]:
    rows = []
    for ex in examples:
        # As serving tokenises it: text never writes a special token; genrec's own code IDs go in as IDs.
        prompt = encode(tokenizer, ex.prompt) + list(ex.code) + (
            encode(tokenizer, ex.suffix, add_special_tokens=False) if ex.suffix else [])
        keep = max(max_length - len(ex.target), 1)
        ids = prompt[-keep:] + ex.target
        rows.append({"input_ids": ids, "labels": [-100] * (len(ids) - len(ex.target)) + ex.target})
    return rows


def _collate(pad_id: int):
    def collate(batch):
        n = max(len(b["input_ids"]) for b in batch)
        ids = torch.full((len(batch), n), pad_id, dtype=torch.long)
        labels = torch.full((len(batch), n), -100, dtype=torch.long)
        mask = torch.zeros((len(batch), n), dtype=torch.long)
        for r, b in enumerate(batch):
            m = len(b["input_ids"])
            ids[r, :m], labels[r, :m], mask[r, :m] = torch.tensor(b["input_ids"]), torch.tensor(b["labels"]), 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    return collate


def _trainer_class():
    from transformers import Trainer

    class TargetOnlyTrainer(Trainer):
        """Loss on target tokens only, with the output layer run only at those positions."""

        full_vocab = False
        tokens_seen = 0

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels = inputs.pop("labels")
            self.tokens_seen += int(inputs["attention_mask"].sum())
            base = model.get_base_model()
            out = base.model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
            hidden = out.last_hidden_state
            target = labels[:, 1:]
            if self.full_vocab:
                logits = base.lm_head(hidden[:, :-1])[target != -100]
            else:
                logits = base.lm_head(hidden[:, :-1][target != -100])
            loss = torch.nn.functional.cross_entropy(softcap(logits, base.config).float(), target[target != -100])
            return (loss, None) if return_outputs else loss

    return TargetOnlyTrainer


def train(config: TrainConfig, model=None, tokenizer=None, encoder=None) -> Path:
    """Train an adapter and write it to `config.out`; returns the folder."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import TrainingArguments

    from ..ranking.recommender import base_model_id

    out = Path(config.out)
    if out.exists():
        raise GenrecError(f"{out} already exists; choose another --out or remove it (adapters are never overwritten)")
    # ---- validate every input before loading a model ------------------------------------------
    catalog = Catalog.load(config.catalog)
    sequences = load_interactions(Path(config.interactions), catalog)
    users = load_users(Path(config.users)) if config.users else {}
    train_ids, cold = read_train_users(config.train_users, sequences)
    sequences = {u: [i for i in sequences[u] if i not in cold] for u in train_ids}
    # The fit's held-out users and items stay out of the adapter's recommendation examples (the items keep
    # their text -> code examples), so the model's weight is chosen on requests it never saw: by the fit that
    # ends training or, without it (--no-fit), by a later `genrec fit/eval --adapter`, which reads them from the
    # metadata (genrec.training.fit.adapter_holdout).
    fit = config.fit or FitConfig()
    held, fit_items = split_holdout(catalog, sequences, fit, fit.max_model_users)
    if len(held) < MIN_HELD_OUT_USERS:
        if config.fit is not None:
            log.warning("only %d users with more than 3 items: too few to fit the shop's weights after training; "
                        "the adapter will rank with the default weights", len(held))
        held, fit_items = [], set()
    adapter_sequences = {u: [i for i in s if i not in fit_items] for u, s in sequences.items() if u not in set(held)}
    adapter_sequences = {u: s for u, s in adapter_sequences.items() if s}
    # ---- codes, model, examples ---------------------------------------------------------------
    encoder = encoder or default_encoder()
    injected = model is not None
    codes = ItemCodes.build([it.item_id for it in catalog], encode_catalog(catalog, encoder), config.codes)
    if model is None:
        base = config.base
        if base.dtype == "auto" and base.quantization == "none" and base.resolved_device() == "cpu":
            base = replace(base, dtype="float32")  # float32 weights to train; bf16 comes from autocast
        model, tokenizer = load_base_model(base)
    reserved = reserved_token_ids(tokenizer, config.codes.reserved_needed())
    examples = build_examples(catalog, adapter_sequences, users, codes, tokenizer, reserved, config.data)
    rows = _tokenize(examples, tokenizer, config.max_length)
    reserved_set = set(reserved)
    used_codes = sorted({t for ex in examples for t in ex.target if t in reserved_set})
    # The fit after training needs the base without LoRA: a model passed in is copied, one loaded here reloads.
    pristine = copy.deepcopy(model) if held and injected else None
    if config.base.quantization == "nf4":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing)
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=[m for m in LORA_TARGETS if any(n.endswith(m) for n, _ in model.named_modules())],
                      trainable_token_indices={"embed_tokens": used_codes}, task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)
    # ---- the loop (transformers Trainer) -------------------------------------------------------
    ckpt = out.parent / f".{out.name}.checkpoints"
    if ckpt.exists() and not config.resume:
        raise GenrecError(f"{ckpt} holds checkpoints of an interrupted run: add --resume, or remove it")
    cuda = torch.cuda.is_available() and config.base.resolved_device() == "cuda"
    args = TrainingArguments(
        output_dir=str(ckpt), per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate, num_train_epochs=config.epochs, max_steps=config.max_steps,
        logging_steps=5, save_steps=config.save_steps, save_total_limit=2, report_to=[], seed=config.seed,
        remove_unused_columns=False, dataloader_num_workers=0, use_cpu=not cuda, bf16=_use_bf16(config, cuda),
        lr_scheduler_type="cosine", warmup_steps=0.03, disable_tqdm=False,  # a float < 1 is a ratio
        train_sampling_strategy="group_by_length")  # batches of similar lengths: little compute lost to padding
    trainer_cls = _trainer_class()
    trainer_cls.full_vocab = config.full_vocab_loss
    trainer = trainer_cls(model=model, args=args, train_dataset=_Examples(rows),
                          data_collator=_collate(tokenizer.pad_token_id or 0),
                          callbacks=[_deadline(config.max_minutes)] if config.max_minutes else None)
    last = _last_complete_checkpoint(ckpt) if config.resume else None
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(last) if last else None)
    wall = time.perf_counter() - t
    tokens = trainer.tokens_seen  # non-padding tokens this process trained on (a resumed run counts its own)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    metrics = {"steps": trainer.state.global_step, "train_loss": result.training_loss, "first_logged_loss":
               losses[0] if losses else None, "last_logged_loss": losses[-1] if losses else None,
               "wall_s": wall, "tokens_per_s": tokens / wall if wall else None, "device": "cuda" if cuda else "cpu",
               "quantization": config.base.quantization, "bf16": args.bf16, "planned_steps": trainer.state.max_steps,
               "stopped_at_deadline": trainer.state.global_step < trainer.state.max_steps,
               "peak_gpu_mem_gb": torch.cuda.max_memory_allocated() / 2**30 if cuda else None,
               "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}  # Linux: KiB
    # ---- write the adapter atomically ------------------------------------------------------------
    tasks = ("rec", "item_code", "code_title", "explain")
    summary = {"train_users": len(adapter_sequences), "fit_held_out_users": len(held),
               "fit_held_out_items": len(fit_items), "examples": len(examples),
               "cold_items_held_out": len(cold), "by_task": {t: sum(e.task == t for e in examples) for t in tasks},
               # who and what the adapter never saw, so a later fit (genrec eval --adapter) chooses the model's
               # weight on the same unseen users and items
               "fit_held_out_user_ids": sorted(held), "fit_held_out_item_ids": sorted(fit_items)}
    with atomic_folder(out) as tmp:
        model.save_pretrained(tmp)
        codes.save(tmp)
        meta = {"base_model": base_model_id(model.get_base_model()), "tokenizer": tokenizer_fingerprint(tokenizer),
                "prompt_template": "recommend",
                "prompt_template_version": template_version("recommend"), "codes": asdict(config.codes),
                "encoder": encoder.name, "catalog_fingerprint": catalog.fingerprint(), "catalog_items": len(catalog),
                "training_data": summary, "data_config": asdict(config.data),
                "prompt_shape": asdict(config.data.prompt), "metrics": metrics,
                "config": {k: v for k, v in asdict(config).items() if k not in ("base", "codes", "data")},
                "files": checksums(tmp)}  # checked at every load (genrec.model.adapters.verify)
        (tmp / METADATA).write_text(json.dumps(meta, indent=2))
        (tmp / "README.md").write_text(_model_card(meta))
        if held and config.fit is not None:
            del trainer, model
            _fit_after_training(tmp, catalog, sequences, users, (held, fit_items), config, pristine, tokenizer,
                                encoder)
        else:
            save_signals(tmp, catalog, fit_signals(catalog, sequences, users, collab=None, progress=False))
    shutil.rmtree(ckpt, ignore_errors=True)
    log.info("adapter written to %s: %s", out, metrics)
    return out


def _fit_after_training(folder: Path, catalog: Catalog, sequences, users, holdout, config: TrainConfig,
                        model, tokenizer, encoder) -> None:
    """Fit the shop with the new adapter's model (genrec.training.fit) on the users held out of its examples, and write
    the fitted shop (signals on all the training users, weights per request type) into the adapter folder."""
    from ..ranking.recommender import Recommender, RecommenderConfig

    base = config.base
    if model is None:  # inference precision, as a Recommender loads it
        model, tokenizer = load_base_model(base)
    rec = Recommender(catalog, adapter=folder, config=RecommenderConfig(base=base), model=model,
                      tokenizer=tokenizer, encoder=encoder, popularity={})
    shop = fit_shop(catalog, sequences, users, config.fit, recommender=rec, encoder=encoder, holdout=holdout)
    save_shop(folder, catalog, shop, exist_ok=True)


def _use_bf16(config: TrainConfig, cuda: bool) -> bool:
    return config.bf16 if config.bf16 is not None else cuda or cpu_has_bf16()


def _deadline(minutes: float):
    """A Trainer callback that ends training once `minutes` of wall-clock time have passed (the adapter of
    the steps done is then written as usual, and its metadata says it stopped early)."""
    from transformers import TrainerCallback

    class Deadline(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.end = time.monotonic() + 60 * minutes

        def on_step_end(self, args, state, control, **kwargs):
            if time.monotonic() >= self.end:
                log.warning("time budget of %.1f min reached at step %d of %d: stopping", minutes,
                            state.global_step, state.max_steps)
                control.should_training_stop = True
                control.should_save = False  # the adapter is written next; no checkpoint is needed
            return control

    return Deadline()


def _last_complete_checkpoint(folder: Path) -> Path | None:
    """The newest checkpoint that was fully written. The Trainer writes trainer_state.json last, so a kill
    during a save leaves a checkpoint without a readable one; such folders are removed, not resumed from."""
    done = []
    for c in folder.glob("checkpoint-*") if folder.exists() else ():
        try:
            json.loads((c / "trainer_state.json").read_text())
            done.append((int(c.name.split("-")[-1]), c))
        except (OSError, ValueError):
            log.warning("removing incomplete checkpoint %s (interrupted while saving)", c)
            shutil.rmtree(c, ignore_errors=True)
    return max(done)[1] if done else None


def _model_card(meta: dict) -> str:
    m, d = meta["metrics"], meta["training_data"]
    return f"""# genrec adapter

- Base model: `{meta['base_model']}`; prompt `recommend.j2` version `{meta['prompt_template_version']}`
- Item codes: {meta['codes']} over {meta['catalog_items']} items (catalog fingerprint `{meta['catalog_fingerprint']}`)
- Training data: {d['train_users']} users, {d['examples']} examples {d['by_task']}
- Training: {m['steps']} steps, loss {m['first_logged_loss']} -> {m['last_logged_loss']}, {m['wall_s']:.0f} s on
  {m['device']} ({m['quantization']}), {m['tokens_per_s']:.0f} tokens/s

Load with `genrec.Recommender(catalog, adapter=THIS_FOLDER)`; items added to the catalog later get codes from
their text without retraining.
"""
