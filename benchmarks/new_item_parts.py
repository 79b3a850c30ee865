"""Which single part new items fall back to, and what it scores on the test's new items: for a dataset folder with
splits.json (e.g. `genrec eval --make-splits --seed S` on a copy of a shop without one, a draw of its new items),
fit genrec on protocol B's training view as `genrec eval` does, and print each part alone on the fit's held-out
new-item cases (all of them, and its worst half of the items) beside the same part alone on the test's new items
(B cold-only), with the part the worst-half rule (b482472) and today's rule (weight_search._new_items_part) pick.
Record: benchmarks/results/cross_fitting/items.md, last section.

    python benchmarks/new_item_parts.py --data DIR
"""

from __future__ import annotations

import argparse

import numpy as np

from genrec.data.dataset import Dataset
from genrec.evaluation.protocols import EvalConfig, protocol_b, training_view
from genrec.ranking.recommender import Recommender
from genrec.training import weight_search
from genrec.training.fit import FitConfig, fit_shop
from genrec.training.weight_search import PARTS, CaseScores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    args = ap.parse_args()
    held: dict[str, object] = {}
    rule = weight_search._new_items_part

    def watched(scores, idx, config):  # the fit's held-out new-item cases, where no blend passed
        live = list(scores.live_parts(idx))
        units = np.eye(len(PARTS))[live]
        halves = [scores.view(item_half=h).ndcg(list(idx), units) for h in range(2 * config.item_partitions)]
        held.update(live=live, all=scores.ndcg(idx, units), worst=np.min(halves, axis=0))
        chosen = rule(scores, idx, config)
        held["chosen"] = PARTS[int(np.argmax(chosen))]
        return chosen

    weight_search._new_items_part = watched
    data = Dataset.load(args.data)
    view = training_view(data, "B")
    shop = fit_shop(view.catalog, view.sequences, view.users, FitConfig(), progress=False)
    if not held:
        print("the new items' blend passed its bars: no part alone serves them", shop.manifest.weights["new-items"])
        return
    rec = Recommender(view.catalog)
    rec.use_shop(shop)
    cases = [c for c in protocol_b(data, EvalConfig()) if c.setting == "cold-only"]
    test = CaseScores(rec.prior, rec.mask, cases, progress=False)
    live = held["live"]
    on_test = test.ndcg(list(range(len(cases))), np.eye(len(PARTS))[live])
    print(f"| part | fit's held-out new items | their worst half | test's new items ({len(cases)} users) |")
    print("| --- | --- | --- | --- |")
    for p, a, w, t in zip(live, held["all"], held["worst"], on_test):
        print(f"| {PARTS[p]} | {a:.4f} | {w:.4f} | {t:.4f} |")
    print(f"worst-half rule: {PARTS[live[int(np.argmax(held['worst']))]]}; today's rule: {held['chosen']}")


if __name__ == "__main__":
    main()
