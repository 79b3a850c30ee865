"""Stage what the GPU machine lacks under .gpu/ (git-ignored), in pieces that fit one device call each.

The machine has no network, no MiniLM package, no copy of the base model and no bitsandbytes, and one call
carries at most 64 MiB together with the working tree (benchmarks/gpu/README.md). So:
- item-text embeddings of the demo and (given) Amazon catalogs (`StagedEncoder` serves them there, so the
  item codes are exactly the local ones), a copy of that dataset and the base's tokenizer as converted here
  (convert.py says why), in `.gpu/data`;
- the wheels of gguf and peft and a copy of bitsandbytes with only its CUDA 13 libraries, in `.gpu/pkg`;
- all of it with the packaged GGUF as one tar cut into `.gpu/c1`, `.gpu/c2`, ... of at most `--chunk-mb` each
  (one per call; the working tree travels too, so a chunk is 64 MiB less the tree).
Nothing under .gpu/ is ever committed.
Run: python benchmarks/gpu/prepare.py --amazon ../shared/data/amazon_office [--chunk-mb 41]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np

from genrec.data.catalog import Catalog
from genrec.model.base_model import packaged_gguf
from genrec.model.embed import default_encoder, encode_catalog

ROOT = Path(__file__).resolve().parents[2]
GPU = ROOT / ".gpu"


def save_embeddings(catalog_path: Path, name: str) -> None:
    catalog = Catalog.load(catalog_path)
    enc = default_encoder()
    vecs = encode_catalog(catalog, enc)
    np.savez_compressed(GPU / "data" / f"{name}_emb.npz", texts=np.array([it.text() for it in catalog], dtype=object),
                        vecs=vecs.astype(np.float32), encoder=np.array(enc.name))
    print(f"{name}: {len(catalog)} items embedded")


def stage_tokenizer() -> None:
    """The base's tokenizer files as this machine's transformers converted them (checked by
    check_converted_tokenizer): the GPU machine's release converts them wrongly (convert.py)."""
    from genrec.model.base_model import resolve_model_dir

    src, dst = resolve_model_dir(), GPU / "data" / "tokenizer"
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.name.startswith(("tokenizer", "special_tokens", "chat_template")):
            shutil.copy(f, dst / f.name)


def stage_packages() -> None:
    """gguf and peft as wheels; bitsandbytes as a tarball of its installed tree without the libraries of other
    CUDA, ROCm and XPU versions (the machine's torch is a CUDA 13 build: README.md of the device tool)."""
    import bitsandbytes

    pkg = GPU / "pkg"
    pkg.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(pkg),
                    "gguf==0.19.0", "peft==0.21.2"], check=True)
    src = Path(bitsandbytes.__file__).parent

    def keep(info: tarfile.TarInfo):
        name = Path(info.name).name
        lib = name.startswith("libbitsandbytes_")
        return None if "__pycache__" in info.name or (lib and not name.startswith(("libbitsandbytes_cuda13",
                                                                                    "libbitsandbytes_cpu"))) else info
    with tarfile.open(pkg / "bitsandbytes.tgz", "w:gz") as tar:
        tar.add(src, arcname="bitsandbytes", filter=keep)


def stage_chunks(chunk_mb: float) -> None:
    """One tar of the GGUF, .gpu/pkg and .gpu/data, cut into equal chunks `.gpu/c1`.. of at most `chunk_mb` MiB:
    the fewest calls (run.sh joins and unpacks them there)."""
    path, digest = packaged_gguf()
    (GPU / "data" / "gguf.sha256").write_text(f"{digest}  {path.name}\n")
    blob = GPU / "stage.tgz"
    with tarfile.open(blob, "w:gz") as tar:
        tar.add(path, arcname=path.name)
        tar.add(GPU / "pkg", arcname="pkg")
        tar.add(GPU / "data", arcname="data")
    data = blob.read_bytes()
    n = -(-len(data) // int(chunk_mb * 2**20))
    size = -(-len(data) // n)
    for old in GPU.glob("c[0-9]*"):
        shutil.rmtree(old)
    for k in range(n):
        (GPU / f"c{k + 1}").mkdir()
        (GPU / f"c{k + 1}" / f"part{k + 1:02d}").write_bytes(data[k * size:(k + 1) * size])
    blob.unlink()
    print(f"{len(data) / 2**20:.1f} MiB staged in {n} chunks of {size / 2**20:.1f} MiB: .gpu/c1 .. .gpu/c{n}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--amazon", default=None, help="a shared dataset folder to copy and embed")
    ap.add_argument("--chunk-mb", type=float, default=41.0, help="MiB per GGUF chunk (one device call each)")
    args = ap.parse_args()
    (GPU / "data").mkdir(parents=True, exist_ok=True)
    save_embeddings(ROOT / "genrec" / "demo" / "catalog.jsonl", "demo")
    if args.amazon:
        dst = GPU / "data" / "amazon"
        dst.mkdir(exist_ok=True)
        for f in ("items.jsonl", "interactions.jsonl", "splits.json"):
            shutil.copy(Path(args.amazon) / f, dst / f)
        save_embeddings(dst / "items.jsonl", "amazon")
    stage_tokenizer()
    stage_packages()
    stage_chunks(args.chunk_mb)


if __name__ == "__main__":
    main()
