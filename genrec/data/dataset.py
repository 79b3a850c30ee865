"""Dataset: a catalog plus interaction sequences, optional user demographics and fixed splits.

The genrec layout is a folder with `items.jsonl|csv|parquet`, `interactions.jsonl|csv|parquet` (user_id,
item_id, optional timestamp, rating, seq), optional `users.jsonl|csv|parquet` (user_id + profile fields) and
`splits.json` (see `make_splits`, which follows ../shared/data/README.md's cold-start protocols).
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from ..errors import CatalogError, GenrecError
from .catalog import Catalog, read_rows
from .profile import parse_age

log = logging.getLogger(__name__)

# Names shops give the location column (MovieLens: zip_code); read as `location`.
LOCATION_ALIASES = ("zip", "zip_code", "zipcode", "postcode", "postal_code")


@dataclass
class Dataset:
    catalog: Catalog
    sequences: dict[str, list[str]]  # user -> item IDs in interaction order (oldest first)
    users: dict[str, dict] = field(default_factory=dict)  # user -> demographic profile fields
    splits: dict | None = None
    name: str = "dataset"

    @classmethod
    def load(cls, folder: str | Path) -> Dataset:
        folder = Path(folder)
        if not folder.is_dir():
            raise GenrecError(f"{folder}: no such dataset folder")
        catalog = Catalog.load(_find(folder, "items"))
        sequences = load_interactions(_find(folder, "interactions"), catalog)
        users_file = _find(folder, "users", required=False)
        users = load_users(users_file) if users_file else {}
        splits = _read_splits(folder / "splits.json") if (folder / "splits.json").exists() else None
        return cls(catalog, sequences, users, splits, name=folder.name)

    def popularity(self, users: list[str] | None = None, drop_items: set[str] = frozenset()) -> Counter:
        """Distinct users per item, over `users` (default all), ignoring `drop_items`."""
        pop: Counter = Counter()
        for u in self.sequences if users is None else users:
            pop.update({i for i in self.sequences[u] if i not in drop_items})
        return pop


def _find(folder: Path, stem: str, required: bool = True) -> Path | None:
    for ext in (".jsonl", ".csv", ".parquet"):
        if (folder / f"{stem}{ext}").exists():
            return folder / f"{stem}{ext}"
    if not required:
        return None
    raise GenrecError(f"{folder}: no {stem}.jsonl, {stem}.csv or {stem}.parquet")


def load_interactions(path: Path, catalog: Catalog) -> dict[str, list[str]]:
    """user -> item IDs ordered by `seq`, else `timestamp` (a number or an ISO 8601 date), else file order.

    An interaction with an item the catalog lacks (a discontinued product: shops' logs outlive their catalogs) is
    skipped with one warning that counts them, since an item without a catalog row can be neither described nor
    recommended; a file in which no interaction names a catalog item is an error (IDs written differently)."""
    rows = read_rows(path, required=("user_id", "item_id"))
    if not rows:
        raise CatalogError("no interactions", path=str(path))
    keyed: dict[str, list[tuple]] = {}
    unknown: Counter = Counter()
    first_unknown = 0
    for line, row in rows:
        for f in ("user_id", "item_id"):
            if row.get(f) in (None, ""):
                raise CatalogError("missing required value", path=str(path), line=line, field=f)
        item = str(row["item_id"])
        if item not in catalog:
            first_unknown = first_unknown or line
            unknown[item] += 1
            continue
        order = row.get("seq") if row.get("seq") is not None else row.get("timestamp")
        key = _order_key(order)
        if key is None:
            raise CatalogError(f"seq/timestamp must be a number or an ISO 8601 date, got {str(order)[:40]!r}",
                               path=str(path), line=line, field="seq")
        keyed.setdefault(str(row["user_id"]), []).append((key, line, item))
    if unknown:
        examples = [i for i, _ in unknown.most_common(3)]
        if not keyed:
            raise CatalogError(f"no interaction names a catalog item (unknown item_id {examples[0]!r}; are the IDs "
                               "written as in the catalog?)", path=str(path), line=first_unknown, field="item_id")
        n = sum(unknown.values())
        log.warning("%s: %d of %d interactions (%.2g%%) name %d item(s) not in the catalog, e.g. %s; they are skipped",
                    path, n, len(rows), 100 * n / len(rows), len(unknown), examples)
    return {u: [i for _, _, i in sorted(v)] for u, v in keyed.items()}


def _order_key(order) -> float | None:
    """An interaction's place in its user's sequence: a number (seq, epoch seconds), an ISO 8601 date or time
    ("2020-01-05", "2020-01-05T10:00:00Z"; naive times read as UTC) or a datetime (Parquet timestamps); inf
    when absent or NaN (file order); None when unreadable."""
    if order is None or order == "":
        return float("inf")
    if isinstance(order, (date, datetime)):
        when = order if isinstance(order, datetime) else datetime(order.year, order.month, order.day)
    else:
        try:
            key = float(order)
            return key if key == key else float("inf")  # NaN: a missing value, as pandas writes it
        except (TypeError, OverflowError):  # OverflowError: an integer past float range
            return None
        except ValueError:
            try:
                when = datetime.fromisoformat(str(order).strip())
            except ValueError:
                return None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()


def load_users(path: Path) -> dict[str, dict]:
    """user -> profile fields. The demographic fields keep their names (age read as years by `parse_age`, the
    others as text), a location alias (zip_code, postcode, ...) is read as `location`, and any other column, or
    an age no number can be read from ("unknown"), is kept under `attributes` (text), never dropped and never
    an error: shops' users files hold what their systems hold."""
    users = {}
    for line, row in read_rows(path, required=("user_id",)):
        if row.get("user_id") in (None, ""):
            raise CatalogError("missing required value", path=str(path), line=line, field="user_id")
        fields, attributes = {}, {}
        for k, v in row.items():
            if k == "user_id" or v in (None, ""):
                continue
            if k in LOCATION_ALIASES and "location" not in row:
                k = "location"
            if k == "age" and (years := parse_age(v)) is not None:
                fields[k] = years
            elif k in ("gender", "location", "occupation") and not isinstance(v, (dict, list)):
                fields[k] = str(v)  # MovieLens codes occupations as numbers; a profile holds text
            elif k == "interests":
                fields[k] = v
            else:
                attributes[str(k)] = v if isinstance(v, str) else json.dumps(v)
        if attributes:
            fields["attributes"] = attributes
        users[str(row["user_id"])] = fields
    return users


SPLIT_LISTS = ("train_users", "valid_cold_users", "test_cold_users", "cold_items")


def _read_splits(path: Path) -> dict:
    """splits.json, checked: an object whose split lists are lists of IDs (what the protocols read)."""
    try:
        splits = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise GenrecError(f"{path}: unreadable splits ({type(e).__name__})") from None
    if not isinstance(splits, dict):
        raise GenrecError(f"{path}: expected a JSON object with {', '.join(SPLIT_LISTS)}")
    for key in SPLIT_LISTS:
        v = splits.get(key, [])
        if not isinstance(v, list) or not all(isinstance(x, (str, int)) and not isinstance(x, bool) for x in v):
            raise GenrecError(f"{path}: {key} must be a list of IDs")
        splits[key] = [str(x) for x in v]
    n_pool = splits.get("n_seed_pool", 3)
    if isinstance(n_pool, bool) or not isinstance(n_pool, int) or not 0 < n_pool < 50:
        raise GenrecError(f"{path}: n_seed_pool must be a small positive integer, got {str(n_pool)[:20]!r}")
    return splits


def read_train_users(path: str | None, sequences: dict[str, list[str]], key: str = "train_users",
                     what: str = "training") -> tuple[list[str], set[str]]:
    """The training user IDs, and the items to hold out of their sequences: a splits.json's cold_items (the
    cold-start protocol removes every interaction with them from training; they stay in the catalog, so the
    item tasks still tie their text to their codes). The file holds one ID per line, a JSON list, or a
    splits.json whose `key` list is taken (`genrec fit --holdout-users` reads its valid_cold_users)."""
    if path is None:
        return sorted(sequences), set()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise GenrecError(f"{path}: cannot read the training users ({e})") from None
    cold: set[str] = set()
    try:
        parsed = json.loads(text) if text.lstrip()[:1] in ("{", "[") else None
    except json.JSONDecodeError as e:
        raise GenrecError(f"{path}: invalid JSON ({e.msg}, line {e.lineno})") from None
    if isinstance(parsed, dict):  # a splits.json: its train_users and cold_items
        ids = parsed.get(key)
        if not isinstance(ids, list):
            raise GenrecError(f"{path}: a JSON object without a {key} list")
        cold = set(map(str, parsed.get("cold_items", []) or []))
    elif isinstance(parsed, list):
        ids = parsed
    else:
        ids = [line.strip() for line in text.splitlines()]
    ids = [str(i) for i in ids if str(i).strip()]
    unknown = [u for u in ids if u not in sequences]
    if unknown:
        raise GenrecError(f"{path}: {len(unknown)} {what} user(s) have no interactions, e.g. {unknown[:3]}")
    if not ids:
        raise GenrecError(f"{path}: no {what} users")
    return ids, cold


def make_splits(data: Dataset, seed: int = 2024, n_seed_pool: int = 3, min_item_users: int = 5) -> dict:
    """Seeded splits in the layout of ../shared/data: users 70/10/20 (train/valid/test cold users) and
    10% of the items with >= `min_item_users` users as cold items."""
    rng = random.Random(seed)
    users = sorted(u for u, s in data.sequences.items() if len(s) > n_seed_pool)
    rng.shuffle(users)
    a, b = round(0.7 * len(users)), round(0.8 * len(users))
    pop = data.popularity()
    eligible = sorted(i for i, n in pop.items() if n >= min_item_users)
    cold = sorted(rng.sample(eligible, int(0.1 * len(eligible))))
    return {"dataset": data.name, "seed": seed, "protocol_version": 1, "n_seed_pool": n_seed_pool,
            "min_item_users_for_cold": min_item_users, "train_users": sorted(users[:a]),
            "valid_cold_users": sorted(users[a:b]), "test_cold_users": sorted(users[b:]), "cold_items": cold}


def write_dataset(folder: str | Path, items: list[dict], interactions: list[dict], users: list[dict] = ()) -> Path:
    """Write the genrec layout (JSON lines); the caller's converters produce the rows."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("items", items), ("interactions", interactions), ("users", users)):
        if rows:
            with (folder / f"{name}.jsonl").open("w", encoding="utf-8") as f:
                for r in rows:
                    f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return folder
