"""Tabulate a `genrec eval --diversity none,default,mmr` run: NDCG@10 (± SE), distinct variant families in the
top 10, intra-list diversity, and a paired test of each setting against `none` per request type.

Run: python benchmarks/diversity_table.py EVAL_DIR [EVAL_DIR ...] --name diversity
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import write_report

from genrec.evaluation.report import paired_test

SETTINGS = ("none", "default", "mmr")


def table(folder: Path) -> tuple[list[str], dict]:
    report = json.loads((folder / "report.json").read_text())
    rows = [json.loads(line) for line in (folder / "per_user.jsonl").read_text().splitlines() if line.strip()]
    cells = sorted({(s["protocol"], s["setting"]) for s in report["summary"]})
    md = [f"## {report['dataset']}", "", f"Command: `{report['command']}`", "",
          "| protocol | setting | users | NDCG@10 none | default | p vs none | mmr | p vs none | families@10 "
          "none / default / mmr | ILD@10 none / default / mmr |", "|" + " --- |" * 10]
    data = {"dataset": report["dataset"], "command": report["command"], "cells": []}
    for protocol, setting in cells:
        by = {s["system"]: s for s in report["summary"] if (s["protocol"], s["setting"]) == (protocol, setting)}
        if not all(f"llm:{x}" in by for x in SETTINGS):
            continue

        def per(system, protocol=protocol, setting=setting):
            return [r for r in rows if r["system"] == system and r["protocol"] == protocol
                    and r["setting"] == setting]

        tests = {x: paired_test(per(f"llm:{x}"), per("llm:none")) for x in ("default", "mmr")}
        s = {x: by[f"llm:{x}"] for x in SETTINGS}
        md.append(f"| {protocol} | {setting} | {s['none']['users']} | {s['none']['ndcg@10']:.4f} ± "
                  f"{s['none']['ndcg@10_se']:.4f} | {s['default']['ndcg@10']:.4f} | {tests['default']['t_test_p']:.3g} "
                  f"| {s['mmr']['ndcg@10']:.4f} | {tests['mmr']['t_test_p']:.3g} | "
                  + " / ".join(f"{s[x]['families@10']:.2f}" for x in SETTINGS) + " | "
                  + " / ".join(f"{s[x]['ild@10']:.3f}" for x in SETTINGS) + " |")
        data["cells"].append({"protocol": protocol, "setting": setting,
                              **{x: {m: s[x][m] for m in ("ndcg@10", "ndcg@10_se", "families@10", "ild@10")}
                                 for x in SETTINGS},
                              "paired_vs_none": {x: tests[x] for x in tests}})
    return md, data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--name", default="diversity")
    ap.add_argument("--note", default="", help="a line on cost (time, memory, device) to put under the title")
    args = ap.parse_args()
    md = ["# Varied lists: NDCG cost or gain of one-card-per-family and MMR", "",
          "`none`: plain ranking; `default`: one item per variant family and an item per stated interest (what "
          "`recommend()` does); `mmr`: default plus maximal marginal relevance 0.3. families@10: distinct variant "
          "families per top-10 slot (1.00: no two variants of one product); ILD@10: mean pairwise cosine distance of "
          "the top 10 (MiniLM item text). p: paired t-test per user against `none`.", ""]
    if args.note:
        md += [args.note, ""]
    out = {"command": "python benchmarks/diversity_table.py " + " ".join(args.runs), "runs": []}
    for run in args.runs:
        part, data = table(Path(run))
        md += part + [""]
        out["runs"].append(data)
    write_report(args.name, out, "\n".join(md))


if __name__ == "__main__":
    main()
