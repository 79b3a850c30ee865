"""genrec with tuned search weights on a dataset's cold-start protocols, against the baselines, with ablations.

On the validation users the model runs once per distinct prompt (exhaustive scoring: `Recommender.edge_logits`,
every item's exact log-probability, cached on disk), so any mix of model and prior weights is then scored
without the model. The weights (model, and the prior's text / lexical / interest / popularity / collab parts)
are chosen by grid search on a sample of `valid_cold_users` only (objective: mean NDCG@10 over k=0 with
interests and k=1..3), then applied once to `test_cold_users` (protocol A) and protocol B. The weights for
requests that allow new items only (RecommenderConfig.new_items_*: model, text, lexical) are chosen on the
validation users' protocol B cold-only cases (their cold items ranked from their warm ones); protocol B's
test then leaves those users out. Systems:
  genrec          model + prior, weights tuned on valid; on test it runs the beam search of recommend(), in
                  the reference cells (k=0 with interests, k=1..3, cold-only)
  genrec-prior    the prior alone (model weight 0), its weights tuned on valid: what the adapter adds
  genrec-model    the model alone (no prior), on valid only (tuning.json): what the adapter knows by itself
plus the baselines on the same cases (paired tests in the report). Protocol A systems learn from the
training users' logs, protocol B systems from every user's warm items, as in `genrec eval`.
Run: python benchmarks/tuned_eval.py --data ../shared/data/amazon_office [--adapter DIR] --out DIR
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from genrec.base_model import BaseModelConfig
from genrec.dataset import Dataset
from genrec.evaluate import (
    EvalConfig,
    Run,
    build_system,
    case_row,
    paired_test,
    protocol_a,
    protocol_b,
    summarize,
    training_view,
    write_report,
)
from genrec.prior import ItemPrior, PriorWeights, category_similarity, item_similarity
from genrec.recommender import Recommender, RecommenderConfig

A_SETTINGS = ("k=0", "k=0+interests", "k=1", "k=2", "k=3")
OBJECTIVE = ("k=0+interests", "k=1", "k=2", "k=3")
MODEL_SETTINGS = OBJECTIVE + ("cold-only",)  # where genrec runs on test: the reference cells
# text + lexical > 0 always (points without any text match are skipped): for cold items text is all there is.
GRID = {"model": (0.0, 0.25, 0.5, 1.0, 2.0), "text": (0.0, 5.0, 10.0, 20.0, 40.0),
        "lexical": (0.0, 5.0, 10.0, 20.0, 40.0), "interest": (0.0, 1.0, 3.0, 10.0),
        "popularity": (0.0, 0.5, 1.0, 2.0), "collab": (0.0, 5.0, 10.0, 20.0, 40.0)}
NAMES = ("text", "lexical", "interest", "popularity", "collab")
BASELINES = ("popularity", "tfidf", "embedding", "itemknn")


PARTS = ("model", "text", "lexical", "interest", "popularity", "collab", "budget")


class Scored:
    """Cases with their score parts as one matrix each: rows PARTS (model log-probabilities under the case's
    filters, then the prior parts; a part that does not apply is 0), so any weights rank by one product."""

    def __init__(self, rec: Recommender, prior: ItemPrior, cases: list, edges: dict[str, np.ndarray] | None):
        self.cases = cases
        self.allowed = [rec.mask.allowed(c.filters, c.profile) for c in cases]
        self.targets = [np.isin([it.item_id for it in rec.catalog], list(c.targets)) for c in cases]
        self.parts = []
        for c, allowed in zip(cases, self.allowed):
            m = np.zeros((len(PARTS), len(allowed)), dtype=np.float32)
            if edges is not None:
                m[0] = rec.trie.item_logprobs(edges[rec.prompt(c.profile)[0]], allowed)
            recent = [rec.catalog.get(r.item_id) for r in c.profile.recent_items]
            for name, v in prior.components(c.profile, recent).items():
                m[PARTS.index(name)] = v
            m[:, ~allowed] = 0.0
            self.parts.append(m)

    def top_n(self, m: np.ndarray, allowed: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
        """(grid, <= n) catalog positions, best first, ties in catalog order, for each row of `weights`."""
        score = np.where(allowed, weights @ m, -np.inf)  # (grid, items)
        take = min(n, int(allowed.sum()))
        if not take:
            return np.zeros((len(weights), 0), dtype=np.int64)
        top = np.argpartition(-score, take - 1, axis=1)[:, :take]
        keys = np.take_along_axis(score, top, 1)
        order = np.lexsort((top, -keys), axis=1)  # by score, then catalog order: deterministic
        return np.take_along_axis(top, order, 1)

    def ndcg(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Mean NDCG@10 per setting for each row of `weights` (gain 1 per target, as metrics.ndcg_at_k)."""
        disc = 1.0 / np.log2(np.arange(2, 12))
        sums: dict[str, list[np.ndarray]] = {}
        for m, allowed, hit, c in zip(self.parts, self.allowed, self.targets, self.cases):
            top = self.top_n(m, allowed, weights, 10)
            ideal = disc[: min(int(hit.sum()), 10)].sum()
            gains = hit[top] @ disc[: top.shape[1]] / ideal if ideal else np.zeros(len(weights))
            sums.setdefault(c.setting, []).append(gains)
        return {s: np.mean(v, 0) for s, v in sums.items()}


def weight_vector(model_weight: float, w: PriorWeights) -> np.ndarray:
    return np.array([model_weight, w.text, w.lexical, w.interest, w.popularity, w.collab, w.budget])


def model_edges(rec: Recommender, cases: list, cache: Path) -> dict[str, np.ndarray]:
    """Edge logits per distinct prompt, computed once and kept in `cache` (an .npz keyed by prompt text)."""
    prompts = sorted({rec.prompt(c.profile)[0] for c in cases})
    have = {}
    if cache.exists():
        data = np.load(cache, allow_pickle=False)
        have = dict(zip(data["prompts"].tolist(), data["edges"]))
    todo = [p for p in prompts if p not in have]
    by_prompt = {rec.prompt(c.profile)[0]: c.profile for c in cases}
    step = 64
    for start in tqdm(range(0, len(todo), step), desc=f"model scores ({len(todo)} prompts)", unit="chunk"):
        chunk = todo[start:start + step]
        for p, e in zip(chunk, rec.edge_logits([by_prompt[p] for p in chunk])):
            have[p] = e
        keys = sorted(have)
        np.savez(cache, prompts=np.array(keys), edges=np.stack([have[k] for k in keys]))
    return {p: have[p] for p in prompts}


def tune(scored: Scored, model_weights: tuple[float, ...]) -> tuple[float, PriorWeights, dict]:
    """The grid point with the best mean NDCG@10 over OBJECTIVE (the first such point on ties)."""
    points = [(mw, PriorWeights(**dict(zip(NAMES, values))))
              for mw in model_weights for values in itertools.product(*(GRID[n] for n in NAMES))
              if values[0] or values[1]]
    vectors = np.stack([weight_vector(mw, w) for mw, w in points])
    parts = [scored.ndcg(vectors[i:i + 1000]) for i in range(0, len(vectors), 1000)]
    cells = {s: np.concatenate([p[s] for p in parts]) for s in parts[0]}
    objective = np.mean([cells[s] for s in OBJECTIVE], 0)
    b = int(np.argmax(objective))
    mw, w = points[b]
    return mw, w, {"objective": float(objective[b]), "cells": {s: float(v[b]) for s, v in cells.items()},
                   "model_weight": mw, "prior": asdict(w), "grid_points": len(points)}


NEW_ITEMS_GRID = {"model": (0.0, 0.1, 0.25, 0.5, 1.0), "text": GRID["text"], "lexical": GRID["lexical"]}


def tune_new_items(scored: Scored, model_weights: tuple[float, ...], usual: PriorWeights
                   ) -> tuple[float, PriorWeights, dict]:
    """The (model, text, lexical) weights with the best mean NDCG@10 on cold-only cases (ties: the smaller model
    weight); popularity and collab are blank for new items, interest and budget stay as `usual`."""
    points = [(mw, replace(usual, text=t, lexical=lex, popularity=0.0, collab=0.0))
              for mw in model_weights for t in NEW_ITEMS_GRID["text"] for lex in NEW_ITEMS_GRID["lexical"] if t or lex]
    cells = scored.ndcg(np.stack([weight_vector(mw, w) for mw, w in points]))["cold-only"]
    b = int(np.argmax(cells))
    mw, w = points[b]
    return mw, w, {"objective": float(cells[b]), "model_weight": mw, "prior": asdict(w), "grid_points": len(points)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--adapter", default=None, help="adapter folder; default: zero-shot (model weight 0)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--base", default=None, help="base model (.gguf or HF folder); default: packaged Gemma")
    ap.add_argument("--batch-size", type=int, default=8, help="prompts per model pass")
    ap.add_argument("--valid-users", type=int, default=200, help="validation users sampled for tuning (0: all)")
    ap.add_argument("--test-users", type=int, default=None, help="sample the test users (dry runs only)")
    ap.add_argument("--seed", type=int, default=2024)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = Dataset.load(args.data)
    t0 = time.perf_counter()
    config = RecommenderConfig(base=BaseModelConfig(path=args.base), batch_size=args.batch_size)
    rec = Recommender(data.catalog, adapter=args.adapter, config=config)
    with_model = args.adapter is not None

    def cases_and_prior(protocol: str, split: str, max_users=None) -> tuple[list, ItemPrior]:
        cfg = EvalConfig(protocols=(protocol,), split=split, max_users=max_users, seed=args.seed)
        cases = protocol_a(data, cfg) if protocol == "A" else protocol_b(data, cfg)
        if protocol == "A":
            cases = [c for c in cases if c.setting in A_SETTINGS]
        logs, _ = training_view(data, protocol)
        pop = Dataset(data.catalog, logs).popularity()
        prior = ItemPrior(data.catalog, rec.prior.item_emb, rec.encoder, PriorWeights(lexical=1.0), popularity=pop,
                          similarity=item_similarity(data.catalog, logs),
                          categories=category_similarity(data.catalog, logs))  # every part built; weights come later
        return cases, prior

    cases, prior = cases_and_prior("A", "valid_cold_users", args.valid_users or None)
    edges = model_edges(rec, cases, out / "edges_valid.npz") if with_model else None
    valid = Scored(rec, prior, cases, edges)
    valid_users = set(data.splits["valid_cold_users"])
    cases_b, prior_b = cases_and_prior("B", "valid_cold_users")
    cases_b = [c for c in cases_b if c.user in valid_users and c.setting == "cold-only"]
    edges_b = model_edges(rec, cases_b, out / "edges_valid_new_items.npz") if with_model else None
    valid_new = Scored(rec, prior_b, cases_b, edges_b)
    t_valid = time.perf_counter()
    chosen = {"genrec-prior": tune(valid, (0.0,))}
    new_items = {"genrec-prior": tune_new_items(valid_new, (0.0,), chosen["genrec-prior"][1])}
    if with_model:
        chosen["genrec"] = tune(valid, GRID["model"][1:])
        new_items["genrec"] = tune_new_items(valid_new, NEW_ITEMS_GRID["model"], chosen["genrec"][1])
        model_only = PriorWeights(text=0, lexical=0, interest=0, popularity=0, collab=0, budget=0)
        cells = valid.ndcg(weight_vector(1.0, model_only)[None])
        chosen["genrec-model"] = (1.0, model_only, {"cells": {s: float(v[0]) for s, v in cells.items()}})
    t_tune = time.perf_counter()
    print(json.dumps({k: v[2] for k, v in chosen.items()}, indent=1),
          json.dumps({k: v[2] for k, v in new_items.items()}, indent=1), flush=True)

    # Test: the prior alone is ranked exactly (no model); genrec runs its beam search (the recommend() path)
    # with the chosen weights, as a shop would; the model-only ablation is reported on valid only.
    run = Run()
    cold = set(data.splits.get("cold_items", []))
    for protocol in ("A", "B"):
        cases, prior = cases_and_prior(protocol, "test_cold_users", args.test_users)
        if protocol == "B":
            cases = [c for c in cases if c.user not in valid_users]  # their cold items chose the new-items weights
        scored = Scored(rec, prior, cases, None)
        for i, c in enumerate(cases):  # the prior alone, with the new-items weights where only new items are allowed
            mw, w, _ = (new_items if prior.new_items_only(scored.allowed[i]) else chosen)["genrec-prior"]
            top = scored.top_n(scored.parts[i], scored.allowed[i], weight_vector(mw, w)[None], 20)[0]
            run.per_user.append(case_row("genrec-prior", c, [data.catalog[int(j)].item_id for j in top], data, cold))
        if with_model:
            mw, prior.weights, _ = chosen["genrec"]
            rec.prior, rec.model_weight = prior, mw
            rec.new_items_model_weight, rec.new_items_prior, _ = new_items["genrec"]
            mine = [c for c in cases if c.setting in MODEL_SETTINGS]  # the cells compared (model time is dear)
            ranked = rec.rank_batch([c.profile for c in mine], [c.filters for c in mine], 20)
            for c, r in zip(mine, ranked):
                run.per_user.append(case_row("genrec", c, [data.catalog[i].item_id for i, _ in r], data, cold))
        for name in BASELINES:
            system = build_system(name, data, protocol)
            ranked = system.rank_batch([c.profile for c in cases], [c.filters for c in cases], 20)
            for c, r in zip(cases, ranked):
                run.per_user.append(case_row(name, c, [data.catalog[i].item_id for i, _ in r], data, cold))
    systems = [n for n in ("genrec", "genrec-prior") if n in chosen] + list(BASELINES)
    write_report(run, data, out, systems, f"python benchmarks/tuned_eval.py --data {args.data} --adapter "
                                          f"{'ADAPTER' if with_model else 'none'} --out {out}")
    comparisons = []  # per setting: genrec (or the prior) against the best baseline, and against the prior alone
    summary = summarize(run, data)
    ours = "genrec" if with_model else "genrec-prior"
    for protocol, setting in sorted({(x["protocol"], x["setting"]) for x in summary}):
        cell = [x for x in summary if (x["protocol"], x["setting"]) == (protocol, setting)]
        best = max((x for x in cell if x["system"] in BASELINES), key=lambda x: x["ndcg@10"])["system"]
        rows = {n: [r for r in run.per_user if (r["system"], r["protocol"], r["setting"]) == (n, protocol, setting)]
                for n in (ours, best, "genrec-prior")}
        if not rows[ours]:
            continue
        comparisons.append({"protocol": protocol, "setting": setting, "vs": best,
                            **paired_test(rows[ours], rows[best])})
        if with_model:
            comparisons.append({"protocol": protocol, "setting": setting, "vs": "genrec-prior",
                                **paired_test(rows[ours], rows["genrec-prior"])})
    meta = rec.adapter_meta
    (out / "tuning.json").write_text(json.dumps({
        "chosen_on": "valid_cold_users", "valid_cases": len(valid.cases),
        "chosen": {k: v[2] for k, v in chosen.items()}, "comparisons": comparisons,
        "new_items_chosen_on": f"valid_cold_users' protocol B cold-only cases ({len(valid_new.cases)})",
        "new_items_chosen": {k: v[2] for k, v in new_items.items()},
        "grid": GRID, "objective": OBJECTIVE, "wall_s": {"load_and_valid_scores": t_valid - t0,
                                                          "tuning": t_tune - t_valid,
                                                          "test": time.perf_counter() - t_tune},
        "adapter_metrics": meta.get("metrics"), "adapter_config": meta.get("config"),
        "training_data": meta.get("training_data")}, indent=2))
    print("done", round(time.perf_counter() - t0, 1), "s", flush=True)


if __name__ == "__main__":
    main()
