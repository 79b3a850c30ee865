"""How much a protocol B cell depends on which items were drawn as new: the text parts alone (text, nearest,
lexical: they need no logs) on the fit's own held-out `long` cases (users who took a held-out item, their other
items as the history, ranked among the whole catalog) for several seeded draws of the held-out items, beside the
test's own new items. Their spread is the item-level noise that genrec's item-clustered p accounts for
(benchmarks/results/cross_fitting/items.md).

    python benchmarks/item_draws.py --data DIR [--seeds 5]     # DIR with splits.json (genrec eval --make-splits)
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
from genrec.training.weight_search import PARTS, CaseScores

TEXT_PARTS = ("text", "nearest", "lexical")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    data = Dataset.load(args.data)
    view = training_view(data, "B")
    catalog, sequences = view.catalog, {u: s for u, s in view.sequences.items() if s}
    encoder = default_encoder()
    prior = ItemPrior(catalog, encode_catalog(catalog, encoder), encoder, PriorWeights(), lexical_index=True)
    mask = CatalogMask(catalog)

    def row(name: str, cases) -> None:
        scores = CaseScores(prior, mask, cases, progress=False)
        alone = scores.ndcg(list(range(len(cases))), np.eye(len(PARTS)))
        print(f"| {name} | {len(cases)} | " + " | ".join(f"{alone[PARTS.index(p)]:.4f}" for p in TEXT_PARTS) + " |")

    print("| held-out items | cases | " + " | ".join(TEXT_PARTS) + " |\n|" + " --- |" * (2 + len(TEXT_PARTS)))
    for seed in range(args.seeds):
        config = fit.FitConfig(seed=seed)
        held, cold = fit.split_holdout(catalog, sequences, config)
        users = fit.item_case_users(sequences, cold, set(held), config.max_item_case_users, seed)
        row(f"seed {seed}: {len(cold)}", [c for c in cold_item_cases(sequences, users, cold)
                                          if c.setting == "full" and len(c.profile.recent_items) > 3])
    test = [c for c in protocol_b(data, EvalConfig(seed=0)) if c.setting == "full" and len(c.profile.recent_items) > 3]
    row(f"the test's: {len(data.splits['cold_items'])}", test)


if __name__ == "__main__":
    main()
