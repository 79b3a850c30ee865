import re
from pathlib import Path

import pytest

from genrec.apps.cli import COMMANDS, build_parser, main

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_command_and_option_is_documented_in_the_readme():
    text = README.read_text()
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == set(COMMANDS)
    for name, sp in sub.choices.items():
        assert f"genrec {name}" in text, name
        for action in sp._actions:
            for opt in action.option_strings:
                if opt.startswith("--") and opt != "--help":
                    assert opt in text, f"{name} {opt}"


def test_user_mistakes_exit_2_with_one_line_and_no_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"item_id": "a", "title": "x", "price": "lots"}\n')
    assert main(["check-catalog", str(bad)]) == 2
    err = capsys.readouterr().err
    assert re.search(r"bad.jsonl:1: price must be a number", err) and "Traceback" not in err
    assert main(["recommend", "--profile", '{"age": }']) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert main(["recommend", "--profile", '{"age": 30}', "-k", "0"]) == 2


def test_check_catalog_summarises_a_good_file(capsys):
    from genrec.api import DEMO_DIR

    assert main(["check-catalog", str(DEMO_DIR / "catalog.jsonl")]) == 0
    assert re.search(r"\d{4} items, \d+ categories", capsys.readouterr().out)


def test_unknown_command_is_an_argparse_error():
    with pytest.raises(SystemExit) as e:
        main(["frobnicate"])
    assert e.value.code == 2


def test_a_fit_with_an_adapter_says_the_models_weight_per_request_type():
    from genrec.apps.cli import fit_summary
    from genrec.ranking.shop import DEFAULT, ShopManifest, TypeWeights

    manifest = ShopManifest(
        {DEFAULT: TypeWeights(), "k1": TypeWeights(model=2.0), "k2": TypeWeights(), "k3": TypeWeights()},
        {DEFAULT: {"ndcg@10": 0.1, "cases": 300},
         "k1": {"ndcg@10": 0.12345, "cases": 200,
                "model": {"cases": 150, "without_model_ndcg@10": 0.11, "model_alone_ndcg@10": 0.02, "best_weight": 2.0,
                          "best_gain": 0.0123, "best_gain_se": 0.004, "best_t_test_p": 0.003}},
         "k2": {"ndcg@10": 0.15, "cases": 200,
                "model": {"cases": 150, "without_model_ndcg@10": 0.145, "model_alone_ndcg@10": 0.02, "best_weight": 0.5,
                          "best_gain": 0.005, "best_gain_se": 0.004, "best_t_test_p": 0.2}},
         "k3": {"ndcg@10": 0.2, "cases": 40, "model": {"cases": 30}}})
    assert fit_summary(manifest) == [
        f"  {DEFAULT:<28} 0.1000  (300 cases)",
        f"  {'k1':<28} 0.1235  (200 cases)  model weight 2 (best 2: +0.0123 ± 0.0040 on 150 cases)",
        f"  {'k2':<28} 0.1500  (200 cases)  model weight 0 (best 0.5: +0.0050 ± 0.0040 on 150 cases)",
        f"  {'k3':<28} 0.2000  (40 cases)  model weight 0 (too few scored cases: 30)"]
