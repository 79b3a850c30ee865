"""recommend() speed at 1k-1M items: latency with explanations off and on, memory, index build and size,
batch throughput, and in-process ratios against plain `generate()` and a full-vocabulary variant of genrec's
own search (ratios survive a noisy machine).

The model is the real base (with `--adapter`, merged, as Recommender serves it). Catalogs above the demo's
1,144 items are synthetic: random distinct codes of the adapter's scheme (branching 64 plus END, as short as
keeps them sparse: 2 levels at 1k, 3 at 10k, 4 at 100k and 1M) and random unit item embeddings for the text
prior; the i-th item is shown (and explained) as demo item i mod 1,144. A request is what recommend() does:
tokenize the prompt, compute the prior over all items, run the constrained beam search (k=10) with the model
scoring every step, and, with explanations on, phrase all 10 in one batch.
Run: python benchmarks/speed.py [--device cpu|cuda] [--sizes 1000,10000,100000,1000000] [--name speed]
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from common import machine, random_request, write_report

from genrec.api import demo_catalog
from genrec.model.base_model import BaseModelConfig, load_base_model
from genrec.model.item_ids import CodeConfig, reserved_token_ids
from genrec.model.prompts import render
from genrec.ranking.explain import explain_items
from genrec.ranking.lm_scorer import ModelScorer
from genrec.ranking.search import SearchConfig, beam_search_batch
from genrec.ranking.trie import CodeTrie

B = 64
K = 10


def pct(xs, q):
    return float(np.percentile(np.asarray(xs), q))


def synthetic_codes(n: int, reserved: np.ndarray, seed: int = 0) -> tuple[list[list[int]], int]:
    depth = next(d for d in range(1, 8) if B**d >= 4 * n)
    rng = np.random.default_rng(seed)
    picks = rng.choice(B**depth, size=n, replace=False)  # distinct codes
    digits = (picks[:, None] // B ** np.arange(depth - 1, -1, -1)[None, :]) % B
    tokens = reserved[1 + np.arange(depth)[None, :] * B + digits]
    return np.concatenate([tokens, np.full((n, 1), reserved[0])], 1).tolist(), depth + 1


class NullScorer:
    """Free random logits: times the search and trie work alone."""

    def __init__(self, users):
        self.users, self.rng = users, torch.Generator().manual_seed(0)

    def start(self):
        return torch.zeros(self.users, 1)

    def advance(self, parents, tokens):
        return torch.zeros(len(parents), 1)

    def logits(self, hidden, tokens):
        return torch.randn(tokens.shape, generator=self.rng)


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def peak_mem_gb(device) -> dict:
    out = {"peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}
    if device == "cuda":
        out["peak_gpu_gb"] = torch.cuda.max_memory_allocated() / 2**30
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--sizes", default="1000,10000,100000,1000000")
    ap.add_argument("--adapter", default="adapters/demo", help="adapter to merge (skipped if the folder is absent)")
    ap.add_argument("--base", default=None, help="base model path (default: packaged Gemma 3 270M)")
    ap.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16"], help="BaseModelConfig.dtype")
    ap.add_argument("--requests", type=int, default=20, help="timed requests per size, explain off")
    ap.add_argument("--explained", type=int, default=5, help="timed requests per size, explain on")
    ap.add_argument("--batch-sizes", default="1,2,4,8,16,32,64")
    ap.add_argument("--batch-items", type=int, default=10_000, help="catalog size for the throughput runs")
    ap.add_argument("--encoder", default="minilm", choices=["minilm", "random"],
                    help="profile encoder for the prior; 'random' where MiniLM is not installed (GPU machine)")
    ap.add_argument("--name", default="speed", help="report name under benchmarks/results/")
    args = ap.parse_args()
    device = args.device
    torch.manual_seed(0)
    t = time.perf_counter()
    model, tok = load_base_model(BaseModelConfig(path=args.base, device=device, dtype=args.dtype))
    adapter = Path(args.adapter)
    if (adapter / "adapter_config.json").exists():
        from genrec.model.adapters import attach

        model = attach(model, adapter).merge_and_unload()
        model.eval()
    else:
        adapter = None
    load_s = time.perf_counter() - t
    dtype = str(next(model.parameters()).dtype)
    if args.encoder == "minilm":
        from genrec.model.embed import default_encoder

        enc = default_encoder()
        encode = lambda text: enc.encode([text])[0]  # noqa: E731
    else:
        vec_rng = np.random.default_rng(1)
        encode = lambda text: (lambda v: v / np.linalg.norm(v))(vec_rng.standard_normal(384).astype(np.float32))  # noqa: E731
    demo = demo_catalog()
    reserved = np.asarray(reserved_token_ids(tok, CodeConfig().reserved_needed()), dtype=np.int64)
    cfg = SearchConfig()
    # Explanations phrased by the model, as with an adapter (a merged adapter costs what the base costs).
    explain_new = 32

    def build_request(rng):
        profile, _ = random_request(rng, demo)
        recent = [demo.get(r.item_id) for r in profile.recent_items]
        return profile, recent

    def prior(profile, recent, emb):
        parts = list(profile.interests) + [p for p in (profile.free_text,) if p] + [r.display_title for r in recent]
        z = emb @ encode("; ".join(parts) or "anything") / 0.05
        return z - np.logaddexp.reduce(z)

    def prepare(profiles_recents, emb):
        ids = [tok(render("recommend", profile=p, recent_items=r, description_chars=200))["input_ids"]
               for p, r in profiles_recents]
        return ids, [prior(p, r, emb) for p, r in profiles_recents]

    def search(ids, priors, trie, full_vocab=False, null=False):
        scorer = NullScorer(len(ids)) if null else ModelScorer(model, ids, tok.pad_token_id or 0, full_vocab)
        hits = beam_search_batch(scorer, trie, [K] * len(ids), cfg, priors, 1.0)
        sync(device)
        return hits

    def run(profiles_recents, trie, emb):
        return search(*prepare(profiles_recents, emb), trie)

    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    for n in sizes:
        seqs, length = synthetic_codes(n, reserved)
        t = time.perf_counter()
        trie = CodeTrie(seqs, list(range(n)), int(reserved[0]))
        build_s = time.perf_counter() - t
        del seqs
        emb = np.random.default_rng(2).standard_normal((n, 384), dtype=np.float32)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        rng = random.Random(0)
        run([build_request(rng)], trie, emb)  # warm-up
        off, model_s, full, null, gen_beam, gen_greedy, on = [], [], [], [], [], [], []
        for _ in range(args.requests):
            req = build_request(rng)
            t = time.perf_counter()
            ids, priors = prepare([req], emb)
            t1 = time.perf_counter()
            search(ids, priors, trie)
            t2 = time.perf_counter()
            off.append(t2 - t)
            model_s.append(t2 - t1)
            t = time.perf_counter()
            search(ids, priors, trie, full_vocab=True)
            full.append(time.perf_counter() - t)
            t = time.perf_counter()
            search(ids, priors, trie, null=True)
            null.append(time.perf_counter() - t)
            x = torch.tensor(ids, device=model.device)
            for beams, sink in ((10, gen_beam), (1, gen_greedy)):
                t = time.perf_counter()
                with torch.inference_mode():
                    model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=length,
                                   min_new_tokens=length, num_beams=beams, do_sample=False,
                                   pad_token_id=tok.pad_token_id)
                sync(device)
                sink.append(time.perf_counter() - t)
        for _ in range(args.explained):
            req = build_request(rng)
            t = time.perf_counter()
            hits = run([req], trie, emb)
            items = [demo[i % len(demo)] for i, _ in hits[0]]
            explain_items(model, tok, req[0], items, req[1], explain_new)
            sync(device)
            on.append(time.perf_counter() - t)
        p50, search_p50 = pct(off, 50), pct(model_s, 50)
        row = {"items": n, "code_length": length, "index_build_s": build_s, "trie_bytes_per_item": trie.nbytes / n,
               "prior_embedding_bytes_per_item": emb.itemsize * emb.shape[1],
               "p50_s": p50, "p95_s": pct(off, 95), "explain_on_p50_s": pct(on, 50), "explain_on_p95_s": pct(on, 95),
               "full_vocab_p50_s": pct(full, 50), "generate_beam10_p50_s": pct(gen_beam, 50),
               "generate_greedy_p50_s": pct(gen_greedy, 50), "search_p50_s": search_p50,
               "search_without_model_p50_s": pct(null, 50),
               "vs_generate_beam10": search_p50 / pct(gen_beam, 50), "vs_full_vocab": search_p50 / pct(full, 50),
               "search_overhead_share": pct(null, 50) / search_p50, **peak_mem_gb(device)}
        rows.append(row)
        print(row, flush=True)
        del trie, emb
    # ---- batch throughput --------------------------------------------------------------------------
    seqs, _ = synthetic_codes(args.batch_items, reserved)
    trie = CodeTrie(seqs, list(range(args.batch_items)), int(reserved[0]))
    emb = np.random.default_rng(2).standard_normal((args.batch_items, 384), dtype=np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    rng = random.Random(1)
    throughput = []
    for bs in [int(b) for b in args.batch_sizes.split(",")]:
        reqs = [build_request(rng) for _ in range(bs)]
        run(reqs, trie, emb)  # warm-up at this shape
        times = []
        for _ in range(3):
            t = time.perf_counter()
            run(reqs, trie, emb)
            times.append(time.perf_counter() - t)
        best = statistics.median(times)
        throughput.append({"batch": bs, "s_per_batch": best, "users_per_s": bs / best, "ms_per_user": 1000 * best / bs})
        print(throughput[-1], flush=True)
    data = {"device": device, "dtype": dtype, "adapter": str(adapter) if adapter else None, "k": K,
            "encoder": args.encoder, "load_s": load_s, "machine": machine(), "by_size": rows,
            "throughput": throughput, "throughput_items": args.batch_items, **peak_mem_gb(device),
            "command": "python benchmarks/speed.py " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in
                                                                vars(args).items() if v is not None)}
    if device == "cuda":
        data["gpu"] = torch.cuda.get_device_name()
    write_report(args.name, data, markdown(data))


def markdown(d: dict) -> str:
    where = d.get("gpu") or f"this CPU ({d['machine']['cpu_count']} cores)"
    md = [f"# recommend() speed on {where}, {d['dtype']}, k={d['k']}", "",
          f"Adapter: `{d['adapter']}` (merged into the base, so it costs what the base costs). Explain on: the "
          "model phrases all 10 explanations in one batch (32 new tokens at most), as with an adapter. "
          f"Profile encoder for the prior: {d['encoder']}. "
          f"Model load: {d['load_s']:.1f} s. Command: `{d['command']}`.", "",
          "| items | code len | index build (s) | trie B/item | prior emb B/item | p50 off (s) | p95 off (s) | "
          "p50 on (s) | p95 on (s) | / generate 10 beams | / full-vocab search | search+trie share | peak RSS (GB) |",
          "| " + " | ".join(["---"] * 13) + " |"]
    md += [f"| {r['items']:,} | {r['code_length']} | {r['index_build_s']:.2f} | {r['trie_bytes_per_item']:.1f} | "
           f"{r['prior_embedding_bytes_per_item']} | {r['p50_s']:.3f} | {r['p95_s']:.3f} | "
           f"{r['explain_on_p50_s']:.3f} | "
           f"{r['explain_on_p95_s']:.3f} | {r['vs_generate_beam10']:.2f}x | {r['vs_full_vocab']:.2f}x | "
           f"{100 * r['search_overhead_share']:.1f}% | {r['peak_rss_gb']:.1f} |" for r in d["by_size"]]
    md += ["", "Reference times (p50, s): " + "; ".join(
        f"{r['items']:,} items: generate 10 beams {r['generate_beam10_p50_s']:.3f}, greedy "
        f"{r['generate_greedy_p50_s']:.3f}; genrec's search {r['search_p50_s']:.3f}, its full-vocabulary variant "
        f"{r['full_vocab_p50_s']:.3f}, the search and trie without the model {r['search_without_model_p50_s']:.4f}"
        for r in d["by_size"]), "",
        "Ratios compare the search alone (prompt, prior and tokenization excluded) with `generate()` of the same "
        "prompt and number of tokens, and with the same search computing the full-vocabulary output layer.", "",
        f"Batch throughput ({d['throughput_items']:,} items, explain off, one search for the whole batch):", "",
        "| users per batch | s per batch | ms per user | users/s |", "| --- | --- | --- | --- |"]
    md += [f"| {t['batch']} | {t['s_per_batch']:.3f} | {t['ms_per_user']:.1f} | {t['users_per_s']:.1f} |"
           for t in d["throughput"]]
    return "\n".join(md)


if __name__ == "__main__":
    main()
