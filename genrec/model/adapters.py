"""Adapter folders: peft files plus genrec's metadata (base model, prompt, item codes); load and verify."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from ..errors import ModelError

log = logging.getLogger(__name__)

METADATA = "genrec_adapter.json"
# The files an adapter's model and codes live in: their checksums are recorded at training and checked at load,
# so a truncated, damaged or missing file is named instead of failing deep inside peft or numpy. (shop.json and
# shop_prior.npz are refitted by `genrec fit` and checked by genrec.ranking.shop.)
CHECKED = ("adapter_config.json", "adapter_model.safetensors", "codes.json", "codes.npz")


def checksums(folder: str | Path) -> dict[str, str]:
    """sha256 of each CHECKED file present in `folder`."""
    folder = Path(folder)
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in CHECKED
            if (folder / name).is_file()}


def verify(folder: str | Path, meta: dict) -> None:
    """Refuse an adapter whose files are missing or differ from the checksums it recorded. Adapters written
    before checksums were recorded still need their weights and codes present."""
    folder = Path(folder)
    for name in CHECKED:
        if not (folder / name).is_file():
            raise ModelError(f"adapter {folder} lacks {name}; it cannot be used without it (re-copy or retrain "
                             "the adapter; genrec never rebuilds an adapter's codes)")
    recorded = meta.get("files") or {}
    for name, digest in checksums(folder).items():
        if name in recorded and recorded[name] != digest:
            raise ModelError(f"adapter {folder}: {name} is damaged (its checksum differs from the one recorded "
                             "at training)")


def has_lora(folder: str | Path) -> bool:
    """Does the folder hold peft LoRA files (a shop folder from `genrec fit` may hold none)?"""
    return (Path(folder) / "adapter_config.json").exists()


def read_metadata(folder: str | Path) -> dict:
    folder = Path(folder)
    if not (folder / "adapter_config.json").exists():
        raise ModelError(f"{folder} is not an adapter folder (no adapter_config.json)")
    path = folder / METADATA
    if not path.exists():  # peft files trained outside genrec: codes come from the catalog's text
        log.warning("%s has no %s: treating it as a plain peft adapter (item codes built from the catalog)",
                    folder, METADATA)
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ModelError(f"{path}: invalid JSON ({e.msg})") from None
    except (UnicodeDecodeError, ValueError, RecursionError, OSError) as e:
        raise ModelError(f"{path}: unreadable ({type(e).__name__})") from None
    if not isinstance(meta, dict):
        raise ModelError(f"{path}: expected a JSON object, got {type(meta).__name__}")
    verify(folder, meta)
    return meta


def check_compatible(meta: dict, base_id: str, template_version: str, tokenizer: str | None = None) -> None:
    """Refuse an adapter trained on another base model, tokenization (`tokenizer`: the loaded tokenizer's
    genrec.model.text_ids.tokenizer_fingerprint; adapters written before it was recorded are not checked) or
    prompt, with a message saying which."""
    want = meta.get("base_model")
    if want and want != base_id:
        raise ModelError(f"this adapter was trained on base model {want!r}, but {base_id!r} is loaded; "
                         "pass the matching base_model")
    tok = meta.get("tokenizer")
    if tok and tokenizer and tok != tokenizer:
        raise ModelError(f"this adapter was trained under another tokenization of its prompts (tokenizer "
                         f"{tok}, loaded {tokenizer}): the base model's tokenizer files differ from those it "
                         "was trained with (another transformers release converted them?)")
    tv = meta.get("prompt_template_version")
    if tv and tv != template_version:
        raise ModelError(f"this adapter was trained with prompt version {tv}, but prompts/recommend.j2 is "
                         f"version {template_version}; use the genrec release it was trained with")


def attach(model, folder: str | Path):
    """Wrap `model` with the peft adapter in `folder` (inference only)."""
    from peft import PeftModel

    try:
        return PeftModel.from_pretrained(model, str(folder), is_trainable=False)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise ModelError(f"cannot load adapter {folder}: {e}") from e
