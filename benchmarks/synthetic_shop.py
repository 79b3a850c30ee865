"""Writes a seeded synthetic shop in the genrec dataset layout, of a shape the team did not fit genrec on, so
`genrec eval --make-splits` can check that the fit carries over (and what it costs) beyond the demo and
amazon_office. Two shapes:

- `catalog`: a large catalog (default 30,000 items over 300 categories, made-up brands and words), short
  histories (geometric, mean ~11), taste = a user's own few categories mixed with their age band x gender's.
- `movies`: a MovieLens-1M-like shop (3,700 items with 1-3 of 18 genres and a year, descriptions as
  `genrec convert` writes them, users with MovieLens age groups, gender, occupation and zip code, long
  histories (mean ~165), taste by demographic group and genre).
- `export`: files as a shop's database exports them: CSV, numeric IDs, ISO 8601 dates (a repeat purchase now and
  then), age bands ("25-34", "55+", "unknown"), numeric occupation codes, postcodes, columns genrec does not know,
  items without description or brand (default 2,500 items in 40 categories, 5,000 users; taste by age band x
  gender, occupation and the user's own categories).

Nothing here is real data; the words are random syllables. The numbers come from `genrec eval` on the folder:
    python benchmarks/synthetic_shop.py --shape catalog --out /tmp/shop
    genrec eval --data /tmp/shop --make-splits --systems popularity,demographic,tfidf,embedding,itemknn,lightfm,llm \
        --max-users 300 --seed 0
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

SYLLABLES = ["ka", "lo", "mi", "ra", "ven", "tor", "zu", "pel", "dax", "rin", "sol", "mar", "quo", "fen", "bri",
             "tal"]
GENRES = ["Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
          "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"]
AGES = [1, 18, 25, 35, 45, 50, 56]  # MovieLens-1M's age groups
OCCUPATIONS = ["other", "academic/educator", "artist", "clerical/admin", "college/grad student",
               "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
               "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist", "self-employed",
               "technician/engineer", "tradesman/craftsman", "unemployed", "writer"]


def _write(path: Path, rows) -> None:
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def _interactions(rng: np.random.Generator, taste: np.ndarray, item_group: list[np.ndarray], pop: np.ndarray,
                  lengths: np.ndarray) -> list[list[int]]:
    """Each user's distinct items: item probability = popularity x the user's taste for the item's groups."""
    affinity = np.zeros(len(pop))
    out = []
    for t, n in zip(taste, lengths):
        affinity[:] = 0.0
        for g, items in enumerate(item_group):
            affinity[items] += t[g]
        p = pop * affinity
        p /= p.sum()
        n = int(min(n, np.count_nonzero(p)))
        out.append(rng.choice(len(pop), size=n, replace=False, p=p).tolist())
    return out


def catalog_shop(out: Path, items: int, users: int, seed: int) -> None:
    rng, r = np.random.default_rng(seed), random.Random(seed)
    word = lambda k=2: "".join(r.choice(SYLLABLES) for _ in range(k))  # noqa: E731
    nouns, adjs = [word(2) for _ in range(400)], [word(3) for _ in range(300)]
    n_cat = max(20, items // 100)
    cats = [f"{word(2).title()} > {word(3).title()} > {r.choice(nouns).title()}" for _ in range(n_cat)]
    brands = [word(3).title() for _ in range(max(30, items // 50))]
    cat_of = rng.integers(0, n_cat, items)
    cat_words = {c: r.sample(nouns, 5) + r.sample(adjs, 5) for c in range(n_cat)}
    rows = []
    for i in range(items):
        ws = cat_words[int(cat_of[i])]
        title = f"{r.choice(brands)} {r.choice(ws[5:]).title()} {r.choice(ws[:5]).title()} {r.randint(10, 999)}"
        desc = " ".join(r.choice(ws) if r.random() < .6 else r.choice(nouns + adjs) for _ in range(15))
        rows.append({"item_id": f"I{i:06d}", "title": title, "description": desc, "category": cats[cat_of[i]],
                     "brand": title.split()[0]})
    _write(out / "items.jsonl", rows)
    pop = np.minimum(rng.zipf(1.6, items).astype(float), 500)
    groups = [(a, g) for a in range(4) for g in ("female", "male")]
    group_taste = {gr: rng.dirichlet(np.full(n_cat, .05)) for gr in groups}
    by_cat = [np.nonzero(cat_of == c)[0] for c in range(n_cat)]
    people, inter = [], []
    for u in range(users):  # one step at a time: a repeated item is skipped, so seq numbers have gaps
        a, g = r.randrange(4), r.choice(("female", "male"))
        people.append({"user_id": f"U{u:06d}", "age": 18 + 12 * a + r.randrange(12), "gender": g})
        mix = .5 * group_taste[(a, g)] + .5 * rng.dirichlet(np.full(n_cat, .03))
        seen = set()
        for s in range(int(min(200, 2 + rng.geometric(.1)))):
            its = by_cat[rng.choice(n_cat, p=mix)]
            if len(its) == 0:
                continue
            it = int(rng.choice(its, p=pop[its] / pop[its].sum()))
            if it not in seen:
                seen.add(it)
                inter.append({"user_id": f"U{u:06d}", "item_id": f"I{it:06d}", "seq": s})
    _write(out / "users.jsonl", people)
    _write(out / "interactions.jsonl", inter)


def movies_shop(out: Path, items: int, users: int, seed: int) -> None:
    rng, r = np.random.default_rng(seed), random.Random(seed)
    word = lambda k: "".join(r.choice(SYLLABLES) for _ in range(k)).title()  # noqa: E731
    genre_sets, rows = [], []
    for i in range(items):
        gs = sorted(rng.choice(len(GENRES), size=r.choice((1, 1, 2, 2, 3)), replace=False,
                               p=np.linspace(2, 1, len(GENRES)) / np.linspace(2, 1, len(GENRES)).sum()))
        names, year = [GENRES[g] for g in gs], r.randint(1930, 2000)
        genre_sets.append(gs)
        rows.append({"item_id": str(i + 1), "title": f"{word(2)} {word(r.choice((1, 2, 3)))} ({year})",
                     "category": ["Movies", names[0]], "description": f"Genres: {', '.join(names)}.",
                     "attributes": {"genres": ", ".join(names)}})
    _write(out / "items.jsonl", rows)
    item_group = [np.array([i for i, gs in enumerate(genre_sets) if g in gs]) for g in range(len(GENRES))]
    groups = {(a, g): rng.dirichlet(np.full(len(GENRES), .3)) for a in AGES for g in "FM"}
    jobs = {o: rng.dirichlet(np.full(len(GENRES), .5)) for o in OCCUPATIONS}
    people = [(r.choice(AGES), r.choice("FM"), r.choice(OCCUPATIONS)) for _ in range(users)]
    taste = np.stack([.45 * groups[(a, g)] + .15 * jobs[o] + .4 * rng.dirichlet(np.full(len(GENRES), .2))
                      for a, g, o in people])
    pop = rng.lognormal(0.0, 1.5, items)
    seqs = _interactions(rng, taste, item_group, pop, np.minimum(items // 2, 20 + rng.geometric(1 / 145, users)))
    _write(out / "users.jsonl", ({"user_id": str(u + 1), "age": a, "gender": g, "occupation": o,
                                  "zip_code": f"{r.randint(1000, 99999):05d}"} for u, (a, g, o) in enumerate(people)))
    _write(out / "interactions.jsonl", ({"user_id": str(u + 1), "item_id": str(i + 1), "seq": s}
                                        for u, seq in enumerate(seqs) for s, i in enumerate(seq)))


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def export_shop(out: Path, items: int, users: int, seed: int) -> None:
    rng, r = np.random.default_rng(seed), random.Random(seed)
    word = lambda k: "".join(r.choice(SYLLABLES) for _ in range(k))  # noqa: E731
    depts = [word(2).title() for _ in range(8)]
    cats = [f"{depts[c % 8]} > {word(3).title()}" for c in range(40)]
    cat_words = [[word(2) for _ in range(6)] for _ in cats]
    cat_of = rng.integers(0, len(cats), items)
    rows = []
    for i in range(items):
        ws = cat_words[cat_of[i]]
        rows.append({"item_id": 100000 + i, "title": f"{r.choice(ws).title()} {word(2)} {r.randint(1, 99)}",
                     "category": cats[cat_of[i]], "brand": word(2).title() if r.random() < .7 else "",
                     "description": " ".join(r.choice(ws) if r.random() < .5 else word(2) for _ in range(12))
                     if r.random() < .8 else "", "price": round(r.uniform(1, 200), 2),
                     "image_url": f"https://img.example/{i}.jpg"})
    _write_csv(out / "items.csv", rows)
    bands = ["18-24", "25-34", "35-44", "45-54", "55+"]
    groups = {(b, g): rng.dirichlet(np.full(len(cats), .2)) for b in bands for g in "FM"}
    jobs = [rng.dirichlet(np.full(len(cats), .5)) for _ in range(10)]
    people = [(r.choice(bands), r.choice("FM"), r.randrange(10)) for _ in range(users)]
    taste = np.stack([.5 * groups[(b, g)] + .2 * jobs[o] + .3 * rng.dirichlet(np.full(len(cats), .1))
                      for b, g, o in people])
    item_group = [np.nonzero(cat_of == c)[0] for c in range(len(cats))]
    seqs = _interactions(rng, taste, item_group, rng.lognormal(0.0, 1.0, items), 2 + rng.geometric(.12, users))
    _write_csv(out / "users.csv", [{"user_id": 7000 + u, "age": b if r.random() > .05 else "unknown",
                                    "gender": g if r.random() > .1 else "", "occupation": o,
                                    "postcode": f"{r.randint(1000, 99999):05d}", "newsletter": r.random() < .3}
                                   for u, (b, g, o) in enumerate(people)])
    inter = []
    for u, seq in enumerate(seqs):
        day = r.randrange(300)
        for i in seq + ([seq[0]] if r.random() < .05 else []):  # now and then the first item bought again
            day += r.randint(1, 20)
            when = datetime(2024, 1, 1) + timedelta(days=day, hours=r.randrange(24))
            inter.append({"user_id": 7000 + u, "item_id": 100000 + i, "rating": r.randint(1, 5),
                          "timestamp": f"{when:%Y-%m-%dT%H:%M:%SZ}"})
    r.shuffle(inter)  # exports are not in time order
    _write_csv(out / "interactions.csv", inter)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", choices=("catalog", "movies", "export"), default="catalog")
    ap.add_argument("--out", required=True, help="folder to write (items, users, interactions; .jsonl or .csv)")
    ap.add_argument("--items", type=int, help="default: 30000 (catalog), 3700 (movies), 2500 (export)")
    ap.add_argument("--users", type=int, help="default: 20000 (catalog), 6040 (movies), 5000 (export)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if a.shape == "catalog":
        catalog_shop(out, a.items or 30000, a.users or 20000, a.seed)
    elif a.shape == "movies":
        movies_shop(out, a.items or 3700, a.users or 6040, a.seed)
    else:
        export_shop(out, a.items or 2500, a.users or 5000, a.seed)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
