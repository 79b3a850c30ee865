"""Catalog trie at scale: build time, bytes per item and the per-step lookup cost of a 10-beam search step,
for 1k to 1M items with codes of branching 64 plus END, as short as keeps random codes sparse (2 levels at 1k,
3 at 10k, 4 at 100k and 1M, close to what hierarchical k-means codes give).

Codes here are random (the trie's cost does not depend on what the codes mean). Run:
python benchmarks/trie_scale.py
"""

from __future__ import annotations

import time

import numpy as np
from common import machine, write_report

from genrec.ranking.trie import CodeTrie

END, B = 0, 64


def main() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for n in (1_000, 10_000, 100_000, 1_000_000):
        depth = next(d for d in range(1, 8) if B**d >= 4 * n)
        codes = set()
        while len(codes) < n:  # distinct random codes, one token range per level
            block = rng.integers(0, B, size=(n, depth)) + 1 + B * np.arange(depth)
            codes.update(map(tuple, block.tolist()))
        seqs = [list(c) + [END] for c in list(codes)[:n]]
        t = time.perf_counter()
        trie = CodeTrie(seqs, list(range(n)), END)
        build = time.perf_counter() - t
        # one search step: 10 live beams at the deepest internal level expand their children
        nodes = np.array([trie.parent[trie.parent[np.nonzero(trie.node_item >= 0)[0][i]]] for i in range(10)])
        reps = 2000
        t = time.perf_counter()
        for _ in range(reps):
            child, mask = trie.expand(nodes)
            trie.node_token[child]
        step_us = (time.perf_counter() - t) / reps * 1e6
        # a filtered request (half the items allowed): mask the one trie vs build a trie of the allowed items
        allowed = rng.random(n) < 0.5
        t = time.perf_counter()
        trie.subtree_allowed(allowed)
        mask_s = time.perf_counter() - t
        keep = np.nonzero(allowed)[0]
        t = time.perf_counter()
        CodeTrie([seqs[i] for i in keep], keep.tolist(), END)
        rebuild_s = time.perf_counter() - t
        prior = np.log(rng.dirichlet(np.ones(n)))
        t = time.perf_counter()
        trie.subtree_logmass(prior)
        logmass_s = time.perf_counter() - t
        rows.append({"items": n, "code_length": depth, "build_s": build, "bytes_per_item": trie.nbytes / n,
                     "lookup_us_per_step_10_beams": step_us, "filter_mask_s": mask_s,
                     "filter_rebuild_s": rebuild_s, "prior_subtree_mass_s": logmass_s})
    md = ["# Catalog trie at scale (random codes, branching 64, + END)", "",
          f"Machine: {machine()}. Command: `python benchmarks/trie_scale.py`.", "",
          "A filtered request (half the items allowed, at random) masks the one trie (`subtree_allowed`); before, "
          "it built a trie over the allowed items. The prior's subtree mass is the same bottom-up pass.", "",
          "| items | code length | build (s) | bytes / item | lookup per step, 10 beams (µs) | filter: mask (s) | "
          "filter: rebuild, before (s) | prior subtree mass (s) |",
          "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    md += [f"| {r['items']:,} | {r['code_length']} | {r['build_s']:.2f} | {r['bytes_per_item']:.1f} | "
           f"{r['lookup_us_per_step_10_beams']:.1f} | {r['filter_mask_s']:.4f} | {r['filter_rebuild_s']:.3f} | "
           f"{r['prior_subtree_mass_s']:.4f} |" for r in rows]
    write_report("trie_scale", {"machine": machine(), "results": rows}, "\n".join(md))


if __name__ == "__main__":
    main()
