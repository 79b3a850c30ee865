"""What fitting a shop costs (`genrec fit`'s procedure, zero-shot): wall time per phase and peak memory, as the
shop's users grow. Simulated shoppers over the demo catalog (genrec.demo.simulate, any number of them) and,
given, a dataset folder as `genrec fit` would read it. Each shop is fitted in its own process, so each peak
RSS is its own.

Run: python benchmarks/fit_cost.py [--users 5000,100000] [--data ../shared/data/amazon_office] [--name fit_cost]
         [--cache DIR --passes 2]

With `--cache` (an empty folder) the fits keep their caches there (GENREC_CACHE) instead of the user's: pass 1 is a
shop's first fit, pass 2 a refit that finds the item text vectors of pass 1 (genrec.model.vector_cache).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

from common import machine, write_report


def fit_one(users: int, data: str | None) -> dict:
    """Fit one shop here and return what it cost."""
    from genrec.data.dataset import Dataset
    from genrec.training.fit import FitConfig, fit_shop

    if data:
        ds = Dataset.load(data)
        catalog, sequences, profiles, what = ds.catalog, ds.sequences, ds.users, data
    else:
        from genrec import api
        from genrec.data.catalog import Catalog
        from genrec.demo.simulate import simulate

        catalog = Catalog.load(api.DEMO_DIR / "catalog.jsonl")
        rows, inter = simulate(catalog, users, seed=1)
        sequences, profiles = {}, {r.pop("user_id"): r for r in rows}
        for r in inter:
            sequences.setdefault(r["user_id"], []).append(r["item_id"])
        what = f"{users:,} simulated shoppers over the demo catalog"
    t = time.perf_counter()
    shop = fit_shop(catalog, sequences, profiles, FitConfig(), progress=False)
    wall = time.perf_counter() - t
    d = shop.manifest.data
    return {"shop": what, "users": d["users"], "items": d["items"], "interactions": d["interactions"],
            "held_out_users": d["held_out_users"], "cases": d["cases"], "collab_epochs": d["collab_epochs"],
            "fit_s": wall, "phases_s": d.get("seconds", {}),
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}  # Linux: KiB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", default="5000,100000", help="simulated shop sizes (users), comma-separated")
    ap.add_argument("--data", action="append", default=[], help="a dataset folder to fit as well (repeatable)")
    ap.add_argument("--name", default="fit_cost")
    ap.add_argument("--cache", help="GENREC_CACHE for the fits (default: the user's cache)")
    ap.add_argument("--passes", type=int, default=1, help="fit each shop this many times in a row")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: fit one shop in this process, print JSON
    args = ap.parse_args()
    if args.one:
        kind, value = args.one.split(":", 1)
        print(json.dumps(fit_one(int(value) if kind == "users" else 0, value if kind == "data" else None)))
        return
    runs = [f"data:{d}" for d in args.data] + [f"users:{n}" for n in args.users.split(",") if n]
    env = dict(os.environ, GENREC_CACHE=os.path.abspath(args.cache)) if args.cache else None
    rows = []
    for run in runs:  # the record is rewritten after each shop, so a long last one loses nothing before it
        for n in range(1, args.passes + 1):
            out = subprocess.run([sys.executable, __file__, "--one", run], check=True, capture_output=True,
                                 text=True, env=env)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]) | {"pass": n})
            print(rows[-1], flush=True)
            report(rows, args.name)


def report(rows: list[dict], name: str) -> None:
    cmd = "python benchmarks/fit_cost.py " + " ".join(sys.argv[1:])
    md = ["# What fitting a shop costs (zero-shot, `genrec fit`'s procedure)", "",
          f"Command: `{cmd}`; {machine()['cpu_count']} CPU cores, no GPU; each shop fitted in its own process.", "",
          "| shop | pass | users | items | interactions | held-out users | cases | collab epochs | fit (s) "
          "| peak RSS (GB) |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        md.append(f"| {r['shop']} | {r.get('pass', 1)} | {r['users']:,} | {r['items']:,} | {r['interactions']:,} "
                  f"| {r['held_out_users']:,} | {r['cases']:,} | {r['collab_epochs']} | {r['fit_s']:.0f} "
                  f"| {r['peak_rss_gb']:.2f} |")
    md += ["", "Seconds per phase:", "", "| shop | pass | " + " | ".join(rows[0]["phases_s"]) + " |",
           "| --- | --- |" + " --- |" * len(rows[0]["phases_s"])]
    md += [f"| {r['shop']} | {r.get('pass', 1)} | " + " | ".join(f"{v:.0f}" for v in r["phases_s"].values()) + " |"
           for r in rows]
    write_report(name, {"command": cmd, "machine": machine(), "runs": rows}, "\n".join(md))


if __name__ == "__main__":
    main()
