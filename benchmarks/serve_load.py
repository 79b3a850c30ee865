"""Load test of `genrec serve` on the demo shop over loopback: 1, 8, 32 and 64 concurrent clients.

For each mode (zero-shot: the fitted prior ranks, no model forward; the demo adapter as shipped: the model scores
every search step) it starts `genrec serve` as its own process, times sequential `recommend()` calls of the same
requests in this process (the service idle meanwhile), then sends a bounded number of requests at each
concurrency level and reports p50/p95/p99 latency, throughput, error rate, mean batch size (from /metrics) and
throughput over sequential. A mixed run adds and retires items while clients read and checks every answer: no
retired item (once its DELETE returned), no ID outside the catalog and the request's filters.

Run: python benchmarks/serve_load.py [--clients 1,8,32,64] [--requests 96] [--modes zero-shot,adapter]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
from common import machine, random_request, write_report

from genrec.api import demo_catalog, get_recommender
from genrec.data.catalog import Catalog, item_to_dict
from genrec.demo.requests import allowed_ids

MAX_QUEUE = 256


def call(port: int, method: str, path: str, body: dict | None = None, timeout: float = 120) -> tuple[int, dict]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
        text = r.read().decode()
    m = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def start_server(adapter: str | None, journal: Path, max_batch: int, max_wait_ms: float
                 ) -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "genrec.apps.cli", "serve", "--port", str(port),
           *(["--adapter", adapter] if adapter else []), "--journal", str(journal), "--max-batch", str(max_batch),
           "--max-wait-ms", str(max_wait_ms), "--max-queue", str(MAX_QUEUE), "--timeout-s", "300"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 600
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"genrec serve exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if call(port, "GET", "/ready", timeout=5)[0] == 200:
                return proc, port
        except OSError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("genrec serve did not become ready in 600 s")


def requests_for(n: int, seed: int, catalog) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        profile, filters = random_request(rng, catalog)
        out.append({"profile": profile.to_dict(), "k": 10, "filters": filters, "explain": True})
    return out


def level(port: int, bodies: list[dict], clients: int) -> dict:
    n0, s0 = metric(port, "genrec_batch_size_count"), metric(port, "genrec_batch_size_sum")
    lat, codes = [], []

    def one(body):
        t = time.perf_counter()
        status, _ = call(port, "POST", "/recommend", body)
        lat.append(time.perf_counter() - t)
        codes.append(status)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, bodies))
    wall = time.perf_counter() - t0
    n1, s1 = metric(port, "genrec_batch_size_count"), metric(port, "genrec_batch_size_sum")
    return {"clients": clients, "requests": len(bodies), "wall_s": wall, "throughput_rps": len(bodies) / wall,
            "p50_s": float(np.percentile(lat, 50)), "p95_s": float(np.percentile(lat, 95)),
            "p99_s": float(np.percentile(lat, 99)), "error_rate": sum(c != 200 for c in codes) / len(codes),
            "statuses": {str(c): codes.count(c) for c in sorted(set(codes))},
            "mean_batch": (s1 - s0) / max(n1 - n0, 1)}


def sequential(adapter: str | None, bodies: list[dict]) -> float:
    """recommend() one request after another in this process: the baseline the service's throughput is over."""
    from genrec.data.filters import Filters

    rec = get_recommender(adapter=adapter)
    rec.recommend(bodies[0]["profile"], k=10, filters=Filters.from_kwargs(**bodies[0]["filters"]))  # warm-up
    t0 = time.perf_counter()
    for b in bodies:
        rec.recommend(b["profile"], k=10, explain=True, filters=Filters.from_kwargs(**b["filters"]))
    return len(bodies) / (time.perf_counter() - t0)


def mixed(port: int, catalog, seconds: float, clients: int, seed: int = 7) -> dict:
    """Clients read while one writer adds copies of items under new IDs and retires others."""
    rng = random.Random(seed)
    known = {it.item_id: it for it in catalog}
    retired_at: dict[str, float] = {}  # item ID -> when its DELETE returned
    stop = time.perf_counter() + seconds
    changes = {"added": 0, "retired": 0}
    write_s: list[float] = []
    bad: list[str] = []
    answers = [0]
    lock = threading.Lock()

    def writer():
        n = 0
        while time.perf_counter() < stop:
            src = catalog[rng.randrange(len(catalog))]
            new = replace(src, item_id=f"LIVE-{n}", title=f"{src.title} (new season)")
            t = time.perf_counter()
            ok = call(port, "POST", "/items", {"items": [item_to_dict(new)]})[0] == 200
            write_s.append(time.perf_counter() - t)
            if ok:
                with lock:
                    known[new.item_id] = new
                changes["added"] += 1
            victim = catalog[rng.randrange(len(catalog))].item_id
            t = time.perf_counter()
            if victim not in retired_at and call(port, "DELETE", f"/items/{victim}")[0] == 200:
                write_s.append(time.perf_counter() - t)
                with lock:
                    retired_at[victim] = time.perf_counter()
                changes["retired"] += 1
            n += 1
            time.sleep(0.2)

    def reader(i):
        r = random.Random(seed * 100 + i)
        while time.perf_counter() < stop:
            profile, filters = random_request(r, catalog)
            filters.pop("candidates", None)  # the whole live catalog may answer
            started = time.perf_counter()
            status, body = call(port, "POST", "/recommend", {"profile": profile.to_dict(), "k": 10,
                                                              "filters": filters, "explain": False})
            if status != 200:
                bad.append(f"status {status}")
                continue
            with lock:
                gone = {i for i, t in retired_at.items() if t < started}
                snapshot = list(known.values())
            allowed = allowed_ids(Catalog(snapshot), profile, filters)
            for item in body["items"]:
                if item["item_id"] in gone:
                    bad.append(f"retired {item['item_id']} returned")
                elif item["item_id"] not in allowed:
                    bad.append(f"{item['item_id']} not in the catalog and filters")
            answers[0] += 1

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"seconds": seconds, "clients": clients, "answers": answers[0], **changes, "violations": len(bad),
            "examples": bad[:5], "write_p50_s": float(np.percentile(write_s, 50)),
            "write_p95_s": float(np.percentile(write_s, 95))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", default="1,8,32,64")
    ap.add_argument("--requests", type=int, default=96, help="requests per concurrency level (bounded)")
    ap.add_argument("--sequential", type=int, default=24, help="requests timed one by one in this process")
    ap.add_argument("--modes", default="zero-shot,adapter")
    ap.add_argument("--max-batch", type=int, default=16)
    ap.add_argument("--max-wait-ms", type=float, default=10.0)
    ap.add_argument("--mixed-seconds", type=float, default=30.0)
    ap.add_argument("--name", default="serve_load")
    args = ap.parse_args()
    catalog = demo_catalog()
    clients = [int(c) for c in args.clients.split(",")]
    adapters = {"zero-shot": "none", "adapter": None}  # None: the demo shop's bundled adapter
    rows, mixed_rows = [], []
    for mode in args.modes.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            bodies = requests_for(args.requests, 0, catalog)
            seq_rps = sequential(adapters[mode], bodies[: args.sequential])
            if adapters[mode] is None:
                _demo_adapter()
            proc, port = start_server(adapters[mode], Path(tmp) / "journal.jsonl", args.max_batch, args.max_wait_ms)
            try:
                level(port, bodies[:4], 1)  # warm-up
                for c in clients:
                    r = level(port, bodies, c)
                    r.update(mode=mode, sequential_rps=seq_rps, ratio=r["throughput_rps"] / seq_rps)
                    rows.append(r)
                    print(json.dumps(r), flush=True)
                m = mixed(port, catalog, args.mixed_seconds, 8)
                m["mode"] = mode
                mixed_rows.append(m)
                print(json.dumps(m), flush=True)
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(120)
    cmd = "python benchmarks/serve_load.py " + " ".join(sys.argv[1:])
    data = {"command": cmd.strip(), "machine": machine(), "catalog_items": len(catalog), "k": 10,
            "max_batch": args.max_batch, "max_wait_ms": args.max_wait_ms, "max_queue": MAX_QUEUE,
            "results": rows, "mixed": mixed_rows}
    md = [f"# genrec serve under load: demo shop ({len(catalog)} items), k=10, explained, loopback",
          "", f"Command: `{data['command']}`. Machine: {data['machine']}. Server: `genrec serve --max-batch "
          f"{args.max_batch} --max-wait-ms {args.max_wait_ms} --max-queue {MAX_QUEUE}` in its own process; clients "
          "are threads of the benchmark on the same 2 cores. Random cold-start requests (0-3 recent items, random "
          "filters). *Sequential* is `recommend()` of the same requests one after another in the benchmark "
          "process; *ratio* is the service's throughput over it.", "",
          "| mode | clients | requests | p50 (s) | p95 (s) | p99 (s) | req/s | errors | mean batch | sequential req/s "
          "| ratio |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    md += [f"| {r['mode']} | {r['clients']} | {r['requests']} | {r['p50_s']:.3f} | {r['p95_s']:.3f} | "
           f"{r['p99_s']:.3f} | {r['throughput_rps']:.2f} | {r['error_rate']:.1%} | {r['mean_batch']:.1f} | "
           f"{r['sequential_rps']:.2f} | {r['ratio']:.2f} |" for r in rows]
    md += ["", "Mixed run: 8 clients read while one writer adds an item and retires another every 0.2 s; each answer "
           "is checked against the catalog and filters as of when its request started.", "",
           "| mode | seconds | answers | items added | items retired | violations | write p50 (s) | write p95 (s) |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    md += [f"| {m['mode']} | {m['seconds']:.0f} | {m['answers']} | {m['added']} | {m['retired']} | {m['violations']} "
           f"| {m['write_p50_s']:.3f} | {m['write_p95_s']:.3f} |" for m in mixed_rows]
    write_report(args.name, data, "\n".join(md))


def _demo_adapter() -> Path:
    from genrec.api import demo_adapter

    folder = demo_adapter()
    if folder is None:
        raise SystemExit("this checkout ships no demo adapter")
    return folder


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
