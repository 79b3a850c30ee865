"""Chat UI latency in a real browser: from pressing Send to the first cards, and to the explained cards.

Starts the Gradio page (demo catalog and adapter) in this process, drives it with Playwright + Debian's chromium,
and sends 21 messages (the first warms up; one fresh session each, from benchmarks/chat_understanding.py's
generator, seed 2), each timed in the page with performance.now(). Run: python benchmarks/ui_latency.py
"""

from __future__ import annotations

import argparse
import random
import shutil
import socket
import statistics

import numpy as np
from chat_understanding import message
from common import machine, write_report

BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
# Resolves with [ms to first card, ms to no pending explanation] after the click it performs.
TIMED_SEND = """async () => {
  const t0 = performance.now();
  document.querySelector('#send').click();
  let first = null;
  while (performance.now() - t0 < 120000) {
    const cards = document.querySelectorAll('.genrec-card');
    if (cards.length && first === null) first = performance.now() - t0;
    if (cards.length && !document.querySelector('.genrec-card .pending')) return [first, performance.now() - t0];
    await new Promise(r => setTimeout(r, 5));
  }
  return [first, null];
}"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=21, help="the first only warms up: 20 are timed")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from genrec.apps import ui

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = ui.build_app()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, css=ui.CSS)
    rng = random.Random(2)
    texts = [message(rng)[0] for _ in range(args.messages)]
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=BROWSER_ARGS)
        page = browser.new_page()
        for n, text in enumerate(texts):
            page.goto(f"http://127.0.0.1:{port}", wait_until="load")  # a fresh session per message
            page.wait_for_selector("#message textarea", timeout=120_000)
            page.fill("#message textarea", text)
            first, done = page.evaluate(TIMED_SEND)
            rows.append({"message": n, "first_cards_ms": first, "explained_ms": done})
        browser.close()
    app.close()
    firsts = [r["first_cards_ms"] for r in rows[1:] if r["first_cards_ms"] is not None]  # the first loads models
    dones = [r["explained_ms"] for r in rows[1:] if r["explained_ms"] is not None]
    cmd = f"python benchmarks/ui_latency.py --messages {args.messages}"
    data = {"command": cmd, "machine": machine(), "rows": rows, "p50_first_cards_ms": float(np.median(firsts)),
            "p50_explained_ms": float(np.median(dones)), "mean_first_cards_ms": statistics.fmean(firsts)}
    md = [f"# Chat UI latency in a real browser ({len(firsts)} timed messages)", "",
          f"Command: `{cmd}`. Demo catalog and adapter, explanations on, Chromium headless on this 2-core CPU "
          f"({data['machine']}); the first message (model loading) is left out. Times from pressing Send.", "",
          "| measure | p50 (ms) | p95 (ms) |", "| --- | --- | --- |",
          f"| first cards shown | {np.median(firsts):.0f} | {np.percentile(firsts, 95):.0f} |",
          f"| explained cards shown | {np.median(dones):.0f} | {np.percentile(dones, 95):.0f} |", "",
          "On a CPU the demo adapter's explanations are the grounded fact sentences (milliseconds), so the explained "
          "cards replace the first ones before the browser paints them and both times agree; with the model phrasing "
          "explanations (a GPU) the second step is where the time goes."]
    write_report("ui_latency", data, "\n".join(md))


if __name__ == "__main__":
    main()
