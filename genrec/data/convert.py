"""Converters from the formats users have (MovieLens, RecBole atomic files, raw Amazon reviews) to the
genrec dataset layout. Every malformed row is an error naming its file and line, never skipped."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from ..errors import CatalogError, GenrecError
from .dataset import write_dataset
from .profile import parse_age

ML_GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
             "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
             "War", "Western"]
ML1M_OCCUPATIONS = ["other", "academic/educator", "artist", "clerical/admin", "college/grad student",
                    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
                    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
                    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer"]


def _lines(path: Path, encoding: str = "utf-8"):
    if not path.exists():
        raise GenrecError(f"{path}: file not found")
    with path.open(encoding=encoding, errors="strict") as f:
        try:
            for n, line in enumerate(f, start=1):
                if line.strip():
                    yield n, line.rstrip("\n")
        except UnicodeDecodeError as e:
            raise CatalogError(f"not valid {encoding}: {e.reason}", path=str(path)) from None


def _split(path: Path, n: int, line: str, sep: str, width: int) -> list[str]:
    parts = line.split(sep)
    if len(parts) < width:
        raise CatalogError(f"expected {width} fields separated by {sep!r}, got {len(parts)}", path=str(path),
                           line=n)
    return parts


def _int(path: Path, n: int, value: str, field: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise CatalogError(f"expected an integer, got {value!r}", path=str(path), line=n, field=field) from None


def movielens(folder: str | Path, out: str | Path) -> Path:
    """ml-100k (u.data, u.item, u.user) or ml-1m (ratings.dat, movies.dat, users.dat), with demographics."""
    folder = Path(folder)
    items, inter, users = [], [], []
    if (folder / "u.data").exists():
        for n, line in _lines(folder / "u.item", "latin-1"):
            p = _split(folder / "u.item", n, line, "|", 24)
            genres = [g for g, flag in zip(ML_GENRES, p[5:24]) if flag == "1"]
            items.append({"item_id": p[0], "title": p[1], "category": ["Movies", genres[0] if genres else "unknown"],
                          "description": f"Genres: {', '.join(genres)}. Released {p[2] or 'unknown'}.",
                          "attributes": {"genres": ", ".join(genres)}})
        inter = _ml_ratings(folder / "u.data", "\t")
        if (folder / "u.user").exists():
            for n, line in _lines(folder / "u.user"):
                p = _split(folder / "u.user", n, line, "|", 5)
                users.append({"user_id": p[0], "age": _int(folder / "u.user", n, p[1], "age"), "gender": p[2],
                              "occupation": p[3]})
    elif (folder / "ratings.dat").exists():
        for n, line in _lines(folder / "movies.dat", "latin-1"):
            p = _split(folder / "movies.dat", n, line, "::", 3)
            genres = p[2].split("|")
            items.append({"item_id": p[0], "title": p[1], "category": ["Movies", genres[0]],
                          "description": f"Genres: {', '.join(genres)}.", "attributes": {"genres": ", ".join(genres)}})
        inter = _ml_ratings(folder / "ratings.dat", "::")
        if (folder / "users.dat").exists():
            for n, line in _lines(folder / "users.dat"):
                p = _split(folder / "users.dat", n, line, "::", 5)
                occ = _int(folder / "users.dat", n, p[3], "occupation")
                users.append({"user_id": p[0], "gender": p[1], "age": _int(folder / "users.dat", n, p[2], "age"),
                              "occupation": ML1M_OCCUPATIONS[occ] if 0 <= occ < len(ML1M_OCCUPATIONS) else "other"})
    else:
        raise GenrecError(f"{folder}: neither ml-100k (u.data) nor ml-1m (ratings.dat) files found")
    return write_dataset(out, items, inter, users)


def _ml_ratings(path: Path, sep: str) -> list[dict]:
    """MovieLens ratings (user, item, rating, timestamp), the same in ml-100k and ml-1m but for the separator."""
    out = []
    for n, line in _lines(path):
        p = _split(path, n, line, sep, 4)
        out.append({"user_id": p[0], "item_id": p[1], "rating": _int(path, n, p[2], "rating"),
                    "timestamp": _int(path, n, p[3], "timestamp")})
    return out


def recbole(folder: str | Path, out: str | Path) -> Path:
    """RecBole atomic files NAME.inter, NAME.item and optional NAME.user (tab-separated, `field:type` header)."""
    folder = Path(folder)
    inters = sorted(folder.glob("*.inter"))
    if not inters:
        raise GenrecError(f"{folder}: no .inter file")
    stem = inters[0].with_suffix("")

    def rows(path: Path):
        it = _lines(path)
        try:
            _, header = next(it)
        except StopIteration:
            raise CatalogError("empty file", path=str(path)) from None
        names = [h.split(":")[0] for h in header.split("\t")]
        for n, line in it:
            p = line.split("\t")
            if len(p) != len(names):
                raise CatalogError(f"expected {len(names)} tab-separated fields, got {len(p)}", path=str(path), line=n)
            yield n, dict(zip(names, p))

    items = []
    item_file = stem.with_suffix(".item")
    if not item_file.exists():
        raise GenrecError(f"{item_file}: file not found (genrec needs item text)")
    for n, r in rows(item_file):
        title = r.get("title") or r.get("movie_title") or r.get("name")
        if not title:
            raise CatalogError("no title column (title, movie_title or name)", path=str(item_file), line=n)
        cat = r.get("categories") or r.get("genre") or r.get("category") or ""
        item = {"item_id": r["item_id"], "title": title, "description": r.get("description", ""),
                "category": [c for c in cat.replace(",", " ").split() if c][:3]}
        if r.get("brand"):
            item["brand"] = r["brand"]
        if r.get("price"):
            item["price"] = r["price"]
        items.append(item)
    inter = []
    for n, r in rows(inters[0]):
        if "user_id" not in r or "item_id" not in r:
            raise CatalogError("needs user_id and item_id columns", path=str(inters[0]), line=n)
        row = {"user_id": r["user_id"], "item_id": r["item_id"]}
        if r.get("timestamp"):
            row["timestamp"] = float(r["timestamp"])
        if r.get("rating"):
            row["rating"] = float(r["rating"])
        inter.append(row)
    users = []
    if stem.with_suffix(".user").exists():
        for _, r in rows(stem.with_suffix(".user")):
            u = {"user_id": r["user_id"]}
            for f in ("age", "gender", "occupation"):
                if r.get(f):
                    u[f] = parse_age(r[f]) if f == "age" else r[f]
            users.append(u)
    return write_dataset(out, items, inter, users)


def amazon(reviews: str | Path, meta: str | Path, out: str | Path) -> Path:
    """Raw Amazon review dumps: 2014 (reviewerID/asin/unixReviewTime; metadata as Python-dict lines with
    `categories`) or 2018 (JSON metadata with `category`, `description` lists and "$x.yy" prices)."""
    reviews, meta = Path(reviews), Path(meta)
    items = []
    for n, line in _lines(meta):
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            try:
                r = ast.literal_eval(line)  # the 2014 metadata is written as Python dicts
            except (ValueError, SyntaxError):
                raise CatalogError("neither JSON nor a Python dict", path=str(meta), line=n) from None
        if "asin" not in r:
            raise CatalogError("missing required value", path=str(meta), line=n, field="asin")
        cats = r.get("categories") or [r.get("category") or []]
        path = cats[0] if cats and isinstance(cats[0], list) else cats
        desc = r.get("description") or ""
        desc = " ".join(desc) if isinstance(desc, list) else str(desc)
        item = {"item_id": r["asin"], "title": r.get("title") or "", "description": desc,
                "category": [c for c in path if isinstance(c, str)]}
        if r.get("brand"):
            item["brand"] = r["brand"]
        price = r.get("price")
        if isinstance(price, str):
            try:
                price = float(price.replace("$", "").replace(",", ""))
            except ValueError:
                price = None  # 2018 dumps hold text such as "" or ranges for some items; not a number
        if isinstance(price, (int, float)):
            item["price"] = price
        items.append(item)
    inter = []
    for n, line in _lines(reviews):
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            raise CatalogError("invalid JSON", path=str(reviews), line=n) from None
        for f in ("reviewerID", "asin"):
            if f not in r:
                raise CatalogError("missing required value", path=str(reviews), line=n, field=f)
        row = {"user_id": r["reviewerID"], "item_id": r["asin"]}
        if "unixReviewTime" in r:
            row["timestamp"] = r["unixReviewTime"]
        if "overall" in r:
            row["rating"] = r["overall"]
        inter.append(row)
    return write_dataset(out, items, inter)
