import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from genrec import GenrecError, UserProfile
from genrec.apps.cli import main
from genrec.data.convert import amazon, movielens, recbole
from genrec.data.dataset import Dataset, make_splits, write_dataset
from genrec.evaluation.baselines import ItemKNN, Popularity, TfIdf
from genrec.evaluation.evaluate import evaluate
from genrec.evaluation.protocols import EvalConfig, protocol_a, protocol_b
from genrec.evaluation.report import paired_by_cell, paired_test, summarize, write_report


def tiny_dataset(tmp_path, n_users=40, seed=0):
    rng = np.random.default_rng(seed)
    groups = {"Pens": ["pen blue ink", "pen red gel", "pen black fine"], "Paper": ["notebook ruled", "printer paper"],
              "Desks": ["desk lamp", "desk organizer", "office chair"]}
    items, iid = [], {}
    for cat, titles in groups.items():
        for t in titles:
            iid[t] = f"i{len(items)}"
            items.append({"item_id": iid[t], "title": t, "category": f"Office > {cat}", "price": 5.0})
    inter = []
    names = list(iid)
    for u in range(n_users):
        cat = list(groups)[u % 3]
        seq = list(rng.permutation(groups[cat])) + list(rng.choice(names, 3, replace=False))
        for s, t in enumerate(seq):
            inter.append({"user_id": f"u{u}", "item_id": iid[t], "seq": s})
    folder = write_dataset(tmp_path / "d", items, inter, [{"user_id": f"u{u}", "gender": "F" if u % 2 else "M",
                                                            "age": 20 + u} for u in range(n_users)])
    data = Dataset.load(folder)
    data.splits = make_splits(data, seed=1, min_item_users=2)
    (folder / "splits.json").write_text(json.dumps(data.splits))
    return data


def test_protocol_a_cases_follow_the_readme(tmp_path):
    data = tiny_dataset(tmp_path)
    cases = protocol_a(data, EvalConfig())
    users = {c.user for c in cases}
    assert users == set(data.splits["test_cold_users"])
    for c in cases:
        s = data.sequences[c.user]
        k = c.known
        assert [r.item_id for r in c.profile.recent_items] == s[:k]
        assert c.filters.exclude == frozenset(s[:3]) and c.targets == set(s[3:]) - set(s[:3])
        leaves = {data.catalog.get(i).category[-1] for i in s[:3]}
        assert set(c.profile.interests) == (leaves if c.interests else set())
    assert len(cases) == len(users) * 8


def test_protocol_b_cases_follow_the_readme(tmp_path):
    data = tiny_dataset(tmp_path)
    cold = set(data.splits["cold_items"])
    cases = protocol_b(data, EvalConfig())
    for c in cases:
        s = data.sequences[c.user]
        assert c.targets == {i for i in s if i in cold} and c.targets
        assert [r.item_id for r in c.profile.recent_items] == list(dict.fromkeys(i for i in s if i not in cold))
        assert (set(c.filters.candidates) == cold) if c.setting == "cold-only" else c.filters.candidates is None


def test_baselines_answer_the_recommend_contract(tmp_path):
    data = tiny_dataset(tmp_path)
    pop = data.popularity()
    for system in (Popularity(data.catalog, pop), TfIdf(data.catalog, pop),
                   ItemKNN(data.catalog, pop, data.sequences)):
        recs = system.recommend({"interests": ["Pens"], "recent_items": ["i0"]}, k=4, max_price=10)
        ids = [r.item_id for r in recs]
        assert len(ids) == len(set(ids)) == 4 and "i0" not in ids
        assert [r.rank for r in recs] == [1, 2, 3, 4]
        assert all(data.catalog.get(i).category[-1] == "Pens" for i in ids[:2])  # interest first
        assert system.recommend({}, k=3, max_price=1) == []
        with pytest.raises(GenrecError):
            system.recommend({}, k=0)


def test_itemknn_ranks_co_taken_items_first(tmp_path):
    data = tiny_dataset(tmp_path)
    knn = ItemKNN(data.catalog, data.popularity(), data.sequences)
    ids = [r.item_id for r in knn.recommend(UserProfile(recent_items=("i0", "i1")), k=1)]
    assert ids == ["i2"]  # the third pen: always taken by the users who took i0 and i1


def test_evaluate_summary_report_and_paired_test(tmp_path):
    data = tiny_dataset(tmp_path)
    run = evaluate(data, ["popularity", "itemknn"], EvalConfig())
    summary = summarize(run, data)
    assert {s["system"] for s in summary} == {"popularity", "itemknn"}
    assert all(s["valid_id_rate"] == 1.0 and s["duplicate_rate"] == 0.0 for s in summary)
    report = write_report(run, data, tmp_path / "out", ["popularity", "itemknn"], "test")
    text = report.read_text()
    assert "| A | k=3 | itemknn |" in text and "Wilcoxon" in text
    assert (tmp_path / "out" / "ndcg_vs_k.png").stat().st_size > 1000
    rows = [r for r in run.per_user if r["system"] == "itemknn"]
    same = paired_test(rows, rows)
    assert same["mean_diff"] == 0.0 and same["t_test_p"] == 1.0
    assert all("targets" not in r for r in rows)  # protocol A's rows: users are the samples


def test_protocol_b_rows_name_each_users_new_items_so_a_paired_test_counts_items_as_samples_too(tmp_path):
    data = tiny_dataset(tmp_path)
    data.splits["cold_items"] = ["i0", "i3", "i5"]  # the tiny shop has too few items for make_splits to hold any
    run = evaluate(data, ["popularity", "tfidf"], EvalConfig(protocols=("B",)))
    rows = {s: [r for r in run.per_user if r["system"] == s] for s in ("popularity", "tfidf")}
    assert rows["tfidf"] and all(r["targets"] == sorted(set(data.sequences[r["user"]]) & {"i0", "i3", "i5"})
                                 for r in rows["tfidf"])
    t = paired_test(rows["tfidf"], rows["popularity"])
    assert t["item_clustered_p"] is not None and 0 <= t["item_clustered_p"] <= 1


def _row(protocol, setting, user, ndcg, system="llm"):
    return {"system": system, "protocol": protocol, "setting": setting, "user": user, "ndcg@10": ndcg}


def test_paired_by_cell_tests_each_cell_apart():
    """Run b gains .1, .1 and .2 for the three users of A k=0, equals run a in k=1 and shares one user of B
    cold-only."""
    a = ([_row("A", "k=0", u, x) for u, x in zip("uvw", (0.1, 0.2, 0.3))]
         + [_row("A", "k=1", u, x) for u, x in zip("uvw", (0.0, 0.5, 1.0))] + [_row("B", "cold-only", "u", 0.5)])
    b = ([_row("A", "k=0", u, x) for u, x in zip("uvw", (0.2, 0.3, 0.5))]
         + [_row("A", "k=1", u, x) for u, x in zip("uvw", (0.0, 0.5, 1.0))]
         + [_row("B", "cold-only", u, 1.0) for u in "uz"] + [_row("B", "full", "u", 0.0)])
    cells = paired_by_cell(a, b)
    assert list(cells) == [("A", "k=0"), ("A", "k=1"), ("B", "cold-only")]  # B full: only in run b
    k0 = cells[("A", "k=0")]
    assert k0["cases"] == 3 and k0["mean_diff"] == pytest.approx(-0.4 / 3)
    assert k0["t_test_p"] == pytest.approx(stats.ttest_rel([0.1, 0.2, 0.3], [0.2, 0.3, 0.5]).pvalue)
    assert cells[("A", "k=1")]["mean_diff"] == 0.0 and cells[("A", "k=1")]["t_test_p"] == 1.0
    assert cells[("B", "cold-only")] is None  # one shared user


def test_cli_compare_prints_each_cell_and_all_cases(tmp_path, capsys):
    for name, gain in (("a", 0.0), ("b", 0.1)):
        rows = [_row("A", s, u, x * (1 + gain) if s == "k=0" else x) for s in ("k=0", "k=1")
                for u, x in zip("uvw", (0.1, 0.3, 0.4))]
        (tmp_path / name).mkdir()
        (tmp_path / name / "per_user.jsonl").write_text("\n".join(map(json.dumps, rows)) + "\n")
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "| A | k=0 | 3 | 0.2667 | 0.2933 | +0.0267 |" in out
    assert "| A | k=1 | 3 | 0.2667 | 0.2667 | +0.0000 | 1 | 1 |" in out
    assert "all 6 shared cases: A 0.2667, B 0.2800, diff B - A +0.0133" in out
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--metric", "ndcg@5"]) == 2
    assert "'ndcg@5' is not in the per-user results" in capsys.readouterr().err


def test_movielens_100k_fixture_converts_and_evaluates(tmp_path):
    ml = tmp_path / "ml-100k"
    ml.mkdir()
    flags = lambda g: "|".join("1" if i == g else "0" for i in range(19))  # noqa: E731
    ml.joinpath("u.item").write_text("\n".join(f"{i}|Movie {i} (1995)|01-Jan-1995||http://x|{flags(i % 5 + 1)}"
                                               for i in range(1, 13)) + "\n", encoding="latin-1")
    rng = np.random.default_rng(0)
    ml.joinpath("u.data").write_text("\n".join(f"{u}\t{i}\t{rng.integers(1, 6)}\t{880000000 + 10 * j}"
                                               for u in range(1, 31) for j, i in
                                               enumerate(rng.choice(np.arange(1, 13), 6, replace=False))) + "\n")
    ml.joinpath("u.user").write_text("\n".join(f"{u}|{20 + u}|{'MF'[u % 2]}|student|12345" for u in range(1, 31)))
    out = tmp_path / "conv"
    assert main(["convert", "--format", "movielens", "--input", str(ml), "--out", str(out), "--make-splits"]) == 0
    data = Dataset.load(out)
    assert len(data.catalog) == 12 and len(data.sequences) == 30 and data.users["1"]["gender"] == "F"
    assert data.catalog.get("1").category == ("Movies", "Adventure")  # flag index 1 % 5 + 1 = 2
    run = evaluate(data, ["demographic"], EvalConfig(protocols=("A",)))
    assert run.per_user and all(r["valid_id_rate"] == 1.0 for r in run.per_user)


def test_amazon_2014_fixture_converts_and_evaluates(tmp_path):
    meta = tmp_path / "meta.json"
    meta.write_text("\n".join(repr({"asin": f"A{i}", "title": f"Stapler {i}", "price": 9.5 + i,
                                    "categories": [["Office Products", "Staplers" if i % 2 else "Tape"]],
                                    "brand": "Acme"}) for i in range(10)) + "\n")
    rng = np.random.default_rng(1)
    reviews = tmp_path / "reviews.json"
    reviews.write_text("\n".join(json.dumps({"reviewerID": f"U{u}", "asin": f"A{i}", "overall": 5.0,
                                             "unixReviewTime": 1400000000 + j})
                                 for u in range(25) for j, i in enumerate(rng.choice(10, 5, replace=False))))
    out = tmp_path / "conv"
    assert main(["convert", "--format", "amazon", "--input", str(reviews), "--meta", str(meta), "--out", str(out),
                 "--make-splits"]) == 0
    data = Dataset.load(out)
    assert data.catalog.get("A1").category == ("Office Products", "Staplers") and data.catalog.get("A1").price == 10.5
    run = evaluate(data, ["tfidf"], EvalConfig())
    assert {r["protocol"] for r in run.per_user} == {"A", "B"}


def test_recbole_fixture_converts(tmp_path):
    (tmp_path / "rb").mkdir()
    (tmp_path / "rb" / "shop.inter").write_text("user_id:token\titem_id:token\ttimestamp:float\nu1\ti1\t1\nu1\ti2\t2\n")
    (tmp_path / "rb" / "shop.item").write_text("item_id:token\ttitle:token_seq\tcategories:token_seq\n"
                                               "i1\tRed pen\tpens\ni2\tBlue pen\tpens\n")
    data = Dataset.load(recbole(tmp_path / "rb", tmp_path / "out"))
    assert data.sequences == {"u1": ["i1", "i2"]} and data.catalog.get("i2").title == "Blue pen"


def test_malformed_rows_are_errors_with_file_and_line(tmp_path):
    ml = tmp_path / "ml"
    ml.mkdir()
    ml.joinpath("u.item").write_text("1|Movie|x\n", encoding="latin-1")
    ml.joinpath("u.data").write_text("1\t1\t5\t0\n")
    with pytest.raises(GenrecError, match=r"u.item:1: expected 24 fields"):
        movielens(ml, tmp_path / "o")
    (tmp_path / "m.json").write_text("{'asin': 'A1'}\nnot a dict\n")
    (tmp_path / "r.json").write_text("")
    with pytest.raises(GenrecError, match=r"m.json:2: neither JSON nor a Python dict"):
        amazon(tmp_path / "r.json", tmp_path / "m.json", tmp_path / "o2")
    data_dir = write_dataset(tmp_path / "bad", [{"item_id": "a", "title": "A"}],
                             [{"user_id": "u", "item_id": "zz"}])
    with pytest.raises(GenrecError, match=r"interactions.jsonl:1: no interaction names a catalog item \(.*'zz'"):
        Dataset.load(data_dir)


def test_interactions_with_items_the_catalog_lacks_are_skipped_and_counted(tmp_path, caplog):
    # Shops' logs outlive their catalogs (discontinued products); one such row once stopped genrec eval.
    items = [{"item_id": i, "title": i} for i in "abc"]
    rows = [("u", "a"), ("u", "gone"), ("u", "b"), ("v", "gone"), ("v", "old"), ("w", "c")]
    folder = write_dataset(tmp_path / "d", items, [{"user_id": u, "item_id": i} for u, i in rows])
    with caplog.at_level("WARNING", logger="genrec.data.dataset"):
        data = Dataset.load(folder)
    assert data.sequences == {"u": ["a", "b"], "w": ["c"]}  # v took only items the catalog lacks
    assert "3 of 6 interactions (50%) name 2 item(s) not in the catalog, e.g. ['gone', 'old']" in caplog.text


def test_interactions_are_ordered_by_iso_dates_as_shops_log_them(tmp_path):
    # An ISO date in the timestamp column once stopped genrec eval ("seq/timestamp must be a number").
    items = [{"item_id": i, "title": i} for i in "abcd"]
    rows = [("a", "2021-03-01T09:00:00Z"), ("b", "2020-12-31"), ("c", "2021-03-01 08:59:59"), ("d", 1577836800)]
    folder = write_dataset(tmp_path / "d", items, [{"user_id": "u", "item_id": i, "timestamp": t} for i, t in rows])
    assert Dataset.load(folder).sequences == {"u": ["d", "b", "c", "a"]}  # d: 2020-01-01 in epoch seconds
    write_dataset(folder, items, [{"user_id": "u", "item_id": "a", "timestamp": "01/03/2021"}])
    with pytest.raises(GenrecError, match=r"interactions.jsonl:1: seq/timestamp must be a number or an ISO 8601"):
        Dataset.load(folder)


def test_eval_command_makes_splits_and_writes_the_report(tmp_path, capsys):
    data = tiny_dataset(tmp_path)
    (tmp_path / "d" / "splits.json").unlink()
    args = ["eval", "--data", str(tmp_path / "d"), "--systems", "popularity,tfidf", "--out", str(tmp_path / "r")]
    assert main(args) == 2 and "--make-splits" in capsys.readouterr().err
    assert main(args + ["--make-splits", "--max-users", "5"]) == 0
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert {s["system"] for s in report["summary"]} == {"popularity", "tfidf"}
    assert max(s["users"] for s in report["summary"]) <= 5
    assert json.loads((tmp_path / "d" / "splits.json").read_text())["seed"] == 2024
    assert data.catalog.fingerprint() == Dataset.load(tmp_path / "d").catalog.fingerprint()


def test_eval_on_a_read_only_data_folder_keeps_the_splits_it_made_in_its_output(tmp_path, capsys, caplog,
                                                                                 monkeypatch):
    # Shared shop data is often read-only; --make-splits once ended there in a raw PermissionError.
    tiny_dataset(tmp_path)
    data_dir = tmp_path / "d"
    (data_dir / "splits.json").unlink()
    write_text = Path.write_text

    def refuse_data_dir(path, *a, **kw):
        if path.parent == data_dir:
            raise PermissionError(13, "Permission denied", str(path))
        return write_text(path, *a, **kw)

    monkeypatch.setattr(Path, "write_text", refuse_data_dir)
    args = ["eval", "--data", str(data_dir), "--make-splits", "--systems", "popularity", "--max-users", "5"]
    assert main(args + ["--out", str(tmp_path / "r")]) == 0
    assert not (data_dir / "splits.json").exists()
    assert json.loads((tmp_path / "r" / "splits.json").read_text())["seed"] == 2024
    assert "the seeded splits are in" in caplog.text
    capsys.readouterr()
    (tmp_path / "file").write_text("")
    assert main(args + ["--out", str(tmp_path / "file" / "r")]) == 1  # an output folder that cannot be made
    err = capsys.readouterr().err
    assert err.startswith("genrec: error:") and "Traceback" not in err


def test_eval_reads_a_shop_exported_as_csv_with_dates_and_age_bands(tmp_path, capsys):
    # The files as a shop's database exports them: CSV, numeric IDs, ISO dates, age bands, coded occupations.
    # Each of the last three once stopped or silently skipped part of genrec eval.
    data = tiny_dataset(tmp_path)
    shop = tmp_path / "shop"
    shop.mkdir()
    ids = {it.item_id: str(100 + n) for n, it in enumerate(data.catalog)}
    shop.joinpath("items.csv").write_text("item_id,title,category\n" + "".join(
        f"{ids[it.item_id]},{it.title},{it.category_str}\n" for it in data.catalog))
    shop.joinpath("interactions.csv").write_text("user_id,item_id,timestamp\n" + "".join(
        f"{u[1:]},{ids[i]},2024-01-{s + 1:02d}T12:00:00Z\n" for u, seq in data.sequences.items()
        for s, i in enumerate(seq)))
    bands = ["18-24", "25-34", "35+"]
    shop.joinpath("users.csv").write_text("user_id,age,gender,occupation\n" + "".join(
        f"{u[1:]},{bands[n % 3]},{data.users[u]['gender']},{n % 4}\n" for n, u in enumerate(data.sequences)))
    out = tmp_path / "r"
    assert main(["eval", "--data", str(shop), "--make-splits", "--protocols", "A", "--systems",
                 "popularity,demographic", "--out", str(out)]) == 0, capsys.readouterr().err
    loaded = Dataset.load(shop)
    assert loaded.sequences["0"] == [ids[i] for i in data.sequences["u0"]]
    assert loaded.users["0"] == {"age": 18, "gender": "M", "occupation": "0"}
    report = json.loads((out / "report.json").read_text())
    k0 = {s["system"]: s["ndcg@10"] for s in report["summary"] if s["setting"] == "k=0"}
    assert set(k0) == {"popularity", "demographic"}


def test_demographic_popularity_prefers_the_users_group(tmp_path):
    from genrec.data.catalog import Catalog, Item
    from genrec.evaluation.baselines import DemographicPopularity

    cat = Catalog([Item("a", "A"), Item("b", "B"), Item("c", "C")])
    seqs = {"u1": ["a"], "u2": ["a"], "u3": ["b"], "u4": ["c"], "u5": ["a"]}
    users = {"u3": {"gender": "F", "age": 31}, "u4": {"gender": "F", "age": 55}}
    pop = Dataset(cat, seqs).popularity()
    demo = DemographicPopularity(cat, pop, seqs, users)
    # (F, 30s) holds only u3: b first; a and c tie there and global popularity orders them
    assert [r.item_id for r in demo.recommend({"gender": "F", "age": 35}, k=3)] == ["b", "a", "c"]
    assert [r.item_id for r in demo.recommend({"gender": "F"}, k=1)] in (["b"], ["c"])
    assert [r.item_id for r in demo.recommend({}, k=1)] == ["a"]  # no demographics: global popularity


def test_adapter_goes_with_the_llm_adapter_system(tmp_path, capsys):
    tiny_dataset(tmp_path)
    base = ["eval", "--data", str(tmp_path / "d"), "--out", str(tmp_path / "r")]
    assert main(base + ["--systems", "popularity,llm", "--adapter", str(tmp_path)]) == 2
    assert "llm+adapter" in capsys.readouterr().err
    assert main(base + ["--systems", "llm+adapter"]) == 2
    assert "--adapter" in capsys.readouterr().err


def test_llm_and_llm_adapter_are_fitted_on_the_users_the_adapters_training_left_out(tmp_path, monkeypatch):
    """genrec eval --adapter: llm (zero-shot) and llm+adapter fit on the same held-out users, those the adapter
    lists, so their paired difference is the model's alone; only llm+adapter loads the adapter."""
    from genrec.evaluation.protocols import training_view
    from genrec.evaluation.systems import build_system
    from genrec.training import fit as fit_module

    tiny_dataset(tmp_path)
    view = training_view(Dataset.load(tmp_path / "d"), "A")
    listed = (["u1", "u2"], {"i0"})
    calls = []
    monkeypatch.setattr(fit_module, "adapter_holdout", lambda folder, seqs: listed if folder == "AD" else None)
    monkeypatch.setattr(fit_module, "fitted_recommender",
                        lambda cat, seqs, users, adapter, config, progress, holdout, paired:
                        calls.append((adapter, holdout, paired)))
    for name in ("llm", "llm+adapter"):
        build_system(name, view, adapter="AD", progress=False)
    build_system("llm", view, progress=False)
    assert calls == [(None, listed, True), ("AD", listed, True), (None, None, False)]


def test_report_pairs_each_llm_adapter_system_with_the_same_llm_without_it():
    from genrec.evaluation.evaluate import Run
    from genrec.evaluation.report import adapter_tests

    rows = []
    for system, gain in (("llm+adapter", 0.1), ("llm", 0.0), ("popularity", 0.5)):
        for u in range(6):
            rows.append({"system": system, "protocol": "A", "setting": "k=1", "user": f"u{u}",
                         "ndcg@10": u / 10 + gain * (u % 2)})
    summary = [{"protocol": "A", "setting": "k=1", "system": s} for s in ("llm+adapter", "llm", "popularity")]
    (t,) = adapter_tests(Run(rows), summary)
    assert (t["system"], t["without"], t["cases"]) == ("llm+adapter", "llm", 6)
    assert t["mean_diff"] == pytest.approx(0.05)
    assert adapter_tests(Run(rows), summary[1:]) == []


def test_report_pairs_each_genrec_system_with_the_best_other_system_of_the_cell():
    from genrec.evaluation.evaluate import Run
    from genrec.evaluation.report import genrec_tests

    rows, summary = [], []
    for system, base in (("llm", 0.3), ("llm+adapter", 0.2), ("tfidf", 0.25), ("popularity", 0.1)):
        for u in range(6):
            rows.append({"system": system, "protocol": "B", "setting": "full", "user": f"u{u}",
                         "ndcg@10": base + u / 100})
        summary.append({"protocol": "B", "setting": "full", "system": system, "ndcg@10": base + 0.025})
    tests = genrec_tests(Run(rows), summary)
    assert [(t["system"], t["other"]) for t in tests] == [("llm", "tfidf"), ("llm+adapter", "tfidf")]
    assert tests[0]["mean_diff"] == pytest.approx(0.05) and tests[0]["ratio"] == pytest.approx(0.325 / 0.275)
    assert genrec_tests(Run(rows), [s for s in summary if s["system"].startswith("llm")]) == []


def test_report_keeps_each_fitted_genrec_systems_manifest(tmp_path, monkeypatch):
    """fits.json holds the manifest of every fitted genrec system per protocol: the weights the fit chose (a
    model weight of 0 says the adapter added nothing there) beside the numbers they produced."""
    from types import SimpleNamespace

    from genrec.evaluation import systems

    class Fitted:  # a baseline standing in for a fitted genrec: the manifest is what the report must keep
        def __init__(self, view):
            self.inner = Popularity.fit(view)
            manifest = {"users": len(view.sequences)}
            self.shop = SimpleNamespace(manifest=SimpleNamespace(to_dict=lambda: manifest))

        def rank_batch(self, *args):
            return self.inner.rank_batch(*args)

    data = tiny_dataset(tmp_path)
    monkeypatch.setitem(systems.SYSTEMS, "llm", lambda view, **_: Fitted(view))
    run = evaluate(data, ["popularity", "llm"], EvalConfig())
    write_report(run, data, tmp_path / "out", ["popularity", "llm"], "test")
    fits = json.loads((tmp_path / "out" / "fits.json").read_text())
    assert set(fits) == {"llm A", "llm B"}
    assert fits["llm A"]["users"] < fits["llm B"]["users"]  # A fits on the training users, B on everyone
    write_report(evaluate(data, ["popularity"], EvalConfig()), data, tmp_path / "base", ["popularity"], "test")
    assert not (tmp_path / "base" / "fits.json").exists()


def test_report_gives_each_fits_model_weight_per_request_type(tmp_path, monkeypatch):
    """With an adapter, the report says per request type what weight the fit gave the model and on what gain;
    a type with too few scored cases says so, and a type or fit without a model gives no row."""
    from types import SimpleNamespace

    from genrec.evaluation import systems
    from genrec.evaluation.report import model_weights

    chosen = {"cases": 150, "without_model_ndcg@10": 0.06, "model_alone_ndcg@10": 0.02, "best_weight": 0.5,
              "best_gain": 0.0128, "best_gain_se": 0.0056, "best_t_test_p": 0.023}
    manifest = {"weights": {"k1": {"model": 0.5}, "k2": {"model": 0.0}, "k3": {"model": 0.0}},
                "held_out": {"k1": {"model": chosen}, "k2": {"model": {"cases": 12}}, "k3": {"ndcg@10": 0.1}}}

    class Fitted:  # a baseline standing in for a fitted genrec with an adapter
        def __init__(self, view):
            self.inner = Popularity.fit(view)
            self.shop = SimpleNamespace(manifest=SimpleNamespace(to_dict=lambda: manifest))

        def rank_batch(self, *args):
            return self.inner.rank_batch(*args)

    assert model_weights({"llm+adapter A": manifest, "llm A": {"weights": {}, "held_out": {"k1": {}}}}) == [
        {"fit": "llm+adapter A", "request_type": "k1", "model_weight": 0.5, "cases": 150, "prior_alone": 0.06,
         "model_alone": 0.02, "best_weight": 0.5, "best_gain": 0.0128, "best_gain_se": 0.0056,
         "best_t_test_p": 0.023},
        {"fit": "llm+adapter A", "request_type": "k2", "model_weight": 0.0, "cases": 12}]
    data = tiny_dataset(tmp_path)
    monkeypatch.setitem(systems.SYSTEMS, "llm", lambda view, **_: Fitted(view))
    write_report(evaluate(data, ["popularity", "llm"], EvalConfig()), data, tmp_path / "out", ["llm"], "test")
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| llm A | k1 | 0.5 | 150 | 0.0600 | 0.0200 | 0.5 | +0.0128 ± 0.0056 | 0.023 |" in md
    assert "| llm B | k2 | 0 | 12 | too few to choose | | | | |" in md
    assert len(json.loads((tmp_path / "out" / "report.json").read_text())["model_weights"]) == 4


def test_report_splits_protocol_b_by_history_length():
    """Protocol B's users with 1-3 known items get cold-start weights, longer histories the long ones: the report
    gives each system's NDCG@10 per kind, exactly, so a lost cell says which requests lose."""
    from genrec.evaluation.evaluate import Run
    from genrec.evaluation.report import by_history

    rows = [{"system": "llm", "protocol": "B", "setting": "full", "user": f"u{n}", "history": n,
             "ndcg@10": v} for n, v in ((1, 0.0), (3, 0.5), (4, 0.25), (50, 0.75))]
    rows.append({"system": "llm", "protocol": "A", "setting": "k=1", "user": "u9", "history": 1, "ndcg@10": 1.0})
    rows.append({"system": "llm", "protocol": "B", "setting": "full", "user": "old", "ndcg@10": 1.0})  # no field
    short, long_ = by_history(Run(rows))
    assert (short["history"], short["users"], short["ndcg@10"]) == ("1-3", 2, 0.25)
    assert short["ndcg@10_se"] == pytest.approx(0.25)  # sd 0.3536 over sqrt(2)
    assert (long_["history"], long_["users"], long_["ndcg@10"]) == (">3", 2, 0.5)
