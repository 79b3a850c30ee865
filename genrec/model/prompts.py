"""Jinja2 environment over the prompt templates in prompts/ (StrictUndefined); render(name, **ctx)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import jinja2

from ..errors import GenrecError
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


@dataclass(frozen=True)
class PromptShape:
    """How the recommend prompt shows a profile. One definition renders training examples and live requests,
    and an adapter folder records the shape it was trained with (genrec_adapter.json `prompt_shape`), so an
    adapter is asked in the form it learned."""

    max_recent_items: int = 5  # most recent known items shown
    description_chars: int = 200  # characters of each shown item's description

    def __post_init__(self):
        for name in ("max_recent_items", "description_chars"):
            if getattr(self, name) < 0:
                raise GenrecError(f"PromptShape.{name} must be >= 0, got {getattr(self, name)!r}")

    def recommend(self, profile, recent_items: list) -> str:
        """The recommend prompt for `profile`, showing the last `max_recent_items` of its known items."""
        shown = recent_items[-self.max_recent_items:] if self.max_recent_items else []
        return render("recommend", profile=profile, recent_items=shown, description_chars=self.description_chars)

    def item_code(self, item) -> str:
        return render("item_code", item=item, description_chars=self.description_chars)

    @classmethod
    def of_adapter(cls, meta: dict) -> PromptShape:
        """The shape an adapter was trained with (adapters before `prompt_shape` kept it in `data_config`)."""
        stored = meta.get("prompt_shape") or meta.get("data_config") or {}
        return cls(**{k: stored[k] for k in ("max_recent_items", "description_chars") if k in stored})
