"""How much a protocol B cell depends on which items were drawn as new: the parts that read an item's own text
alone (text, nearest, lexical: they need no logs), and their even blend standardised (what a fit's `long` type
rests on unless a part or a searched blend clearly beats it: genrec.training.weight_search._mixed_choice), on
the fit's own held-out `long` cases (users who took a held-out item, their other items as the history, ranked
among the whole catalog) for several seeded draws of the held-out items, beside the test's own new items. Their
spread is the item-level noise that genrec's item-clustered p accounts for (benchmarks/results/cross_fitting/items.md,
benchmarks/results/new_item_draws.md). Several folders: one row each; `--seeds 0`: the tests' new items only.

    python benchmarks/item_draws.py --data DIR [DIR ...] [--seeds 5]   # DIRs with splits.json (--make-splits)
"""

from __future__ import annotations

import argparse

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
    rows = [row for folder in args.data for row in draws(folder, args.seeds)]
    if len(rows) > 1:  # how far each choice trails the row's best part alone
        best = [max(r[:len(TEXT_PARTS)]) for r in rows]
        for k, name in enumerate((*TEXT_PARTS, "even blend")):
            ratio = [r[k] / b for r, b in zip(rows, best) if b > 0]
            print(f"{name}: mean share of the best part alone {np.mean(ratio):.3f}, lowest {min(ratio):.3f}")


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
