"""Item and Catalog: load and validate JSONL/CSV/Parquet product catalogs, item text and filters."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CatalogError

log = logging.getLogger(__name__)

REQUIRED = ("item_id", "title")
# Field length limits (characters), checked before anything is tokenised: a catalog row past them is an error
# naming the line, not a prompt of 80k tokens. Descriptions are long in real catalogs and only their start is
# shown (PromptShape.description_chars).
LIMITS = {"item_id": 200, "title": 1000, "description": 100_000, "brand": 200, "category": 500}
MAX_FILE_FIELD = 1_000_000  # one CSV field / JSONL line past this is refused
OPTIONAL = ("description", "category", "brand", "price", "attributes")
PATH_SEP = " > "


@dataclass(frozen=True)
class Item:
    """One product. `category` is a path from broad to specific, e.g. ("Sports", "Running", "Shoes")."""

    item_id: str
    title: str
    description: str = ""
    category: tuple[str, ...] = ()
    brand: str | None = None
    price: float | None = None
    attributes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.item_id, str) or not self.item_id.strip():
            raise CatalogError(f"item_id must be a non-empty string, got {self.item_id!r}", field="item_id")
        if not isinstance(self.title, str):
            raise CatalogError(f"title must be text, got {self.title!r}", field="title")
        if not (self.title.strip() or self.description.strip() or self.category):
            raise CatalogError("the item has no text: title, description and category are all empty",
                               field="title")
        if self.price is not None and (not math.isfinite(self.price) or self.price < 0):
            raise CatalogError(f"price must be a finite number >= 0, got {self.price!r}", field="price")
        texts = {"item_id": self.item_id, "title": self.title, "description": self.description,
                 "brand": self.brand or "", **{"category": max(self.category, key=len, default="")}}
        for name, text in texts.items():
            if len(text) > LIMITS[name]:
                raise CatalogError(f"{len(text)} characters; at most {LIMITS[name]} are accepted", field=name)

    @property
    def display_title(self) -> str:
        """The title, or for an untitled item (real catalogs have some) its category and ID."""
        return self.title or f"{self.category[-1] if self.category else 'Item'} #{self.item_id}"

    @property
    def category_str(self) -> str:
        return PATH_SEP.join(self.category)

    def text(self, max_description_chars: int = 400) -> str:
        """The text that describes the item to encoders and prompts."""
        parts = [self.display_title]
        if self.brand:
            parts.append(f"Brand: {self.brand}")
        if self.category:
            parts.append(f"Category: {self.category_str}")
        if self.attributes:
            parts.append("; ".join(f"{k}: {v}" for k, v in self.attributes.items()))
        if self.description:
            parts.append(self.description[:max_description_chars])
        return ". ".join(parts)

    def in_category(self, wanted: str) -> bool:
        """True if `wanted` names this item's category path, a prefix of it, or one of its levels."""
        w = [p.strip().lower() for p in split_category(wanted)]
        path = [p.lower() for p in self.category]
        if len(w) == 1:
            return w[0] in path
        return path[: len(w)] == w


def split_category(value: str, sep: str = PATH_SEP) -> tuple[str, ...]:
    return tuple(p.strip() for p in value.split(sep) if p.strip())


class Catalog(Sequence[Item]):
    """An ordered, validated set of items with unique IDs."""

    def __init__(self, items: Iterable[Item], source: str | None = None):
        self.items: list[Item] = list(items)
        self.source = source
        self._fingerprint: str | None = None
        if not self.items:
            raise CatalogError("the catalog is empty", path=source)
        self.index: dict[str, int] = {}
        for i, item in enumerate(self.items):
            if item.item_id in self.index:
                raise CatalogError(f"duplicate item_id {item.item_id!r} (also item #{self.index[item.item_id] + 1})",
                                   path=source, field="item_id")
            self.index[item.item_id] = i

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.index

    def get(self, item_id: str) -> Item:
        try:
            return self.items[self.index[item_id]]
        except KeyError:
            raise CatalogError(f"unknown item_id {item_id!r}", path=self.source) from None

    def fingerprint(self) -> str:
        """A hash of every item's ID and text: two catalogs with equal fingerprints index the same. Computed once:
        caches keyed by it (item codes, embeddings, the chat's category words) ask for it on every call."""
        if self._fingerprint is None:
            h = hashlib.sha256()
            for item in self.items:
                h.update(json.dumps(item_to_dict(item), sort_keys=True, ensure_ascii=False).encode())
            self._fingerprint = h.hexdigest()[:16]
        return self._fingerprint

    def categories(self) -> list[str]:
        return sorted({item.category_str for item in self.items if item.category})

    @classmethod
    def load(cls, path: str | Path, category_sep: str | None = None) -> Catalog:
        """Load a .jsonl, .csv or .parquet file. `category_sep` splits string categories into a path;
        by default " > ", or ", " when no category holds " > " but some hold ", " (Amazon's layout)."""
        path = Path(path)
        rows = read_rows(path)
        if not rows:
            raise CatalogError("the catalog is empty", path=str(path))
        sep = category_sep or _guess_sep(r for _, r in rows)
        items = [item_from_dict(row, path=str(path), line=line, category_sep=sep) for line, row in rows]
        untitled = sum(1 for it in items if not it.title)
        if untitled:
            log.warning("%s: %d item(s) have an empty title; they are kept and shown by category and ID",
                        path, untitled)
        return cls(items, source=str(path))


def read_rows(path: Path, required: tuple[str, ...] = REQUIRED) -> list[tuple[int, dict]]:
    """(line, row) pairs of a .jsonl, .csv or .parquet file; errors name the file and line."""
    suffix = path.suffix.lower()
    readers = {".jsonl": _read_jsonl, ".json": _read_jsonl, ".csv": _read_csv, ".parquet": _read_parquet}
    if suffix not in readers:
        raise CatalogError(f"unsupported file type {suffix!r}; use .jsonl, .csv or .parquet", path=str(path))
    if suffix == ".csv":
        return list(_read_csv(path, required))
    return list(readers[suffix](path))


def _guess_sep(rows: Iterable[dict]) -> str:
    cats = [r.get("category") for r in rows if isinstance(r.get("category"), str)]
    if any(PATH_SEP in c for c in cats):
        return PATH_SEP
    return ", " if any(", " in c for c in cats) else PATH_SEP


def item_from_dict(row: dict[str, Any], path: str | None = None, line: int | None = None,
                   category_sep: str = PATH_SEP) -> Item:
    """Validate one raw row into an Item; every error names the file, line and field."""

    def fail(msg: str, fld: str):
        raise CatalogError(msg, path=path, line=line, field=fld)

    if not isinstance(row, dict):
        fail(f"expected an object, got {type(row).__name__}", "<row>")
    if row.get("item_id") in (None, ""):
        fail("missing required value", "item_id")
    if "title" not in row:
        fail("missing required field", "title")  # present but empty is allowed when other text exists
    unknown = set(row) - set(REQUIRED) - set(OPTIONAL)
    attributes = row.get("attributes") or {}
    if isinstance(attributes, str):
        try:
            attributes = json.loads(attributes)
        except json.JSONDecodeError:
            fail(f"attributes must be a JSON object, got {attributes[:40]!r}", "attributes")
    if not isinstance(attributes, dict):
        fail(f"attributes must be an object, got {type(attributes).__name__}", "attributes")
    # Columns genrec does not know are kept as attributes rather than silently dropped.
    attributes = {str(k): str(v) for k, v in attributes.items()}
    attributes.update({k: str(row[k]) for k in sorted(unknown) if row[k] not in (None, "")})

    item_id = row["item_id"]
    if isinstance(item_id, bool) or not isinstance(item_id, (str, int)):
        fail(f"item_id must be a string or integer, got {type(item_id).__name__}", "item_id")
    for f in ("title", "description", "brand"):
        v = row.get(f)
        if v is not None and not isinstance(v, str):
            fail(f"expected text, got {type(v).__name__} {v!r}", f)
    category = row.get("category")
    if category is None or category == "":
        cat: tuple[str, ...] = ()
    elif isinstance(category, str):
        cat = split_category(category, category_sep)
    elif isinstance(category, list) and all(isinstance(c, str) for c in category):
        cat = tuple(c.strip() for c in category if c.strip())
    else:
        fail(f"category must be a string or a list of strings, got {category!r}", "category")
    price = row.get("price")
    if price in (None, ""):
        price = None
    else:
        try:
            if isinstance(price, bool):
                raise ValueError
            price = float(price)
        except (TypeError, ValueError, OverflowError):
            fail(f"price must be a number, got {price!r}", "price")
        if not math.isfinite(price) or price < 0:
            fail(f"price must be a finite number >= 0, got {price!r}", "price")
    try:
        return Item(item_id=str(item_id).strip(), title=(row["title"] or "").strip(),
                    description=(row.get("description") or "").strip(), category=cat,
                    brand=(row.get("brand") or "").strip() or None, price=price, attributes=attributes)
    except CatalogError as e:
        fail(e.reason, e.field or "<row>")


def item_to_dict(item: Item) -> dict[str, Any]:
    d: dict[str, Any] = {"item_id": item.item_id, "title": item.title, "description": item.description,
                         "category": item.category_str}
    if item.brand is not None:
        d["brand"] = item.brand
    if item.price is not None:
        d["price"] = item.price
    if item.attributes:
        d["attributes"] = item.attributes
    return d


def _read_text(path: Path) -> str:
    # is_file first: opening a FIFO would block, a directory raises; neither is a file of rows.
    if not path.is_file():
        raise CatalogError("not a regular file" if path.exists() else "file not found", path=str(path))
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise CatalogError(f"cannot read: {e.strerror}", path=str(path)) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise CatalogError(f"not valid UTF-8 at byte {e.start}; re-save the file as UTF-8",
                           path=str(path), line=line) from None


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    # Lines end at "\n" only: U+2028, U+0085 and other characters splitlines() breaks on are legal inside strings.
    for n, line in enumerate(_read_text(path).split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        if len(line) > MAX_FILE_FIELD:
            raise CatalogError(f"line of {len(line)} characters; at most {MAX_FILE_FIELD}", path=str(path), line=n)
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise CatalogError(f"invalid JSON: {e.msg} at column {e.colno}", path=str(path), line=n) from None
        except (ValueError, RecursionError) as e:  # a number of 4,300+ digits, nesting thousands deep
            raise CatalogError(f"unreadable JSON value ({type(e).__name__})", path=str(path), line=n) from None
        if not isinstance(row, dict):
            raise CatalogError(f"expected a JSON object, got {type(row).__name__}", path=str(path), line=n)
        yield n, row


def _read_csv(path: Path, required: tuple[str, ...] = REQUIRED) -> Iterator[tuple[int, dict]]:
    import io

    csv.field_size_limit(MAX_FILE_FIELD)  # the default 131,072 is below real descriptions
    # newline="" keeps line breaks inside quoted fields (the csv module's own rule).
    reader = csv.DictReader(io.StringIO(_read_text(path), newline=""))
    try:
        missing = [f for f in required if f not in (reader.fieldnames or [])]
        if reader.fieldnames and missing:
            raise CatalogError(f"header lacks required column(s) {missing}", path=str(path), line=1)
        for row in reader:
            if None in row:
                raise CatalogError("more values than header columns", path=str(path), line=reader.line_num)
            yield reader.line_num, {k: v for k, v in row.items() if v != ""}
    except csv.Error as e:
        raise CatalogError(f"malformed CSV: {e}", path=str(path), line=reader.line_num) from None


def _read_parquet(path: Path) -> Iterator[tuple[int, dict]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow raises several types for a corrupt file
        raise CatalogError(f"cannot read Parquet: {e}", path=str(path)) from None
    # Parquet has no lines: the row number (1-based) stands in for one in messages.
    for n, row in enumerate(table.to_pylist(), start=1):
        yield n, {k: v for k, v in row.items() if v is not None}
