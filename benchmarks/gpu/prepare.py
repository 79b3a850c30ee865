"""Stage what a GPU machine with no network and no MiniLM package needs, under .gpu/ (git-ignored).

Item-text embeddings of each catalog (MiniLM runs here; the GPU machine lacks its package) and, when
given, a copy of a shared dataset for training there. Nothing under .gpu/ is ever committed.
Run: python benchmarks/gpu/prepare.py [--amazon ../shared/data/amazon_office]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

from genrec.data.catalog import Catalog
from genrec.model.embed import default_encoder, encode_catalog

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / ".gpu" / "data"


def save_embeddings(catalog_path: Path, name: str) -> None:
    catalog = Catalog.load(catalog_path)
    enc = default_encoder()
    vecs = encode_catalog(catalog, enc)
    np.savez_compressed(OUT / f"{name}_emb.npz", texts=np.array([it.text() for it in catalog], dtype=object),
                        vecs=vecs.astype(np.float32), encoder=np.array(enc.name))
    print(f"{name}: {len(catalog)} items embedded")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--amazon", default=None, help="a shared dataset folder to copy and embed")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    save_embeddings(ROOT / "genrec" / "demo" / "catalog.jsonl", "demo")
    if args.amazon:
        dst = OUT / "amazon"
        dst.mkdir(exist_ok=True)
        for f in ("items.jsonl", "interactions.jsonl", "splits.json"):
            shutil.copy(Path(args.amazon) / f, dst / f)
        save_embeddings(dst / "items.jsonl", "amazon")


if __name__ == "__main__":
    main()
