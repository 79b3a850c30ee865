"""Where the folders genrec ships live: prompts/ and adapters/ sit at the top of a source checkout (one
folder a reader finds first) and inside the package of an installed wheel (genrec/_prompts, genrec/_adapters,
pyproject's package-dir)."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def shipped(name: str) -> Path:
    """The folder `name` ("prompts" or "adapters"): the wheel's copy when installed, else the checkout's."""
    bundled = PACKAGE_DIR / f"_{name}"
    return bundled if bundled.is_dir() else PACKAGE_DIR.parent / name
