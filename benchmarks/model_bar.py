"""How often the fit gives an adapter's model a weight it has not earned, and how often it misses one it has:
the bar of `genrec.training.weight_search.choose_model_weight` (the best weight of the grid, judged on the cases
it was chosen on) against a cross-validated one (each user's cases judged under the weight the other users
chose, leave one user out), both at FitConfig.model_gain_se standard errors, on seeded simulated request types.
The cross-validated bar was tried in the fit on 2026-12-06 and taken out on this record: it let no fewer losing
weights through and served less of a real gain.

Each type has `--cases` held-out cases (one per user) over `--items` items: a popularity part shared by all and a
per-case taste part with some signal of the target, weighted 1 each as a fitted prior; the model's scores are
noise (`effect` 0: it knows nothing, any weight is a false pass) or noise plus `effect` on the target. This is
a study of the decision rule, not of ranking quality: the real models' gains are in the eval records. What a
rule serves a shop: per type, the chosen weight's gain over the prior alone on `--test-cases` fresh cases of the
same type (0 where the rule gives the model no weight), averaged over types.

Run: python benchmarks/model_bar.py [--types 1000] [--cases 150] [--test-cases 500] [--items 200] [--echo 0]
[--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import write_report
from tqdm.auto import tqdm

from genrec.evaluation.stats import mean_se, standard_error
from genrec.training.fit import FitConfig
from genrec.training.weight_search import PARTS, CaseScores, choose_model_weight, coordinate_ascent

POP, TASTE = PARTS.index("popularity"), PARTS.index("text")


def item_popularity(rng: np.random.Generator, items: int) -> np.ndarray:
    return np.log(1 + rng.zipf(1.6, items).clip(max=10_000)).astype(np.float64)


def draw_cases(rng: np.random.Generator, pop: np.ndarray, cases: int, effect: float, echo: float) -> CaseScores:
    """One request type's cases: a target drawn by popularity, a taste part with some signal of it, and the
    model's scores (noise, plus `effect` on the target, plus `echo` x popularity)."""
    p = np.exp(pop) / np.exp(pop).sum()
    parts, hits = [], []
    for _ in range(cases):
        hit = np.zeros(len(pop), dtype=bool)
        hit[rng.choice(len(pop), p=p)] = True
        m = np.zeros((len(PARTS), len(pop)))
        m[POP] = pop
        m[TASTE] = rng.normal(size=len(pop)) + 1.5 * hit
        m[0] = rng.normal(size=len(pop)) + effect * hit + echo * pop
        parts.append(m)
        hits.append(hit)
    return CaseScores.of_parts(parts, [np.ones(len(pop), dtype=bool)] * cases, hits)


def left_out_choice(per_case: np.ndarray) -> np.ndarray:
    """For each case (column of `per_case`: each candidate's score, rows, on each case; one case per user), the
    candidate with the best total over the other cases (ties to the first row, as np.argmax)."""
    return np.argmax(per_case.sum(1, keepdims=True) - per_case, axis=0)


def cross_validated_pass(scores: CaseScores, prior: np.ndarray, config: FitConfig) -> bool:
    """Does each case under the weight the other cases chose beat the prior alone by model_gain_se standard
    errors (and the tolerance)?"""
    grid = np.asarray(config.grid, dtype=np.float64)
    cand = np.tile(prior, (len(grid), 1))
    cand[:, 0] = grid
    per_case = scores.view(model_on=True).per_case(list(range(len(scores.hits))), cand)
    diff = per_case[left_out_choice(per_case), np.arange(per_case.shape[1])] - per_case[int(np.argmin(grid))]
    return bool(diff.mean() > max(config.model_gain_se * standard_error(diff), config.tolerance))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--types", type=int, default=1000, help="simulated request types per effect size")
    ap.add_argument("--cases", type=int, default=150, help="held-out cases (users) per type")
    ap.add_argument("--test-cases", type=int, default=500, help="fresh cases per type that score the choice")
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--effects", default="0,0.25,0.5,1", help="the model's lift of the target, in noise SDs")
    ap.add_argument("--echo", type=float, default=0.0,
                    help="the model's scores also echo popularity this much (a small LM favours what is common), "
                         "and the prior's weights are chosen on the cases first, as the fit does")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    config, rng, start = FitConfig(collab=None), np.random.default_rng(args.seed), time.time()
    unit = np.zeros(len(PARTS))
    unit[[POP, TASTE]] = 1.0
    rows = []
    for effect in (float(e) for e in args.effects.split(",")):
        passed, served = np.zeros((args.types, 2), dtype=bool), np.zeros((args.types, 2))
        for t in tqdm(range(args.types), desc=f"lift {effect:g}", unit="type"):
            pop = item_popularity(rng, args.items)
            valid = draw_cases(rng, pop, args.cases, effect, args.echo)
            prior = unit
            if args.echo:
                prior, _ = coordinate_ascent(valid, list(range(args.cases)), config.grid, config.passes,
                                             config.tolerance)
            w, held = choose_model_weight(valid, list(range(args.cases)), prior, 0.0, config)
            passed[t] = (w[0] > 0), cross_validated_pass(valid, prior, config)
            test = draw_cases(rng, pop, args.test_cases, effect, args.echo).view(model_on=True)
            w = np.stack([prior, prior])
            w[:, 0] = 0.0, held["best_weight"]
            gain = np.diff(test.ndcg(list(range(args.test_cases)), w))[0]
            served[t] = passed[t] * gain
        diff = served[:, 1] - served[:, 0]
        rows.append({"effect": effect, "types": args.types, "passes": passed.mean(0).tolist(),
                     "served_gain": [mean_se(served[:, 0]), mean_se(served[:, 1])],
                     "served_gain_cv_minus_in_sample": mean_se(diff),
                     "passes_with_a_test_loss": (passed & (served < 0)).mean(0).tolist()})
    command = "python benchmarks/model_bar.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items())
    md = ["# The model's weight: in-sample bar vs cross-validated bar (simulated request types)", "",
          f"Command: `{command}` ({time.time() - start:.0f} s on 2 CPU cores). Rule: a weight over 0 needs a gain of "
          f"{config.model_gain_se:g} standard errors (and {config.tolerance:g}) over the prior alone, over the grid "
          f"{list(config.grid)}, judged on the {args.cases} cases the weight was chosen on (in-sample) or each "
          "user's case under the weight the other users chose (cross-validated). Lift 0: the model's scores are "
          "noise. Served gain: NDCG@10 of the chosen weight minus the prior alone on "
          f"{args.test_cases} fresh cases of the type, 0 where the rule gives no weight, mean ± SE over types."
          + (f" The model's scores also echo popularity ({args.echo:g} x the popularity part), and the prior's "
             "weights were chosen on the same cases first, as the fit does: so the model can only re-weigh a part "
             "the prior already weighs." if args.echo else ""), "",
          "| lift | types | passes in-sample / CV | passes that lose on test, in-sample / CV | served gain in-sample "
          "| served gain CV | CV - in-sample |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        (a, sa), (b, sb), (d, sd) = r["served_gain"] + [r["served_gain_cv_minus_in_sample"]]
        md.append(f"| {r['effect']:g} | {r['types']} | {r['passes'][0]:.3f} / {r['passes'][1]:.3f} | "
                  f"{r['passes_with_a_test_loss'][0]:.3f} / {r['passes_with_a_test_loss'][1]:.3f} | "
                  f"{a:+.5f} ± {sa:.5f} | {b:+.5f} ± {sb:.5f} | {d:+.5f} ± {sd:.5f} |")
    name = "model_bar" + (f"_echo{args.echo:g}" if args.echo else "")
    config_used = {"grid": list(config.grid), "model_gain_se": config.model_gain_se, "tolerance": config.tolerance}
    write_report(name, {"command": command, "config": config_used, "rows": rows, "seconds": time.time() - start},
                 "\n".join(md))


if __name__ == "__main__":
    main()
