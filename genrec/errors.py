"""The exceptions genrec raises for user mistakes: each names what was wrong and where."""

from __future__ import annotations


class GenrecError(ValueError):
    """Base class: a problem with the caller's input, shown to users as one clear line."""


class CatalogError(GenrecError):
    """A catalog file or item is invalid; the message names file, line and field."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 field: str | None = None):
        self.path, self.line, self.field, self.reason = path, line, field, message
        where = ":".join(str(p) for p in (path, line) if p is not None)
        prefix = f"{where}: " if where else ""
        suffix = f" (field '{field}')" if field else ""
        super().__init__(f"{prefix}{message}{suffix}")


class ProfileError(GenrecError):
    """A user profile is invalid; the message names the field."""


class ModelError(GenrecError):
    """A base model or adapter cannot be used as asked."""
