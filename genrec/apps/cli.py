"""`genrec` command line: one parser and one function per command, over the same typed functions as the API."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import GenrecError

if TYPE_CHECKING:
    from ..ranking.shop import ShopManifest

COMMANDS = {
    "demo": "recommend for the bundled sample profiles on the bundled demo catalog",
    "recommend": "recommend catalog items for one user profile (JSON text or file)",
    "check-catalog": "validate a catalog file and print a summary (errors name file, line and field)",
    "eval": "evaluate systems on a dataset with the cold-start protocols; writes report.md/.json and plots",
    "convert": "convert MovieLens, RecBole or raw Amazon files to the genrec dataset layout",
    "compare": "paired significance test between two eval runs (per-user results)",
    "ui": "serve the chat UI (genrec/apps/ui.py) on localhost with the demo catalog and adapter",
    "train": "fine-tune a LoRA adapter (QLoRA on a GPU) on a catalog and its interaction log",
    "serve": "serve recommendations over HTTP (FastAPI): live item adds/retires, micro-batching, /metrics",
    "fit": "fit genrec to a shop's logs: signals and search weights per request type, chosen on held-out users",
}


def _ids(text: str | None) -> list[str] | None:
    return None if text is None else [s.strip() for s in text.split(",") if s.strip()]


def _model_flags(sp, with_profile: bool) -> None:
    sp.add_argument("--catalog", help="catalog file (.jsonl/.csv/.parquet); default: the demo catalog")
    sp.add_argument("--adapter", help="adapter folder; default: the bundled demo adapter if any, else none")
    sp.add_argument("--base-model", help="a .gguf file or local HF model folder; default: packaged Gemma 3 270M")
    sp.add_argument("--quantization", choices=["none", "nf4"], default="none", help="load the base in 4-bit")
    sp.add_argument("-k", type=int, default=10 if with_profile else 5, help="items per profile")
    sp.add_argument("--no-explain", action="store_true", help="skip explanations (faster)")
    sp.add_argument("--json", action="store_true", help="print JSON lines instead of a table")


def _add(sub, name: str, func):
    sp = sub.add_parser(name, help=COMMANDS[name], description=COMMANDS[name])
    sp.set_defaults(func=func)
    return sp


class _Parser(argparse.ArgumentParser):
    """A usage mistake is one line naming the problem (and the command's --help), like every genrec error."""

    def error(self, message: str):
        self.exit(2, f"genrec: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="genrec", description="Cold-start recommendation with a fine-tuned LLM.")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress (never profile fields)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _model_flags(_add(sub, "demo", run_demo), with_profile=False)
    r = _add(sub, "recommend", run_recommend)
    r.add_argument("--profile", required=True, help='JSON object or path to a .json file, e.g. \'{"age": 30}\'')
    _model_flags(r, with_profile=True)
    r.add_argument("--category", action="append", help="only items in this category (repeatable)")
    r.add_argument("--min-price", type=float)
    r.add_argument("--max-price", type=float)
    r.add_argument("--exclude", help="comma-separated item IDs to leave out (e.g. already bought)")
    r.add_argument("--candidates", help="comma-separated item IDs: rank only these")
    _add(sub, "check-catalog", run_check_catalog).add_argument("path")
    e = _add(sub, "eval", run_eval)
    e.add_argument("--data", required=True, help="dataset folder in the genrec layout (items, interactions, splits)")
    e.add_argument("--systems", default="popularity,tfidf,embedding,itemknn",
                   help="comma-separated: popularity,demographic,tfidf,embedding,itemknn,lightfm,llm,llm+adapter "
                        "(llm: genrec fitted on the protocol's training view; llm+adapter: the same with --adapter)")
    e.add_argument("--out", help="output folder (default: eval-<dataset>)")
    e.add_argument("--protocols", default="A,B", help="A (cold-start users), B (cold-start items) or both")
    e.add_argument("--split", default="test_cold_users", choices=["test_cold_users", "valid_cold_users"])
    e.add_argument("--max-users", type=int, help="evaluate a seeded sample of this many users (quick runs)")
    e.add_argument("--make-splits", action="store_true", help="write splits.json first if the dataset has none")
    e.add_argument("--seed", type=int, default=2024, help="seed for --make-splits and --max-users")
    e.add_argument("--diversity", default="default",
                   help="the llm system's lists, one or several of: default (one item per variant family, every "
                   "stated interest), none (plain ranking), mmr (default plus maximal marginal relevance, --mmr); "
                   "several (e.g. default,none) score one fit and report llm:default, llm:none")
    e.add_argument("--mmr", type=float, default=0.3, help="MMR weight with --diversity mmr (0..1)")
    e.add_argument("--adapter", help="LoRA adapter folder for the llm+adapter system; its weight is fitted on the "
                   "same training view, on the users its training left out")
    v = _add(sub, "convert", run_convert)
    v.add_argument("--format", required=True, choices=["movielens", "recbole", "amazon"])
    v.add_argument("--input", required=True, help="MovieLens/RecBole folder, or the Amazon reviews file")
    v.add_argument("--meta", help="Amazon metadata file (with --format amazon)")
    v.add_argument("--out", required=True, help="folder to write the genrec layout into")
    v.add_argument("--make-splits", action="store_true", help="also write seeded splits.json")
    v.add_argument("--seed", type=int, default=2024)
    m = _add(sub, "compare", run_compare)
    m.add_argument("run_a", help="eval output folder (or its per_user.jsonl)")
    m.add_argument("run_b", help="eval output folder (or its per_user.jsonl)")
    m.add_argument("--system-a", help="system of run A (needed when the run holds several)")
    m.add_argument("--system-b", help="system of run B (needed when the run holds several)")
    m.add_argument("--metric", default="ndcg@10")
    # Train flags left unset take the defaults of TrainConfig / CodeConfig / DataConfig: one source for both.
    t = _add(sub, "train", run_train)
    t.add_argument("--catalog", required=True, help="catalog file (.jsonl/.csv/.parquet)")
    t.add_argument("--interactions", required=True, help="interactions file (user_id, item_id, seq/timestamp)")
    t.add_argument("--users", help="users file (user_id, age, gender, location, occupation, any other columns)")
    t.add_argument("--train-users", help="training user IDs: one per line, a JSON list, or a splits.json")
    t.add_argument("--out", required=True, help="adapter folder to create, e.g. adapters/shoes")
    t.add_argument("--base-model", help="a .gguf file or local HF model folder; default: packaged Gemma 3 270M")
    t.add_argument("--quantization", choices=["none", "nf4"], help="default: nf4 on a GPU, none on a CPU")
    t.add_argument("--epochs", type=float, default=None)
    t.add_argument("--max-steps", type=int, default=None, help="> 0 overrides --epochs")
    t.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--grad-accum", type=int, default=None)
    t.add_argument("--lr", type=float, default=None, help="learning rate")
    t.add_argument("--lora-r", type=int, default=None, help="LoRA rank (alpha: 2 * rank)")
    t.add_argument("--lora-dropout", type=float, default=None, help="0 is ~20%% faster on a CPU")
    t.add_argument("--save-steps", type=int, default=None, help="checkpoint every N steps (for --resume)")
    t.add_argument("--branching", type=int, help="item-code clusters per level (CodeConfig: 64)")
    t.add_argument("--max-depth", type=int, help="longest item code (CodeConfig: 12)")
    t.add_argument("--seed", type=int, default=None)
    t.add_argument("--resume", action="store_true", help="continue an interrupted run from its last checkpoint")
    t.add_argument("--rec-per-user", type=int, help="recommendation examples per training user (DataConfig: 4)")
    t.add_argument("--max-minutes", type=float, help="stop at this wall-clock budget and write the adapter so far")
    t.add_argument("--gradient-checkpointing", action="store_true", help="less memory, ~30%% slower")
    t.add_argument("--no-fit", action="store_true", help="skip the shop fit that ends training (the adapter then "
                   "ranks with default weights until `genrec fit --adapter` fits it; the users that fit needs are "
                   "still kept out of training, so it chooses the model's weight on users the adapter never saw)")
    f = _add(sub, "fit", run_fit)
    f.add_argument("--catalog", required=True, help="catalog file (.jsonl/.csv/.parquet)")
    f.add_argument("--interactions", required=True, help="interactions file (user_id, item_id, seq/timestamp)")
    f.add_argument("--users", help="users file (user_id, age, gender, location, occupation, any other columns)")
    f.add_argument("--train-users", help="fit on these users only: one per line, a JSON list, or a splits.json "
                   "(its cold items are then held out of their sequences)")
    f.add_argument("--out", required=True, help="shop folder to create; use it as --adapter / Recommender(adapter=)")
    f.add_argument("--adapter", help="a LoRA adapter folder: the model's weight is fitted too, on the users and "
                   "items its training left out (its metadata lists them), and the adapter's files are copied "
                   "into --out")
    f.add_argument("--base-model", help="a .gguf file or local HF model folder; default: packaged Gemma 3 270M")
    f.add_argument("--holdout-share", type=float, default=0.2, help="share of users held out to choose weights")
    f.add_argument("--holdout-users", help="choose the weights on these users instead of a seeded share (e.g. users "
                   "the --adapter never saw): one per line, a JSON list, or a splits.json (its valid_cold_users "
                   "and cold_items)")
    f.add_argument("--no-collab-model", action="store_true", help="skip the learned collaborative model")
    f.add_argument("--seed", type=int, default=2024)
    s = _add(sub, "serve", run_serve)
    s.add_argument("--catalog", help="catalog file (.jsonl/.csv/.parquet); default: the demo shop")
    s.add_argument("--adapter", help="adapter or fitted shop folder; 'none': zero-shot; default: the demo adapter "
                   "on the demo shop, else none")
    s.add_argument("--logs", help="the shop's interactions file (popularity and collaborative scoring)")
    s.add_argument("--base-model", help="a .gguf file or local HF model folder; default: packaged Gemma 3 270M")
    s.add_argument("--quantization", choices=["none", "nf4"], default="none", help="load the base in 4-bit")
    s.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: localhost only)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--max-batch", type=int, default=16, help="most users one model call serves together")
    s.add_argument("--max-wait-ms", type=float, default=10.0, help="longest a request waits for others to join")
    s.add_argument("--max-queue", type=int, default=256, help="waiting requests past which the answer is 503")
    s.add_argument("--timeout-s", type=float, default=30.0, help="per request, queueing included (then 504)")
    s.add_argument("--journal", help="catalog change journal (default: CATALOG.journal.jsonl; the demo shop's in "
                   "~/.cache/genrec; 'none' keeps no changes)")
    s.add_argument("--workers", type=int, default=1, help="processes, each with its own model, sharing the journal")
    w = _add(sub, "ui", run_ui)
    w.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: localhost only)")
    w.add_argument("--port", type=int, default=7860)
    return p


def _per_user(path: str, system: str | None) -> list[dict]:
    from pathlib import Path

    p = Path(path)
    p = p / "per_user.jsonl" if p.is_dir() else p
    if not p.exists():
        raise GenrecError(f"{p}: not found (give an eval output folder)")
    rows = [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
    systems = sorted({r["system"] for r in rows})
    if system is None and len(systems) > 1:
        raise GenrecError(f"{p} holds systems {systems}: choose one with --system-a/--system-b")
    if system is not None and system not in systems:
        raise GenrecError(f"{p} has no system {system!r}; it holds {systems}")
    return [r for r in rows if system is None or r["system"] == system]


def run_eval(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..data.dataset import Dataset, make_splits
    from ..evaluation.evaluate import evaluate
    from ..evaluation.protocols import EvalConfig
    from ..evaluation.report import write_report
    from ..evaluation.systems import LLM_SYSTEMS, SYSTEMS

    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown or not systems:
        raise GenrecError(f"unknown system(s) {unknown}; choose from {', '.join(SYSTEMS)}")
    if ("llm+adapter" in systems) != bool(args.adapter):
        raise GenrecError("--adapter DIR and the llm+adapter system go together (add llm beside it to measure "
                          "what the adapter adds)")
    data = Dataset.load(args.data)
    if data.splits is None:
        if not args.make_splits:
            raise GenrecError(f"{args.data} has no splits.json; add --make-splits to create seeded splits")
        data.splits = make_splits(data, seed=args.seed)
        _write_splits(data.splits, Path(args.data), Path(args.out or f"eval-{data.name}"))
    cfg = EvalConfig(protocols=tuple(p.strip().upper() for p in args.protocols.split(",")), split=args.split,
                     max_users=args.max_users, seed=args.seed)
    from ..ranking.diversity import NO_DIVERSITY, Diversity

    known = {"default": Diversity(), "none": NO_DIVERSITY, "mmr": Diversity(mmr=args.mmr)}
    chosen = [d.strip() for d in args.diversity.split(",") if d.strip()]
    if not chosen or any(d not in known for d in chosen):
        raise GenrecError(f"--diversity takes a comma-separated list of {', '.join(known)}, got {args.diversity!r}")
    # One setting: the llm rows keep the name llm. Several: one fit, rows llm:default, llm:none, ...
    diversity = known[chosen[0]] if len(chosen) == 1 else {d: known[d] for d in chosen}
    run = evaluate(data, systems, cfg, adapter=args.adapter, diversity=diversity)
    if isinstance(diversity, dict):
        systems = [s for s in systems if s not in LLM_SYSTEMS] + [f"{s}:{d}" for s in systems if s in LLM_SYSTEMS
                                                                   for d in chosen]
    out = args.out or f"eval-{data.name}"
    report = write_report(run, data, out, systems, "genrec " + " ".join(sys.argv[1:]))
    print(report.read_text())
    print(f"wrote {report}, report.json, per_user.jsonl and plots in {out}")
    return 0


def _write_splits(splits: dict, data_dir: Path, out: Path) -> None:
    """Keep the made splits beside the data, so later runs read them; a folder the user may not write to (shared,
    read-only data) gets them in the output folder instead, with a warning: the same --seed makes them again."""
    text = json.dumps(splits)
    try:
        (data_dir / "splits.json").write_text(text)
    except OSError as e:
        out.mkdir(parents=True, exist_ok=True)
        (out / "splits.json").write_text(text)
        logging.getLogger(__name__).warning("cannot write %s (%s); the seeded splits are in %s instead",
                                            data_dir / "splits.json", e.strerror or e, out / "splits.json")


def run_fit(args: argparse.Namespace) -> int:
    import shutil
    import time
    from pathlib import Path

    from ..data.catalog import Catalog
    from ..data.dataset import load_interactions, load_users, read_train_users
    from ..model.base_model import BaseModelConfig
    from ..ranking.recommender import Recommender, RecommenderConfig
    from ..ranking.shop import save_shop
    from ..training.fit import FitConfig, adapter_holdout, fit_shop

    out = Path(args.out)
    if out.exists():
        raise GenrecError(f"{out} already exists; choose another --out or remove it")
    config = FitConfig(holdout_share=args.holdout_share, seed=args.seed,
                       **({"collab": None} if args.no_collab_model else {}))
    catalog = Catalog.load(args.catalog)
    logs = sequences = load_interactions(Path(args.interactions), catalog)
    users = load_users(Path(args.users)) if args.users else {}
    if args.train_users:
        keep, cold = read_train_users(args.train_users, sequences)
        sequences = {u: [i for i in sequences[u] if i not in cold] for u in keep}
    holdout = None
    if args.holdout_users:
        held, held_items = read_train_users(args.holdout_users, logs, key="valid_cold_users", what="held-out")
        sequences = sequences | {u: logs[u] for u in held}  # their logs are the answers the weights are chosen on
        holdout = (held, held_items)
    elif args.adapter:  # as genrec eval --adapter: the model's weight is chosen on requests it never saw
        holdout = adapter_holdout(args.adapter, sequences)
    rec = None
    if args.adapter:
        rec = Recommender(catalog, adapter=args.adapter, config=RecommenderConfig(base=BaseModelConfig(
            path=args.base_model)))
    t = time.perf_counter()
    shop = fit_shop(catalog, sequences, users, config, recommender=rec, holdout=holdout)
    if args.adapter:
        shutil.copytree(args.adapter, out, ignore=shutil.ignore_patterns("shop.json", "shop_prior.npz"))
    save_shop(out, catalog, shop, exist_ok=bool(args.adapter))
    print(f"genrec: fitted in {time.perf_counter() - t:.0f} s on {len(sequences)} users; held-out NDCG@10 per "
          "request type:")
    print("\n".join(fit_summary(shop.manifest)))
    print(f"genrec: shop written to {out} (use it as --adapter {out})")
    return 0


def fit_summary(manifest: ShopManifest) -> list[str]:
    """A line per request type of a fit: its held-out NDCG@10 and cases; with an adapter, the model's weight and
    the best weight's paired gain over the prior alone on the cases the model scored (weight 0: that gain was not
    two standard errors, FitConfig.model_gain_se, and the model adds nothing measurable there)."""
    from ..evaluation.report import model_weights

    model = {w["request_type"]: w for w in model_weights({"": manifest.to_dict()})}
    lines = []
    for rtype, m in manifest.held_out.items():
        line = f"  {rtype:<28} {m['ndcg@10']:.4f}  ({m['cases']} cases)"
        if rtype in model:
            w = model[rtype]
            line += f"  model weight {w['model_weight']:g} " + (
                f"(best {w['best_weight']:g}: {w['best_gain']:+.4f} ± {w['best_gain_se'] or 0:.4f} on {w['cases']} "
                "cases)" if "best_gain" in w else f"(too few scored cases: {w['cases']})")
        lines.append(line)
    return lines


def _print(profile_label: str, recs, as_json: bool) -> None:
    if as_json:
        for rec in recs:
            print(json.dumps({"profile": profile_label, **asdict(rec)}, ensure_ascii=False))
        return
    print(f"\n== {profile_label}")
    if not recs:
        print("   (no items pass the filters)")
    for rec in recs:
        price = f"${rec.price:.2f}" if rec.price is not None else "-"
        print(f"{rec.rank:>3}. [{rec.item_id}] {rec.title}  {price}  (score {rec.score:.2f})")
        if rec.explanation:
            print(f"     why: {rec.explanation}")


def run_check_catalog(args: argparse.Namespace) -> int:
    from ..data.catalog import Catalog

    cat = Catalog.load(args.path)
    priced = sum(it.price is not None for it in cat)
    print(f"{args.path}: {len(cat)} items, {len(cat.categories())} categories, {priced} priced, "
          f"fingerprint {cat.fingerprint()}")
    return 0


def run_ui(args: argparse.Namespace) -> int:
    try:
        from . import ui
    except ImportError as e:  # gradio is the optional [ui] extra
        raise GenrecError(f"the UI needs gradio ({e}): pip install 'genrec[ui]'") from None
    ui.main(["--host", args.host, "--port", str(args.port)])
    return 0


def run_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from ..serving.app import ServeConfig, create_app
        from ..serving.batcher import BatchConfig
    except ImportError as e:  # fastapi, uvicorn and prometheus-client are the optional [serve] extra
        raise GenrecError(f"the service needs its extra ({e}): pip install 'genrec[serve]'") from None
    from ..data.catalog import Catalog

    if args.workers < 1 or not 0 < args.port < 65536:
        raise GenrecError("--workers must be >= 1 and --port within 1..65535")
    config = ServeConfig(catalog=args.catalog, adapter=args.adapter, logs=args.logs, base_model=args.base_model,
                         quantization=args.quantization, journal=args.journal, timeout_s=args.timeout_s,
                         batch=BatchConfig(args.max_batch, args.max_wait_ms, args.max_queue))
    # Mistakes in the files are one line here; the model itself loads after the port opens (/ready says when).
    if args.catalog:
        Catalog.load(args.catalog)
    for flag, path in (("--adapter", args.adapter if args.adapter != "none" else None), ("--logs", args.logs)):
        if path is not None and not Path(path).exists():
            raise GenrecError(f"{flag} {path}: not found")
    print(f"genrec: serving on http://{args.host}:{args.port} (API docs at /docs; /ready once the model is loaded)")
    run = {"host": args.host, "port": args.port, "timeout_graceful_shutdown": int(args.timeout_s) + 1,
           "log_level": "info" if args.verbose else "warning"}
    if args.workers == 1:
        uvicorn.run(create_app(config), **run)
    else:  # each worker builds its app from the config in the environment
        os.environ["GENREC_SERVE"] = json.dumps({**asdict(config), "batch": asdict(config.batch)})
        uvicorn.run("genrec.serving.app:from_env", factory=True, workers=args.workers, **run)
    return 0


def _given(**flags) -> dict:
    """The flags the user set: the others keep their config's default."""
    return {k: v for k, v in flags.items() if v is not None}


def run_train(args: argparse.Namespace) -> int:
    import torch

    from ..model.base_model import BaseModelConfig
    from ..model.item_ids import CodeConfig
    from ..training.train import TrainConfig, train
    from ..training.train_data import DataConfig

    quant = args.quantization or ("nf4" if torch.cuda.is_available() else "none")
    given = {"epochs": args.epochs, "max_steps": args.max_steps, "batch_size": args.batch_size,
             "grad_accum": args.grad_accum, "learning_rate": args.lr, "lora_r": args.lora_r,
             "lora_dropout": args.lora_dropout, "save_steps": args.save_steps, "seed": args.seed,
             "max_minutes": args.max_minutes}
    cfg = TrainConfig(catalog=args.catalog, interactions=args.interactions, users=args.users,
                      train_users=args.train_users, out=args.out,
                      base=BaseModelConfig(path=args.base_model, quantization=quant),
                      codes=CodeConfig(**_given(branching=args.branching, max_depth=args.max_depth)),
                      data=DataConfig(**_given(rec_per_user=args.rec_per_user)),
                      resume=args.resume, gradient_checkpointing=args.gradient_checkpointing,
                      **_given(**given), **({"fit": None} if args.no_fit else {}))
    print(f"genrec: adapter written to {train(cfg)}")
    return 0


def run_convert(args: argparse.Namespace) -> int:
    from ..data import convert
    from ..data.dataset import Dataset, make_splits

    if args.format == "amazon":
        if not args.meta:
            raise GenrecError("--format amazon needs --meta (the metadata file)")
        out = convert.amazon(args.input, args.meta, args.out)
    else:
        out = getattr(convert, args.format)(args.input, args.out)
    data = Dataset.load(out)  # validates what was written
    if args.make_splits:
        (out / "splits.json").write_text(json.dumps(make_splits(data, seed=args.seed)))
    print(f"wrote {out}: {len(data.catalog)} items, {len(data.sequences)} users, "
          f"{sum(map(len, data.sequences.values()))} interactions")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from ..evaluation.report import paired_by_cell, paired_test
    from ..evaluation.stats import format_p

    a, b = _per_user(args.run_a, args.system_a), _per_user(args.run_b, args.system_b)
    scored = sorted(k for k, v in a[0].items() if isinstance(v, float)) if a else []
    if args.metric not in scored:
        raise GenrecError(f"--metric {args.metric!r} is not in the per-user results; they hold {scored}")
    t = paired_test(a, b, args.metric)
    print(f"{t['metric']} per cell, A = {args.run_a}, B = {args.run_b}\n\n"
          "| protocol | setting | users | A | B | B - A | paired t p | Wilcoxon p | item-clustered p |\n"
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for (protocol, setting), c in paired_by_cell(a, b, args.metric).items():
        print(f"| {protocol} | {setting} | " + ("fewer than 2 shared users | | | | | | |" if c is None else
              f"{c['cases']} | {c['mean_a']:.4f} | {c['mean_b']:.4f} | {c['mean_b'] - c['mean_a']:+.4f} | "
              f"{c['t_test_p']:.3g} | {c['wilcoxon_p']:.3g} | {format_p(c['item_clustered_p'])} |"))
    print(f"\nall {t['cases']} shared cases: A {t['mean_a']:.4f}, B {t['mean_b']:.4f}, diff B - A "
          f"{t['mean_b'] - t['mean_a']:+.4f}; paired t-test p = {t['t_test_p']:.3g}, "
          f"Wilcoxon p = {t['wilcoxon_p']:.3g}")
    return 0


def _model_settings(args: argparse.Namespace) -> dict:
    if args.k < 1:
        raise GenrecError(f"-k must be >= 1, got {args.k}")
    return {"catalog": args.catalog, "adapter": args.adapter, "base_model": args.base_model,
            "quantization": args.quantization}


def run_demo(args: argparse.Namespace) -> int:
    from .. import api
    from ..data.profile import UserProfile

    rec = api.get_recommender(**_model_settings(args))
    for line in (api.DEMO_DIR / "profiles.jsonl").read_text().splitlines():
        profile = UserProfile.from_json(line)
        # The samples name demo items; with another catalog keep only the recent items it has.
        kept = tuple(r for r in profile.recent_items if r.item_id in rec.catalog)
        profile = replace(profile, recent_items=kept)
        label = ", ".join(f"{k}={v}" for k, v in profile.to_dict().items()) or "empty profile"
        _print(label, rec.recommend(profile, k=args.k, explain=not args.no_explain), args.json)
    return 0


def run_recommend(args: argparse.Namespace) -> int:
    from .. import api
    from ..data.profile import UserProfile

    settings = _model_settings(args)
    recs = api.recommend(UserProfile.from_json(args.profile), k=args.k, explain=not args.no_explain,
                         categories=args.category, min_price=args.min_price, max_price=args.max_price,
                         exclude=_ids(args.exclude), candidates=_ids(args.candidates), **settings)
    _print("recommendations", recs, args.json)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="genrec: %(message)s")
    try:
        return args.func(args)
    except GenrecError as e:  # a user mistake: one clear line, no traceback
        print(f"genrec: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("genrec: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # a folder not writable, a full disk: the system's own words and the path, no traceback
        print(f"genrec: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
