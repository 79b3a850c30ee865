"""Fit the demo shop into the bundled demo adapter (adapters/demo): `python -m genrec.demo.fit_shop`.

The demo adapter was trained on the demo shoppers' train_users (cold items held out), so its model weight is
chosen on users it never saw: up to FitConfig.max_model_users of the splits' valid_cold_users, with the
splits' cold items as the new items; the prior's weights on those and other held-out users beside them
(genrec.training.fit). The signals are then fitted on the train and valid users' logs; the test
users stay untouched for `genrec eval`. Writes shop.json and shop_prior.npz into the adapter folder.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from genrec import api
from genrec.data.cases import MAX_COLD_KNOWN
from genrec.data.dataset import Dataset
from genrec.ranking.recommender import Recommender
from genrec.ranking.shop import save_shop
from genrec.training.fit import FitConfig, fit_shop


def main(adapter: Path | None = None) -> Path:
    adapter = adapter or api.demo_adapter()
    if adapter is None:
        raise SystemExit("no demo adapter folder to fit into")
    data = Dataset.load(api.DEMO_DIR / "shoppers")
    splits = json.loads((api.DEMO_DIR / "shoppers" / "splits.json").read_text())
    config = FitConfig()
    users = splits["train_users"] + splits["valid_cold_users"]
    sequences = {u: data.sequences[u] for u in users}
    valid = [u for u in splits["valid_cold_users"] if len(sequences[u]) > MAX_COLD_KNOWN]
    held = sorted(random.Random(config.seed).sample(valid, min(config.max_model_users, len(valid))))
    rec = Recommender(data.catalog, adapter=adapter, popularity={})  # the model alone; the fit gives the signals
    shop = fit_shop(data.catalog, sequences, data.users, config, recommender=rec,
                    holdout=(held, set(splits["cold_items"])))
    for name in ("shop.json", "shop_prior.npz"):
        (Path(adapter) / name).unlink(missing_ok=True)
    return save_shop(adapter, data.catalog, shop, exist_ok=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
