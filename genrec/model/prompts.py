"""Jinja2 environment over the prompt templates in prompts/ (StrictUndefined); render(name, **ctx)."""

from __future__ import annotations

import hashlib
from functools import lru_cache

import jinja2

from ..resources import shipped

PROMPTS_DIR = shipped("prompts")


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    loader = jinja2.FileSystemLoader(PROMPTS_DIR)
    # autoescape off: these are model prompts, not HTML; StrictUndefined turns a missing variable into
    # an error instead of silently rendering "" into a prompt an adapter was trained on.
    return jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, autoescape=False,
                              keep_trailing_newline=False)


def template_names() -> list[str]:
    return sorted(p.name for p in PROMPTS_DIR.glob("*.j2"))


def render(name: str, **context) -> str:
    """Render prompts/<name>.j2 with the given variables."""
    try:
        template = _env().get_template(f"{name}.j2")
    except jinja2.TemplateNotFound:
        raise ValueError(f"no prompt template {name!r}; have {template_names()}") from None
    return template.render(**context)


def template_version(name: str) -> str:
    """A short hash of a template's text, stored with adapters trained on it."""
    text = (PROMPTS_DIR / f"{name}.j2").read_text(encoding="utf-8")
    return hashlib.sha256(text.encode()).hexdigest()[:12]
