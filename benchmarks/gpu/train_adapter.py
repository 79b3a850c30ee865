"""Train one adapter on a machine without the MiniLM package (the GPU machine), from staged embeddings.

Item codes need MiniLM embeddings of the item texts; benchmarks/gpu/prepare.py computes them here and this
driver serves them by text, so the codes are exactly those a local run would build. Everything else is
genrec.training.train.train as `genrec train` runs it, except the shop fit that ends training: it encodes
profile words (stated interests, occupations) with MiniLM, so it runs back on the CPU machine
(`python -m genrec.demo.fit_shop`, `genrec eval --adapter`), on the users this training left out (the
adapter's metadata lists them). Here the adapter gets the shop's signals only.
Run: python benchmarks/gpu/train_adapter.py --catalog C --interactions I --emb E.npz --gguf G --out DIR [...]
"""

from __future__ import annotations

import argparse
import json
import logging

import numpy as np

import genrec.training.train as training
from genrec.model.base_model import BaseModelConfig
from genrec.ranking.signals import fit_signals, save_signals
from genrec.training.train import TrainConfig, train


class StagedEncoder:
    """Serves precomputed unit vectors by text; any text it was not given is an error, never a guess."""

    def __init__(self, path: str):
        data = np.load(path, allow_pickle=True)
        self.name = str(data["encoder"])
        self.table = dict(zip(data["texts"].tolist(), data["vecs"]))

    def encode(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in texts if t not in self.table]
        if missing:
            raise KeyError(f"{len(missing)} texts were not staged, e.g. {missing[0][:80]!r}")
        return np.stack([self.table[t] for t in texts]).astype(np.float32)


def signals_only(folder, catalog, sequences, users, holdout, config, model, tokenizer, encoder) -> None:
    """Stands in for the fit after training (see the module's note): the signals of the training users."""
    save_signals(folder, catalog, fit_signals(catalog, sequences, users, collab=None, progress=False))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--catalog", "--interactions", "--emb", "--gguf", "--out"):
        ap.add_argument(name, required=True)
    ap.add_argument("--users")
    ap.add_argument("--train-users")
    ap.add_argument("--quantization", default="nf4")
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--minutes", type=float, default=None, help="wall-clock budget (TrainConfig.max_minutes)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--lora-r", type=int, default=16)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO)
    cfg = TrainConfig(catalog=args.catalog, interactions=args.interactions, users=args.users,
                      train_users=args.train_users, out=args.out,
                      base=BaseModelConfig(path=args.gguf, quantization=args.quantization),
                      epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr, lora_r=args.lora_r,
                      save_steps=500, max_minutes=args.minutes)
    training._fit_after_training = signals_only
    out = train(cfg, encoder=StagedEncoder(args.emb))
    print(json.dumps(json.loads((out / "genrec_adapter.json").read_text())["metrics"]))


if __name__ == "__main__":
    main()
