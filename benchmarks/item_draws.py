"""How much a protocol B cell depends on which items were drawn as new: the parts that read an item's own text
alone (text, nearest, lexical: they need no logs), and their even blend standardised (what a fit's `long` type
rests on unless a part or a searched blend clearly beats it: genrec.training.weight_search._mixed_choice), on
the fit's own held-out `long` cases (users who took a held-out item, their other items as the history, ranked
among the whole catalog) for several seeded draws of the held-out items, beside the test's own new items. Their
spread is the item-level noise that genrec's item-clustered p accounts for (benchmarks/results/cross_fitting/items.md,
benchmarks/results/new_item_draws.md). Several folders: one row each; `--seeds 0`: the tests' new items only.
With several seeds, also how four rules for choosing between the best part and the even blend do on each draw
when chosen on the shop's other draws (rule_shares).

    python benchmarks/item_draws.py --data DIR [DIR ...] [--seeds 5]   # DIRs with splits.json (--make-splits)
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from genrec.data.cases import cold_item_cases
from genrec.data.dataset import Dataset
from genrec.evaluation.protocols import EvalConfig, protocol_b, training_view
from genrec.model.embed import default_encoder, encode_catalog
from genrec.ranking.contract import CatalogMask
from genrec.ranking.prior import ItemPrior, PriorWeights
from genrec.training import fit
from genrec.training.weight_search import PARTS, CaseScores, _even_own_text

TEXT_PARTS = ("text", "nearest", "lexical")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, nargs="+")
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    print("| shop | held-out items | cases | " + " | ".join(TEXT_PARTS) + " | even blend |\n|"
          + " --- |" * (4 + len(TEXT_PARTS)))
    shops = {folder: np.array(draws(folder, args.seeds)) for folder in args.data}
    rows = np.concatenate(list(shops.values()))
    if len(rows) > 1:  # how far each choice trails the row's best part alone
        best = rows[:, :len(TEXT_PARTS)].max(1)
        for k, name in enumerate((*TEXT_PARTS, "even blend")):
            ratio = rows[best > 0, k] / best[best > 0]
            print(f"{name}: mean share of the best part alone {ratio.mean():.3f}, lowest {ratio.min():.3f}")
    if args.seeds > 1:
        print_rules(shops)


RULES = ("best part alone", "even blend always", "better of the two, in-sample", "the fit's rule")


def rule_shares(draws_: np.ndarray) -> np.ndarray:
    """(draws, RULES): each rule's pick, chosen on the mean of the shop's other draws (standing in for a fit's
    pooled held-out items), as a share of the best part alone on the draw left out. The fit's rule
    (weight_search._mixed_choice) takes the even blend where it beats the split-half cross-validated choice of
    one part (each half of the other draws picks the part the other half is scored on), else the best part."""
    out = []
    for j, left_out in enumerate(draws_):
        best = left_out[:len(TEXT_PARTS)].max()
        if best <= 0:
            continue
        rest = np.delete(draws_, j, 0)
        mean = rest.mean(0)
        part = int(np.argmax(mean[:len(TEXT_PARTS)]))
        picks = (part, len(TEXT_PARTS), int(np.argmax(mean)),
                 len(TEXT_PARTS) if mean[-1] > _one_part_cv(rest) else part)
        out.append([left_out[k] / best for k in picks])
    return np.array(out).reshape(-1, len(RULES))


def _one_part_cv(draws_: np.ndarray) -> float:
    """Split-half cross-validation over draws of choosing the best part alone: every balanced halving, each half
    choosing the part that the other half scores."""
    n, got = len(draws_), []
    for a in itertools.combinations(range(n), n // 2):
        b = [i for i in range(n) if i not in a]
        ma, mb = draws_[list(a)].mean(0), draws_[b].mean(0)
        got.append((mb[np.argmax(ma[:len(TEXT_PARTS)])] + ma[np.argmax(mb[:len(TEXT_PARTS)])]) / 2)
    return float(np.mean(got))


def print_rules(shops: dict[str, np.ndarray]) -> None:
    """Each rule's mean share per shop, leaving each draw out in turn (the test's draw among them), and overall."""
    print("\n| shop | " + " | ".join(RULES) + " |\n|" + " --- |" * (1 + len(RULES)))
    every = []
    for folder, draws_ in shops.items():
        shares = rule_shares(draws_)
        every.append(shares)
        print(f"| {folder} | " + " | ".join(f"{v:.3f}" for v in shares.mean(0)) + " |")
    every = np.concatenate(every)
    print("| every draw (mean; lowest) | " + " | ".join(f"{m:.3f}; {lo:.3f}" for m, lo in
                                                       zip(every.mean(0), every.min(0))) + " |")


def draws(folder: str, seeds: int) -> list[list[float]]:
    """The rows of one shop: `seeds` seeded draws of the fit's held-out items, then the test's new items."""
    data = Dataset.load(folder)
    view = training_view(data, "B")
    catalog, sequences = view.catalog, {u: s for u, s in view.sequences.items() if s}
    encoder = default_encoder()
    prior = ItemPrior(catalog, encode_catalog(catalog, encoder), encoder, PriorWeights(), lexical_index=True)
    # the fit leaves the items without logs out of its held-out cases (fit_shop); the test ranks them
    fit_mask, test_mask = CatalogMask(catalog, frozenset(fit.unlogged(catalog, sequences))), CatalogMask(catalog)
    rows = []

    def row(name: str, cases, mask: CatalogMask) -> None:
        scores = CaseScores(prior, mask, cases, progress=False)
        idx = list(range(len(cases)))
        alone = scores.ndcg(idx, np.eye(len(PARTS)))
        values = [alone[PARTS.index(p)] for p in TEXT_PARTS]
        z = scores.view(standardised=True)
        values.append(z.ndcg(idx, _even_own_text(z, idx)[None])[0])  # the blend the fit weighs (_mixed_choice)
        rows.append(values)
        print(f"| {folder} | {name} | {len(cases)} | " + " | ".join(f"{v:.4f}" for v in values) + " |", flush=True)

    for seed in range(seeds):
        config = fit.FitConfig(seed=seed)
        held, cold = fit.split_holdout(catalog, sequences, config)
        users = fit.item_case_users(sequences, cold, set(held), config.max_item_case_users, seed)
        row(f"seed {seed}: {len(cold)}", [c for c in cold_item_cases(sequences, users, cold)
                                          if c.setting == "full" and len(c.profile.recent_items) > 3], fit_mask)
    test = [c for c in protocol_b(data, EvalConfig(seed=0)) if c.setting == "full" and len(c.profile.recent_items) > 3]
    row(f"the test's: {len(data.splits['cold_items'])}", test, test_mask)
    return rows


if __name__ == "__main__":
    main()
