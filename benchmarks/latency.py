"""recommend() latency on the demo catalog on this CPU: p50/p95 at k=10, explain off and on.

Two modes are timed: zero-shot (no adapter: the text prior ranks, explanations are the grounded facts) and
the adapter path (the LLM reads the prompt, scores every beam step and phrases the explanations in one batch).
Run: python benchmarks/latency.py [--requests 30] [--explained 10]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import numpy as np
from common import machine, random_request, write_report

from genrec.api import demo_catalog, get_recommender


def pct(xs, q):
    return float(np.percentile(np.asarray(xs), q))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=30, help="timed requests per explain-off mode")
    ap.add_argument("--explained", type=int, default=10, help="timed requests per explain-on mode")
    args = ap.parse_args()
    t = time.perf_counter()
    rec = get_recommender()
    load_s = time.perf_counter() - t
    catalog = demo_catalog()
    rows = []
    for mode, weight in (("zero-shot (prior)", 0.0), ("adapter path (model-scored)", 1.0)):
        rec.model_weight = weight
        rec.explain_with_model = weight > 0  # what an adapter switches on (see RecommenderConfig)
        for explain, n in ((False, args.requests), (True, args.explained)):
            rng = random.Random(0)
            rec.recommend(random_request(rng, catalog)[0], k=10, explain=explain)  # warm-up
            times = []
            for _ in range(n):
                profile, _filters = random_request(rng, catalog)
                t = time.perf_counter()
                rec.recommend(profile, k=10, explain=explain)
                times.append(time.perf_counter() - t)
            rows.append({"mode": mode, "explain": explain, "requests": n, "p50_s": pct(times, 50),
                         "p95_s": pct(times, 95), "mean_s": statistics.fmean(times)})
    data = {"catalog_items": len(catalog), "k": 10, "load_s": load_s, "machine": machine(), "results": rows,
            "command": "python benchmarks/latency.py"}
    md = [f"# recommend() latency, demo catalog ({len(catalog)} items), k=10, this CPU",
          "", f"Machine: {data['machine']}. Recommender load (cached checkpoint + index): {load_s:.1f} s.",
          "Unfiltered random cold-start profiles (0-3 recent items). Command: `python benchmarks/latency.py`.", "",
          "| search | explain | requests | p50 (s) | p95 (s) |", "| --- | --- | --- | --- | --- |"]
    md += [f"| {r['mode']} | {'on' if r['explain'] else 'off'} | {r['requests']} | {r['p50_s']:.3f} | "
           f"{r['p95_s']:.3f} |" for r in rows]
    write_report("latency", data, "\n".join(md))


if __name__ == "__main__":
    main()
