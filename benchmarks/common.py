"""Shared by the benchmark scripts: random requests over a catalog, and JSON + Markdown reports."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import torch

from genrec.demo.requests import random_request  # noqa: F401 -- re-exported for the scripts

RESULTS = Path(__file__).resolve().parent / "results"
def machine() -> dict:
    return {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version(), "processor": platform.processor() or platform.machine()}


def write_report(name: str, data: dict, markdown: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown.rstrip() + "\n")
    print(markdown)
