"""Training throughput on this machine: full precision vs 4-bit NF4, and logits at target positions only vs
the full vocabulary at every position, each as tokens/s from the same run on the demo shopper logs.

Run: python benchmarks/train_speed.py [--steps 4]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from common import machine, write_report

from genrec.model.base_model import BaseModelConfig
from genrec.training.train import TrainConfig, train

DEMO = Path(__file__).resolve().parents[1] / "genrec" / "demo"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=4)
    args = ap.parse_args()
    rows = []
    tmp = Path(tempfile.mkdtemp())
    try:
        for quant, full in (("none", False), ("none", True), ("nf4", False)):
            cfg = TrainConfig(catalog=str(DEMO / "catalog.jsonl"),
                              interactions=str(DEMO / "shoppers/interactions.jsonl"),
                              users=str(DEMO / "shoppers/users.jsonl"), out=str(tmp / f"{quant}-{full}"),
                              base=BaseModelConfig(quantization=quant), max_steps=args.steps, batch_size=8,
                              save_steps=10_000, full_vocab_loss=full)
            meta = json.loads((train(cfg) / "genrec_adapter.json").read_text())["metrics"]
            rows.append({"quantization": quant, "logits": "full vocabulary, all positions" if full else
                         "target positions only", "steps": meta["steps"], "wall_s": meta["wall_s"],
                         "tokens_per_s": meta["tokens_per_s"]})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = rows[0]["tokens_per_s"]
    for r in rows:
        r["speed_vs_default"] = r["tokens_per_s"] / base
    md = ["# Training throughput on this CPU (demo shopper logs, batch 8)", "",
          f"Machine: {machine()}. Command: `python benchmarks/train_speed.py --steps {args.steps}` "
          "(wall time includes the first, slower step).", "",
          "| base | logits | steps | wall (s) | tokens/s | vs default |", "| --- | --- | --- | --- | --- | --- |"]
    md += [f"| {r['quantization']} | {r['logits']} | {r['steps']} | {r['wall_s']:.1f} | {r['tokens_per_s']:.0f} | "
           f"{r['speed_vs_default']:.2f}x |" for r in rows]
    write_report("train_speed", {"machine": machine(), "results": rows}, "\n".join(md))


if __name__ == "__main__":
    main()
