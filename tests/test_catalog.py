import json
import os
from pathlib import Path

import pytest

from genrec import Catalog, CatalogError, Item

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "amazon_office" / "items.jsonl"


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


GOOD = [{"item_id": "a", "title": "Trail shoe", "description": "Grippy", "category": "Sports > Running",
         "brand": "X", "price": 80},
        {"item_id": 2, "title": "Tent", "category": ["Outdoors", "Camping"], "price": "199.5",
         "attributes": {"Color": "Green"}, "season": "3"}]


def test_jsonl_loads_paths_types_and_keeps_unknown_columns(tmp_path):
    cat = Catalog.load(write_jsonl(tmp_path / "c.jsonl", GOOD))
    assert [it.item_id for it in cat] == ["a", "2"]
    assert cat.get("a").category == ("Sports", "Running")
    assert cat.get("2").category == ("Outdoors", "Camping")
    assert cat.get("2").price == 199.5
    assert cat.get("2").attributes == {"Color": "Green", "season": "3"}
    assert cat.get("a").in_category("running") and cat.get("a").in_category("Sports > Running")
    assert not cat.get("a").in_category("Camping")


def test_csv_and_parquet_load_the_same_items(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"item_id": "a", "title": "Trail shoe", "category": "Sports > Running", "price": "80"},
            {"item_id": "b", "title": "Tent", "category": "Outdoors > Camping", "price": ""}]
    csv_path = tmp_path / "c.csv"
    csv_path.write_text("item_id,title,category,price\n" + "\n".join(
        f"{r['item_id']},{r['title']},{r['category']},{r['price']}" for r in rows) + "\n")
    pq.write_table(pa.Table.from_pylist([{**r, "price": 80.0 if r["price"] else None} for r in rows]),
                   tmp_path / "c.parquet")
    a, b = Catalog.load(csv_path), Catalog.load(tmp_path / "c.parquet")
    assert [(i.item_id, i.title, i.category, i.price) for i in a] == [
        ("a", "Trail shoe", ("Sports", "Running"), 80.0), ("b", "Tent", ("Outdoors", "Camping"), None)]
    assert [(i.item_id, i.category, i.price) for i in a] == [(i.item_id, i.category, i.price) for i in b]


@pytest.mark.parametrize("rows, line, field, words", [
    ([GOOD[0], GOOD[0]], None, "item_id", "duplicate item_id 'a'"),
    ([GOOD[0], {"item_id": "b"}], 2, "title", "missing required field"),
    ([GOOD[0], {"item_id": "b", "title": "", "description": "", "category": ""}], 2, "title", "no text"),
    ([{"item_id": "b", "title": "T", "price": "cheap"}], 1, "price", "price must be a number"),
    ([{"item_id": "b", "title": "T", "price": -3}], 1, "price", ">= 0"),
    ([{"item_id": "b", "title": 5}], 1, "title", "expected text"),
    ([{"item_id": "b", "title": "T", "category": 7}], 1, "category", "category must be"),
    ([{"item_id": "b", "title": "T", "attributes": [1]}], 1, "attributes", "attributes must be an object"),
    ([GOOD[0], "{not json"], 2, None, "invalid JSON"),
])
def test_bad_rows_name_file_line_and_field(tmp_path, rows, line, field, words):
    path = write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(CatalogError) as e:
        Catalog.load(path)
    assert str(path) in str(e.value) and words in str(e.value)
    assert e.value.line == line and e.value.field == field


def test_empty_missing_and_undecodable_files_are_clear_errors(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(CatalogError, match="empty"):
        Catalog.load(tmp_path / "empty.jsonl")
    with pytest.raises(CatalogError, match="not found"):
        Catalog.load(tmp_path / "nope.jsonl")
    (tmp_path / "latin1.jsonl").write_bytes(b'{"item_id": "a", "title": "ok"}\n{"item_id": "b", "title": "caf\xe9"}\n')
    with pytest.raises(CatalogError, match="UTF-8") as e:
        Catalog.load(tmp_path / "latin1.jsonl")
    assert e.value.line == 2
    (tmp_path / "c.txt").write_text("x")
    with pytest.raises(CatalogError, match="unsupported file type"):
        Catalog.load(tmp_path / "c.txt")


def test_csv_with_extra_values_or_missing_header_column(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("item_id,title\na,Shoe\nb,Tent,extra\n")
    with pytest.raises(CatalogError, match="more values") as e:
        Catalog.load(p)
    assert e.value.line == 3
    p.write_text("item_id,name\na,Shoe\n")
    with pytest.raises(CatalogError, match="title"):
        Catalog.load(p)


def test_untitled_items_with_other_text_are_kept_not_dropped(tmp_path, caplog):
    # Amazon's layout: ", " separates category levels when no category uses " > ".
    rows = [{"item_id": "a", "title": "Pen", "category": "Office, Pens"},
            {"item_id": "u", "title": "", "category": "Kindle Accessories, Styluses"}]
    cat = Catalog.load(write_jsonl(tmp_path / "c.jsonl", rows))
    assert len(cat) == 2 and cat.get("u").display_title == "Styluses #u"
    assert "1 item(s) have an empty title" in caplog.text


def test_fingerprint_changes_with_any_item_text():
    a = Catalog([Item("a", "Shoe"), Item("b", "Tent")])
    b = Catalog([Item("a", "Shoe"), Item("b", "Tent!")])
    assert a.fingerprint() == Catalog([Item("a", "Shoe"), Item("b", "Tent")]).fingerprint()
    assert a.fingerprint() != b.fingerprint()


def test_demo_catalog_is_big_and_complete(demo):
    assert len(demo) >= 1000
    assert len({it.category[0] for it in demo}) >= 5
    assert all(it.title and it.description and it.brand and it.price is not None for it in demo)


@pytest.mark.skipif(not SHARED.exists(), reason="shared Amazon data not present")
def test_shared_amazon_layout_loads_as_is():
    cat = Catalog.load(SHARED)
    assert len(cat) == sum(1 for line in SHARED.read_text().splitlines() if line.strip())
    assert cat.get("0").category == ("Office Electronics", "Telephones & Accessories", "Cordless Telephones")
    assert os.path.basename(cat.source) == "items.jsonl"
