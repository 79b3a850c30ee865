"""Each malformed input of the hostile-input issue, as a case: a genrec error naming the field (or the
documented reading), never another exception and never a silently wrong answer."""

import os

import pytest

from genrec import Catalog, Filters, GenrecError, UserProfile
from genrec.apps.cli import main
from genrec.data.catalog import Item

from .conftest import make_recommender


@pytest.fixture(scope="module")
def rec(demo, tiny_model, tokenizer, encoder):
    return make_recommender(demo, tiny_model, tokenizer, encoder, model_weight=0.0, explain_with_model=False)


@pytest.mark.parametrize("profile, field", [
    ({"recent_items": 5}, "recent_items"), ({"recent_items": True}, "recent_items"),
    ({"budget": 10**400}, "budget"), ({"recent_items": [{"item_id": "P19034", "rating": 10**400}]}, "rating"),
    ('{"age": ' + "9" * 5000 + "}", "unreadable"), ("", "JSON object"), ("x" * 5000, "JSON object"),
    ({1: "a", "b": 2}, "field names"), ({"location": "x" * 1_000_000}, "location"),
    ({"interests": ["y" * 300]}, "interests"), ({"budget": float("nan")}, "budget"),
])
def test_malformed_profiles_are_genrec_errors_naming_the_field(rec, profile, field):
    with pytest.raises(GenrecError, match=field):
        rec.recommend(profile, k=3, explain=False)


def test_a_string_is_one_item_never_its_characters(rec, demo):
    first = demo[0].item_id
    assert UserProfile.from_dict({"recent_items": first}).recent_items[0].item_id == first
    top = rec.recommend({}, k=5, explain=False)[0].item_id
    assert top not in [r.item_id for r in rec.recommend({}, k=5, explain=False, exclude=top)]
    assert Filters.from_kwargs(candidates="P1").candidates == ("P1",)


@pytest.mark.parametrize("filters, field", [
    ({"categories": 5}, "categories"), ({"candidates": 1.5}, "candidates"), ({"exclude": True}, "exclude"),
    ({"min_price": 10**400}, "min_price"), ({"min_price": float("nan")}, "min_price"),
    ({"category": ""}, "empty name"), ({"exclude_recent": "no"}, "exclude_recent"),
])
def test_malformed_filters_are_genrec_errors(rec, filters, field):
    with pytest.raises(GenrecError, match=field):
        rec.recommend({}, k=3, explain=False, **filters)


@pytest.mark.parametrize("text, match", [
    ("[1,2]\n", "expected a JSON object"), ("null\n", "expected a JSON object"), ("4\n", "expected a JSON object"),
    ("[" * 5000 + "]" * 5000 + "\n", "unreadable JSON|expected a JSON object"),
    ('{"item_id": "a", "title": "t", "price": ' + "9" * 400 + "}\n", "price"),
    ('{"item_id": "a", "title": "' + "t" * 2000 + '"}\n', "title"),
])
def test_malformed_catalog_lines_name_the_line(tmp_path, text, match):
    path = tmp_path / "items.jsonl"
    path.write_text(text)
    with pytest.raises(GenrecError, match=match) as e:
        Catalog.load(path)
    assert ":1" in str(e.value) or "line 1" in str(e.value)


def test_files_as_people_write_them(tmp_path):
    jsonl = tmp_path / "items.jsonl"
    jsonl.write_text('{"item_id": "a", "title": "one\u2028two\u0085three"}\n', encoding="utf-8")
    assert Catalog.load(jsonl)[0].title == "one\u2028two\u0085three"
    csv = tmp_path / "items.csv"
    csv.write_text('item_id,title,description\na,Pen,"line one\nline two"\n')
    assert Catalog.load(csv).get("a").description == "line one\nline two"
    csv.write_text("item_id,title,description\nb,Ink," + "d" * 200_000 + "\n")  # past csv's 131,072 default
    with pytest.raises(GenrecError, match=r"items.csv:2: .*description"):
        Catalog.load(csv)
    folder = tmp_path / "folder.jsonl"
    folder.mkdir()
    with pytest.raises(GenrecError, match="not a regular file"):
        Catalog.load(folder)
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(GenrecError, match="not a regular file"):  # never blocks on the pipe
        Catalog.load(fifo)


def test_item_text_limits_are_checked_before_any_prompt():
    with pytest.raises(GenrecError, match="brand"):
        Item("a", "Pen", brand="b" * 500)


@pytest.mark.parametrize("argv", [
    ["recommend", "--profile", "/"], ["recommend", "--profile", '{"recent_items": 5}'],
    ["recommend", "--profile", '{"budget": ' + "9" * 400 + "}"], ["recommend", "--profile", "{}", "-k", "abc"],
    ["check-catalog", "/"], ["recommend", "--profile", "{}", "--catalog", "/"],
])
def test_cli_mistakes_are_one_line_errors(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    # Model loading may draw progress bars first; the answer is one error line and no traceback.
    assert code == 2 and err.strip().splitlines()[-1].startswith("genrec: error:") and "Traceback" not in err, err


@pytest.mark.parametrize("splits, match", [("[1,2]", "expected a JSON object"), ('{"train_users": 5}', "train_users"),
                                           ("{garbage", "unreadable"), ('{"n_seed_pool": "3"}', "n_seed_pool")])
def test_a_garbage_splits_file_is_a_genrec_error(tmp_path, splits, match):
    import shutil

    from genrec.api import DEMO_DIR
    from genrec.data.dataset import Dataset

    shop = tmp_path / "shop"
    shutil.copytree(DEMO_DIR / "shoppers", shop)
    (shop / "splits.json").write_text(splits)
    with pytest.raises(GenrecError, match=match):
        Dataset.load(shop)
