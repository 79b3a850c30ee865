"""Convert the staged GGUF on the GPU machine with the tokenizer staged from this machine's conversion.

That machine's transformers (5.17) converts the packaged Gemma's tokenizer character by character and without
BOS (genrec.model.base_model.check_converted_tokenizer refuses it): adapters trained on such prompts are
useless anywhere else (the session of 2026-12-04 found out so, README.md). The weights convert the same
there, so only the tokenizer travels: `prepare.py` stages it from the local conversion, and this writes the
checkpoint where genrec looks for it, as genrec.model.base_model.resolve_model_dir would.
Run: python benchmarks/gpu/convert.py GGUF TOKENIZER_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

from genrec.model.base_model import _convert_gguf, _sha256, cache_root


def main() -> None:
    gguf, tokenizer = Path(sys.argv[1]), Path(sys.argv[2])
    target = cache_root() / "base" / f"{gguf.stem}-{_sha256(gguf)[:16]}"
    if not (target / "config.json").exists():
        _convert_gguf(gguf, target, tokenizer_from=tokenizer)
    print(target)


if __name__ == "__main__":
    main()
