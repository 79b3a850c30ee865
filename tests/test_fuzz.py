"""Generated hostile input (hypothesis, derandomised so CI is reproducible): every case ends in an answer that
honours its filters (known, distinct IDs) or a genrec error, never another exception.

Surfaces: profiles and filters through recommend() on the demo catalog (prior-only search: the model-scored
path has its own tests), catalog / interactions / users files, and CLI arguments. Counts per surface are
recorded by `GENREC_FUZZ_COUNTS=FILE` (appended JSON lines) for the closing note of a run.
"""

import json
import os
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genrec import GenrecError
from genrec.data.catalog import Catalog
from genrec.data.dataset import load_interactions, load_users

from .conftest import make_recommender

pytestmark = pytest.mark.filterwarnings("ignore")


def fuzz(env: str, default: int):
    """Derandomised settings with `default` examples (the env variable `env` overrides it)."""
    return settings(max_examples=int(os.environ.get(env, default)), derandomize=True, database=None,
                    deadline=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])


RESERVED = ["<unused5>", "<unused12>", "<end_of_turn>", "<bos>", "[multimodal]", "\u2028", "\u0085", "\x00"]
COUNTS: dict[str, dict[str, int]] = {}


def _count(surface: str, outcome: str) -> None:
    COUNTS.setdefault(surface, {"cases": 0, "answers": 0, "genrec_errors": 0})
    COUNTS[surface]["cases"] += 1
    COUNTS[surface][outcome] += 1


@pytest.fixture(scope="module", autouse=True)
def _write_counts():
    yield
    target = os.environ.get("GENREC_FUZZ_COUNTS")
    if target:
        with open(target, "a") as f:
            for surface, c in COUNTS.items():
                f.write(json.dumps({"surface": surface, **c}) + "\n")


texts = st.one_of(st.text(max_size=30), st.sampled_from(RESERVED), st.text(max_size=3000),
                  st.just(""), st.just(" "), st.just("x" * 5000))
numbers = st.one_of(st.integers(), st.just(10**400), st.floats(allow_nan=True, allow_infinity=True),
                    st.just(-1), st.just(0), st.integers(0, 120))
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
junk = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                    max_leaves=8)


@pytest.fixture(scope="module")
def rec(demo, tiny_model, tokenizer, encoder):
    return make_recommender(demo, tiny_model, tokenizer, encoder, model_weight=0.0, explain_with_model=False)


def _ids(demo):
    return st.sampled_from([it.item_id for it in demo][:200] + ["nope", "", "P"])


def _profile(demo):
    fields = {"age": st.one_of(st.integers(0, 120), numbers, texts), "gender": st.one_of(texts, junk),
              "location": texts, "occupation": texts, "interests": st.one_of(st.lists(texts, max_size=5), texts, junk),
              "free_text": texts, "budget": numbers,
              "recent_items": st.one_of(st.lists(st.one_of(_ids(demo), st.fixed_dictionaries(
                  {"item_id": _ids(demo)}, optional={"rating": numbers, "timestamp": scalars})), max_size=4),
                  _ids(demo), junk),
              "excluded_brands": st.one_of(st.lists(texts, max_size=3), junk)}
    plausible = {"age": st.integers(0, 120), "gender": st.sampled_from(["female", "male", "nonbinary"]),
                 "interests": st.lists(st.sampled_from(["running", "coffee", "skincare", "pens", "x"]), max_size=3),
                 "free_text": st.text(max_size=80), "budget": st.floats(1, 500),
                 "recent_items": st.lists(_ids(demo).filter(lambda i: i in demo.index), max_size=3)}
    return st.one_of(st.fixed_dictionaries({}, optional=plausible), st.fixed_dictionaries({}, optional=plausible),
                     st.fixed_dictionaries({}, optional=fields),
                     st.dictionaries(st.one_of(st.text(max_size=10), st.integers()), junk, max_size=3),
                     texts.map(lambda t: t[:200]), junk)


def _filters(demo):
    cats = sorted({c for it in demo for c in it.category})
    names = st.one_of(st.sampled_from(cats), texts)
    lists = lambda s: st.one_of(st.lists(s, max_size=3), s, junk)  # noqa: E731
    plausible = st.fixed_dictionaries({}, optional={"category": st.sampled_from(cats), "max_price": st.floats(1, 300),
                                                    "min_price": st.floats(0, 50), "exclude": st.lists(_ids(demo))})
    return st.one_of(plausible, plausible, st.just({}), st.fixed_dictionaries({}, optional={
        "category": names, "categories": lists(names), "min_price": numbers, "max_price": numbers,
        "exclude": lists(_ids(demo)), "candidates": lists(_ids(demo)), "exclude_recent": scalars}))


def _check_answer(recs, demo, k, filters):
    ids = [r.item_id for r in recs]
    assert len(ids) == len(set(ids)) <= k and all(i in demo.index for i in ids)
    f = filters
    for r in recs:
        it = demo.get(r.item_id)
        if isinstance(f.get("min_price"), (int, float)) and it.price is not None:
            assert it.price >= f["min_price"]
        if isinstance(f.get("max_price"), (int, float)) and it.price is not None:
            assert it.price <= f["max_price"]
        ex = f.get("exclude")
        assert it.item_id not in (ex if isinstance(ex, (list, tuple)) else [ex])


@fuzz("GENREC_FUZZ_PROFILES", 4000)
@given(data=st.data())
def test_profiles_and_filters_give_an_answer_or_a_genrec_error(rec, demo, data):
    profile = data.draw(_profile(demo))
    filters = data.draw(_filters(demo))
    k = data.draw(st.one_of(st.integers(1, 12), st.integers(1, 12), st.sampled_from([0, -1, True, 1.5, "3", 10**400])))
    try:
        recs = rec.recommend(profile, k=k, explain=data.draw(st.booleans()), **filters)
    except GenrecError:
        _count("recommend", "genrec_errors")
        return
    _count("recommend", "answers")
    _check_answer(recs, demo, k, filters)


def _rows_text(draw_rows, fmt: str) -> str:
    if fmt == "jsonl":
        return "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in draw_rows)
    return "\n".join(r if isinstance(r, str) else ",".join(str(v) for v in (r.values() if isinstance(r, dict)
                                                                           else [r])) for r in draw_rows)


def _item_rows():
    item = st.fixed_dictionaries({"item_id": st.one_of(st.text(string.ascii_letters, min_size=1, max_size=6), junk),
                                  "title": st.one_of(texts, junk)},
                                 optional={"description": st.one_of(texts, junk), "category": st.one_of(texts, junk),
                                           "brand": st.one_of(texts, junk), "price": st.one_of(numbers, texts),
                                           "attributes": junk, "extra": junk})
    raw = st.one_of(st.sampled_from(["[1,2]", "null", "4", '"x"', "{", "[" * 5000 + "]" * 5000,
                                     '{"item_id": "a", "title": "t", "price": ' + "9" * 400 + "}",
                                     '{"item_id": "a", "title": "a\u2028b"}', "\ufeff", "a,b\n\"x\ny\",z"]),
                    st.text(max_size=200))
    return st.lists(st.one_of(item, raw, junk), min_size=0, max_size=6)


@fuzz("GENREC_FUZZ_FILES", 3000)
@given(rows=_item_rows(), fmt=st.sampled_from(["jsonl", "csv"]), header=st.booleans(),
       raw_bytes=st.one_of(st.none(), st.binary(max_size=64)))
def test_catalog_files_load_or_fail_with_a_genrec_error(tmp_path_factory, rows, fmt, header, raw_bytes):
    folder = tmp_path_factory.getbasetemp() / "fuzz_catalog"
    folder.mkdir(exist_ok=True)
    path = folder / f"items.{fmt}"
    text = _rows_text(rows, fmt)
    if fmt == "csv" and header:
        text = "item_id,title,description,category,brand,price\n" + text
    path.write_bytes(raw_bytes if raw_bytes is not None else text.encode("utf-8", "surrogatepass"))
    try:
        cat = Catalog.load(path)
    except GenrecError:
        _count("catalog files", "genrec_errors")
        return
    _count("catalog files", "answers")
    assert len(cat) >= 1 and len({it.item_id for it in cat}) == len(cat)


@fuzz("GENREC_FUZZ_LOGS", 1500)
@given(rows=st.lists(st.one_of(st.fixed_dictionaries({"user_id": junk, "item_id": st.one_of(
    st.sampled_from(["P19034", "P23023", "zzz"]), junk)}, optional={"seq": junk, "timestamp": junk, "age": junk,
                                                                   "zip_code": junk, "gender": junk}), junk,
                                 st.text(max_size=50)), max_size=5), which=st.sampled_from(["interactions", "users"]))
def test_interaction_and_users_files_load_or_fail_with_a_genrec_error(tmp_path_factory, demo, rows, which):
    folder = tmp_path_factory.getbasetemp() / "fuzz_logs"
    folder.mkdir(exist_ok=True)
    path = folder / f"{which}.jsonl"
    path.write_text(_rows_text(rows, "jsonl"), encoding="utf-8", errors="surrogatepass")
    try:
        out = load_interactions(path, demo) if which == "interactions" else load_users(path)
    except GenrecError:
        _count("logs files", "genrec_errors")
        return
    _count("logs files", "answers")
    assert isinstance(out, dict)


@fuzz("GENREC_FUZZ_CLI", 1500)
@given(argv=st.one_of(
    st.lists(st.one_of(st.sampled_from(["check-catalog", "compare", "convert", "eval", "fit", "train", "-k", "abc",
                                        "--profile", "--data", "/", "/dev/null", "--format", "movielens", "-v"]),
                       st.text(max_size=20)), max_size=6),
    st.tuples(st.just("check-catalog"), st.sampled_from(["/", "/dev/null", "/nonexistent.jsonl", "x.parquet",
                                                          "/proc/self/status", "README.md"])).map(list),
    st.tuples(st.just("eval"), st.just("--data"), st.sampled_from(["/", "/tmp", "/nonexistent"])).map(list)))
def test_cli_arguments_end_in_a_one_line_error_or_success(argv, capsys):
    from genrec.apps.cli import main

    try:
        code = main(argv)
    except SystemExit as e:  # argparse: usage mistakes exit 2 with one line
        code = e.code
    err = capsys.readouterr().err
    assert code in (0, 2), (argv, err[-500:])
    assert "Traceback" not in err
    _count("cli", "answers" if code == 0 else "genrec_errors")
