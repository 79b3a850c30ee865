"""Adapter folders: peft files plus genrec's metadata (base model, prompt, item codes); load and verify."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ModelError

METADATA = "genrec_adapter.json"


def has_lora(folder: str | Path) -> bool:
    """Does the folder hold peft LoRA files (a shop folder from `genrec fit` may hold none)?"""
    return (Path(folder) / "adapter_config.json").exists()


def read_metadata(folder: str | Path) -> dict:
    folder = Path(folder)
    if not (folder / "adapter_config.json").exists():
        raise ModelError(f"{folder} is not an adapter folder (no adapter_config.json)")
    path = folder / METADATA
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ModelError(f"{path}: invalid JSON ({e.msg})") from None


def check_compatible(meta: dict, base_id: str, template_version: str) -> None:
    """Refuse an adapter trained on another base model or prompt, with a message saying which."""
    want = meta.get("base_model")
    if want and want != base_id:
        raise ModelError(f"this adapter was trained on base model {want!r}, but {base_id!r} is loaded; "
                         "pass the matching base_model")
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
