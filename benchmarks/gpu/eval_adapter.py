"""Evaluate a trained adapter on a dataset's cold-start protocols, with the search weights chosen on the
validation users only; one base-model load serves every run (each run gets its own merged copy).

Tuning: a small grid over the model's weight, the prior's weight and the popularity weight, scored on
`valid_cold_users` (protocol A: the mean NDCG@10 of k=0 with interests and k=1..3). The best setting is then
run once on `test_cold_users` (protocol A) and protocol B, and written as a genrec eval report.
Run: python benchmarks/gpu/eval_adapter.py --data DIR --adapter DIR --out DIR [--base GGUF] [--valid-users 200]
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from dataclasses import asdict
from pathlib import Path

from genrec.base_model import BaseModelConfig, load_base_model
from genrec.dataset import Dataset
from genrec.decoding import SearchConfig
from genrec.evaluate import EvalConfig, evaluate, summarize, write_report
from genrec.recommender import Recommender, RecommenderConfig

GRID = {  # name: (model_weight, prior_weight, popularity_weight)
    "default": (1.0, 1.0, 1.0),
    "prior-0.5": (1.0, 0.5, 1.0),
    "pop-0.5": (1.0, 1.0, 0.5),
    "model-0.5": (0.5, 1.0, 1.0),
    "model-only": (1.0, 0.0, 0.0),
}
OBJECTIVE = ("k=0+interests", "k=1", "k=2", "k=3")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--adapter", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--base", default=None, help="base model (.gguf or HF folder); default: packaged Gemma")
    ap.add_argument("--valid-users", type=int, default=200, help="validation users sampled for tuning")
    ap.add_argument("--test-users", type=int, default=None, help="sample the test users (dry runs only)")
    ap.add_argument("--grid", default=",".join(GRID), help="grid points to try, by name")
    ap.add_argument("--batch-size", type=int, default=64, help="users per search")
    ap.add_argument("--seed", type=int, default=2024, help="seed of the user samples (genrec eval's default)")
    args = ap.parse_args()
    data = Dataset.load(args.data)
    base_cfg = BaseModelConfig(path=args.base)
    base, tok = load_base_model(base_cfg)

    def factory_for(weights):
        mw, pw, popw = weights
        cfg = RecommenderConfig(base=base_cfg, search=SearchConfig(model_weight=mw, prior_weight=pw),
                                popularity_weight=popw, batch_size=args.batch_size, cache_index=False)
        return lambda d, pop: Recommender(d.catalog, adapter=args.adapter, config=cfg, model=copy.deepcopy(base),
                                          tokenizer=tok, popularity=pop)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tuning = {}
    for name in args.grid.split(","):
        weights = GRID[name]
        t = time.perf_counter()
        cfg = EvalConfig(protocols=("A",), split="valid_cold_users", max_users=args.valid_users, seed=args.seed)
        run = evaluate(data, ["llm"], cfg, llm_factory=factory_for(weights))
        cells = {s["setting"]: s["ndcg@10"] for s in summarize(run, data)}
        tuning[name] = {"weights": weights, "objective": sum(cells[c] for c in OBJECTIVE) / len(OBJECTIVE),
                        "cells": cells, "wall_s": time.perf_counter() - t}
        print(name, json.dumps(tuning[name]), flush=True)
        (out / "tuning.json").write_text(json.dumps(tuning, indent=2))
    best = max(tuning, key=lambda n: tuning[n]["objective"])
    t = time.perf_counter()
    run = evaluate(data, ["llm"], EvalConfig(split="test_cold_users", max_users=args.test_users, seed=args.seed),
                   llm_factory=factory_for(GRID[best]))
    wall = time.perf_counter() - t
    mw, pw, popw = GRID[best]
    write_report(run, data, out / "test", ["llm"],
                 f"python benchmarks/gpu/eval_adapter.py --data {args.data} --adapter ADAPTER (chosen on valid: "
                 f"{best}: model_weight={mw}, prior_weight={pw}, popularity_weight={popw})")
    meta = json.loads((Path(args.adapter) / "genrec_adapter.json").read_text())
    (out / "summary.json").write_text(json.dumps({"chosen": best, "weights": GRID[best], "test_wall_s": wall,
                                                  "cases": len(run.per_user), "adapter_metrics": meta["metrics"],
                                                  "adapter_config": meta["config"],
                                                  "training_data": meta["training_data"],
                                                  "recommender": asdict(RecommenderConfig())}, indent=2))
    print("chosen", best, "test run", round(wall, 1), "s", flush=True)


if __name__ == "__main__":
    main()
