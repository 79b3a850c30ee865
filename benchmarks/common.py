"""Shared by the benchmark scripts: random requests over a catalog, and JSON + Markdown reports."""

from __future__ import annotations

import json
import os
import platform
import random
from pathlib import Path

import torch

from genrec import Catalog, UserProfile

RESULTS = Path(__file__).resolve().parent / "results"
WORDS = ["running", "camping", "coffee", "cats", "keyboard", "yoga", "books", "skincare", "tent", "dogs", "gift",
         "baking", "headphones", "puzzles", "office chair", "cycling"]


def random_request(rng: random.Random, catalog: Catalog) -> tuple[UserProfile, dict]:
    """A random cold-start profile (0-3 recent items) and random filters."""
    data = {"age": rng.choice([None, rng.randint(12, 85)]), "gender": rng.choice([None, "female", "male"]),
            "interests": rng.sample(WORDS, rng.randint(0, 3)),
            "free_text": rng.choice([None, "looking for a gift", f"new to {rng.choice(WORDS)}"]),
            "budget": rng.choice([None, 25, 80, 300]),
            "recent_items": [catalog[rng.randrange(len(catalog))].item_id for _ in range(rng.randint(0, 3))]}
    profile = UserProfile.from_dict({k: v for k, v in data.items() if v is not None})
    filters: dict = {}
    if rng.random() < 0.4:
        levels = sorted({it.category[min(rng.randrange(3), len(it.category) - 1)] for it in catalog})
        filters["categories"] = rng.sample(levels, 2)
    if rng.random() < 0.4:
        lo = rng.choice([0, 10, 50])
        filters["min_price"], filters["max_price"] = lo, lo + rng.choice([20, 100, 400])
    if rng.random() < 0.3:
        filters["exclude"] = [catalog[rng.randrange(len(catalog))].item_id for _ in range(20)]
    if rng.random() < 0.2:
        filters["candidates"] = [catalog[rng.randrange(len(catalog))].item_id for _ in range(rng.randint(1, 15))]
    return profile, filters


def machine() -> dict:
    return {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version(), "processor": platform.processor() or platform.machine()}


def write_report(name: str, data: dict, markdown: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown.rstrip() + "\n")
    print(markdown)
