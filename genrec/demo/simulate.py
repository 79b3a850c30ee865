"""Shopper simulator for the demo adapter: personas whose demographics and interests drive purchases.

Each simulated shopper draws a persona (what they care about, typical age, gender mix, budget), a few
demographic details and a purchase sequence over the demo catalog: mostly items from the persona's
product types, preferring prices within budget and, after a first purchase, the same brand; 15% of
purchases explore any product. Nothing comes from real data. Seeded:
`python -m genrec.demo.simulate` rewrites genrec/demo/shoppers/ byte for byte.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from genrec.data.catalog import Catalog

HERE = Path(__file__).resolve().parent
# persona: (product types it buys, age range, share female, budget range, occupations)
PERSONAS = {
    "runner": (["Running Shoes", "Running Socks", "Hydration Vest", "GPS Running Watch", "Wireless Earbuds"],
               (18, 55), 0.5, (40, 200), ["teacher", "nurse", "engineer", "student"]),
    "camper": (["Tent", "Sleeping Bag", "Headlamp", "Camping Stove", "Power Bank", "Bluetooth Speaker"],
               (22, 60), 0.4, (30, 400), ["electrician", "park ranger", "engineer", "teacher"]),
    "home cook": (["Frying Pan", "Dutch Oven", "Cookbook", "Blender", "Electric Kettle"], (28, 75), 0.6,
                  (20, 250), ["retired", "chef", "accountant", "homemaker"]),
    "coffee lover": (["Coffee Maker", "Electric Kettle", "Notebook", "Novel"], (25, 65), 0.5, (20, 300),
                     ["designer", "writer", "barista", "manager"]),
    "developer": (["Keyboard", "Mouse", "USB-C Hub", "Office Chair", "Desk Lamp", "Over-Ear Headphones"],
                  (20, 50), 0.3, (30, 500), ["software developer", "data analyst", "student"]),
    "parent": (["Picture Book", "Building Set", "Jigsaw Puzzle", "Board Game", "Sunscreen"], (26, 48), 0.6,
               (10, 120), ["nurse", "teacher", "sales", "homemaker"]),
    "dog owner": (["Dog Leash", "Dog Bed", "Running Shoes", "Headlamp"], (20, 70), 0.5, (10, 150),
                  ["vet tech", "teacher", "retired", "engineer"]),
    "cat owner": (["Cat Tree", "Cat Litter", "Novel", "Pillow"], (20, 75), 0.7, (10, 200),
                  ["librarian", "designer", "student", "retired"]),
    "skincare fan": (["Moisturizer", "Sunscreen", "Shampoo", "Pillow", "Sheet Set"], (16, 60), 0.8,
                     (8, 120), ["student", "stylist", "marketing", "nurse"]),
    "student": (["Notebook", "Gel Pens", "Wireless Earbuds", "Desk Lamp", "Power Bank", "Board Game"], (17, 26),
                0.5, (5, 80), ["student"]),
    "fitness": (["Yoga Mat", "Adjustable Dumbbells", "Resistance Bands", "Wireless Earbuds", "Blender"],
                (18, 60), 0.55, (15, 400), ["personal trainer", "nurse", "manager", "student"]),
    "music lover": (["Over-Ear Headphones", "Bluetooth Speaker", "Wireless Earbuds", "Novel"], (16, 55), 0.45,
                    (25, 400), ["musician", "student", "producer", "teacher"]),
    "cyclist": (["Bike Helmet", "Headlamp", "Power Bank", "GPS Running Watch"], (18, 60), 0.35, (30, 400),
                ["engineer", "courier", "student", "architect"]),
    "groomer": (["Beard Trimmer", "Shampoo", "Moisturizer", "Wireless Earbuds"], (18, 60), 0.1, (8, 130),
                ["sales", "barber", "engineer", "student"]),
}
CITIES = ["Denver, CO", "Austin, TX", "Portland, OR", "Leeds, UK", "Toronto, ON", "Chicago, IL", "Dublin, IE",
          "Seattle, WA", "Manchester, UK", "Boston, MA"]


def simulate(catalog: Catalog, n_users: int = 2000, seed: int = 11) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    by_type: dict[str, list] = {}
    for it in catalog:
        by_type.setdefault(it.category[-1], []).append(it)
    users, inter = [], []
    for u in range(n_users):
        persona = rng.choice(sorted(PERSONAS))
        types, (lo, hi), female, (b_lo, b_hi), jobs = PERSONAS[persona]
        budget = rng.uniform(b_lo, b_hi)
        uid = f"S{u:05d}"
        users.append({"user_id": uid, "age": rng.randint(lo, hi), "gender": "female" if rng.random() < female
                      else "male", "location": rng.choice(CITIES), "occupation": rng.choice(jobs)})
        liked = rng.sample(types, k=min(len(types), rng.randint(2, 4)))
        seq, brands = [], set()
        for _ in range(rng.randint(5, 10)):
            pool = [it for t in liked for it in by_type.get(t, [])] if rng.random() > 0.15 else list(catalog)
            pool = [it for it in pool if it.item_id not in seq]
            weights = [(3.0 if (it.price or 0) <= budget else 0.4) * (3.0 if it.brand in brands else 1.0)
                       for it in pool]
            pick = rng.choices(pool, weights=weights)[0]
            seq.append(pick.item_id)
            brands.add(pick.brand)
        inter += [{"user_id": uid, "item_id": i, "seq": s} for s, i in enumerate(seq)]
    return users, inter


def main() -> None:
    catalog = Catalog.load(HERE / "catalog.jsonl")
    users, inter = simulate(catalog)
    out = HERE / "shoppers"
    out.mkdir(exist_ok=True)
    for name, rows in (("users", users), ("interactions", inter)):
        with (out / f"{name}.jsonl").open("w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
    print(f"wrote {len(users)} simulated shoppers and {len(inter)} purchases to {out}")


if __name__ == "__main__":
    main()
