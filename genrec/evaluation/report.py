"""The evaluation report: mean and standard error per (protocol, setting, system), paired significance tests
between systems and runs, Markdown + JSON + plots."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..data.cases import MAX_COLD_KNOWN
from ..data.dataset import Dataset
from ..errors import GenrecError
from . import metrics
from .evaluate import Run
from .stats import format_p, mean_se, paired_t_p, two_way_clustered_p

SUMMARY_METRICS = ("ndcg@10", "recall@10", "ndcg@20", "recall@20", "mrr", "hit@10", "precision@10",
                   "cold_share@10", "valid_id_rate", "duplicate_rate", "families@10", "ild@10")


def summarize(run: Run, data: Dataset) -> list[dict]:
    """Mean and standard error per (protocol, setting, system), plus coverage and diversity."""
    groups: dict[tuple, list[dict]] = {}
    for r in run.per_user:
        groups.setdefault((r["protocol"], r["setting"], r["system"]), []).append(r)
    pop = data.popularity()
    category = {it.item_id: it.category_str for it in data.catalog}
    out = []
    for (protocol, setting, system), rows in sorted(groups.items()):
        s = {"protocol": protocol, "setting": setting, "system": system, "users": len(rows),
             "known": rows[0]["known"], "interests": rows[0]["interests"]}
        for m in SUMMARY_METRICS:
            s[m], s[f"{m}_se"] = mean_se([r[m] for r in rows])
        lists = [r["items"] for r in rows]
        s["coverage@10"] = metrics.catalog_coverage(lists, len(data.catalog), 10)
        s["diversity@10"] = float(np.mean([metrics.category_diversity(x, category, 10) for x in lists]))
        s["novelty@10"] = float(np.mean([metrics.novelty(x, pop, len(data.sequences), 10) for x in lists]))
        out.append(s)
    return out


def paired_test(a: list[dict], b: list[dict], metric: str = "ndcg@10") -> dict:
    """Paired comparison of two runs' per-user rows on the cases they share (same protocol, setting, user):
    mean difference, paired t-test and Wilcoxon signed-rank p-values; where every row names its targets (protocol
    B's new items) and the metric splits over them, also the p-value with the items as samples too
    (`item_clustered_p`, stats.two_way_clustered_p): users who took the same new items are not independent, and
    a claim about new items must hold over items, not only over users. None where it cannot be computed."""
    from scipy import stats

    key = lambda r: (r["protocol"], r["setting"], r["user"])  # noqa: E731
    bmap = {key(r): r for r in b}
    shared = [(r, bmap[key(r)]) for r in a if key(r) in bmap]
    if len(shared) < 2:
        raise GenrecError("the two runs share fewer than 2 cases: nothing to compare")
    x, y = np.array([(ra[metric], rb[metric]) for ra, rb in shared]).T
    diff = x - y
    t_p = paired_t_p(diff)
    w_p = float(stats.wilcoxon(x, y).pvalue) if diff.any() else 1.0
    clustered = two_way_clustered_p(shares) if (shares := _item_shares(shared, metric)) else None
    return {"metric": metric, "cases": len(shared), "mean_a": float(x.mean()), "mean_b": float(y.mean()),
            "mean_diff": float(diff.mean()), "t_test_p": t_p, "wilcoxon_p": w_p,
            "item_clustered_p": clustered[1] if clustered else None}


def _item_shares(shared: list[tuple[dict, dict]], metric: str) -> list[dict[str, float]] | None:
    """Each shared case's difference split over its targets (metrics.item_shares of both lists), or None where
    a row lacks its targets or its list, or the split does not add up to the metric (a list cut shorter than
    the metric's cutoff)."""
    out = []
    for ra, rb in shared:
        if not ra.get("targets") or "items" not in ra or "items" not in rb:
            return None
        sa, sb = (metrics.item_shares(metric, r["items"], ra["targets"]) for r in (ra, rb))
        if sa is None or not (math.isclose(sum(sa.values()), ra[metric], abs_tol=1e-9)
                              and math.isclose(sum(sb.values()), rb[metric], abs_tol=1e-9)):
            return None
        out.append({i: sa[i] - sb[i] for i in sa})
    return out


def paired_by_cell(a: list[dict], b: list[dict], metric: str = "ndcg@10") -> dict[tuple[str, str], dict | None]:
    """paired_test within each cell (protocol, setting) that both runs hold: a change can gain in one cell and
    lose in another, which one test over every case pools away. None for a cell that shares fewer than 2 users."""
    cells = sorted({(r["protocol"], r["setting"]) for r in a} & {(r["protocol"], r["setting"]) for r in b})
    by_cell: dict[tuple[str, str], tuple[list[dict], list[dict]]] = {cell: ([], []) for cell in cells}
    for side, rows in enumerate((a, b)):
        for r in rows:
            if (r["protocol"], r["setting"]) in by_cell:
                by_cell[r["protocol"], r["setting"]][side].append(r)
    out = {}
    for cell, (in_a, in_b) in by_cell.items():
        try:
            out[cell] = paired_test(in_a, in_b, metric)
        except GenrecError:  # fewer than 2 shared users in this cell
            out[cell] = None
    return out


def write_report(run: Run, data: Dataset, out: str | Path, systems: list[str], command: str) -> Path:
    """report.md, report.json, per_user.jsonl, fits.json (each fitted genrec system's manifest) and plots in
    `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if run.fits:
        (out / "fits.json").write_text(json.dumps(run.fits, indent=2))
    summary = summarize(run, data)
    with (out / "per_user.jsonl").open("w") as f:
        for r in run.per_user:
            f.write(json.dumps(r) + "\n")
    tests = []
    for protocol, setting in sorted({(s["protocol"], s["setting"]) for s in summary}):
        rows = [s for s in summary if (s["protocol"], s["setting"]) == (protocol, setting)]
        if len(rows) < 2:
            continue
        best, second = sorted(rows, key=lambda s: -s["ndcg@10"])[:2]
        t = paired_test(_rows(run, best["system"], protocol, setting), _rows(run, second["system"], protocol, setting))
        tests.append({"protocol": protocol, "setting": setting, "best": best["system"],
                      "runner_up": second["system"], **t})
    adapter = adapter_tests(run, summary)
    versus = genrec_tests(run, summary)
    history = by_history(run)
    weights = model_weights(run.fits)
    (out / "report.json").write_text(json.dumps({"dataset": data.name, "systems": systems, "command": command,
                                                 "summary": summary, "paired_tests": tests,
                                                 "genrec_tests": versus, "adapter_tests": adapter,
                                                 "model_weights": weights, "by_history": history}, indent=2))
    plots = _plots(summary, out)
    md = [f"# genrec eval: {data.name}", "", f"Command: `{command}`", "",
          "Mean over users ± standard error. Protocol A ranks the whole catalog minus the seed pool; protocol B "
          "ranks the cold items alone (`cold-only`) or the whole catalog minus the history (`full`).", ""]
    head = ["protocol", "setting", "system", "users", "NDCG@10", "Recall@10", "NDCG@20", "Recall@20", "MRR",
            "cold@10", "coverage@10", "diversity@10", "families@10", "ILD@10", "valid IDs", "dupes"]
    md += ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for s in summary:
        md.append(f"| {s['protocol']} | {s['setting']} | {s['system']} | {s['users']} | {_pm(s, 'ndcg@10')} | "
                  f"{_pm(s, 'recall@10')} | {_pm(s, 'ndcg@20')} | {_pm(s, 'recall@20')} | {s['mrr']:.4f} | "
                  f"{s['cold_share@10']:.3f} | {s['coverage@10']:.3f} | {s['diversity@10']:.3f} | "
                  f"{s['families@10']:.3f} | {s['ild@10']:.3f} | "
                  f"{s['valid_id_rate']:.2%} | {s['duplicate_rate']:.2%} |")
    if tests:
        md += ["", "## Best vs runner-up (paired, NDCG@10, per user)", "",
               "| protocol | setting | best | runner-up | mean diff | t-test p | Wilcoxon p |",
               "| --- | --- | --- | --- | --- | --- | --- |"]
        md += [f"| {t['protocol']} | {t['setting']} | {t['best']} | {t['runner_up']} | {t['mean_diff']:+.4f} | "
               f"{t['t_test_p']:.3g} | {t['wilcoxon_p']:.3g} |" for t in tests]
    if versus:
        md += ["", "## genrec against the best other system of each cell (paired, NDCG@10, per user)", "",
               "| protocol | setting | genrec | best other | ratio | mean diff | t-test p | Wilcoxon p | "
               "item-clustered p |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        md += [f"| {t['protocol']} | {t['setting']} | {t['system']} {t['mean_a']:.4f} | {t['other']} "
               f"{t['mean_b']:.4f} | {t['ratio']:.2f} | {t['mean_diff']:+.4f} | {t['t_test_p']:.3g} | "
               f"{t['wilcoxon_p']:.3g} | {format_p(t.get('item_clustered_p'))} |" for t in versus]
        if any(t.get("item_clustered_p") is not None for t in versus):
            md += ["", "Item-clustered p (protocol B): users and new items both counted as samples (two-way "
                   "cluster-robust), as users who took the same new items are not independent."]
    if adapter:
        md += ["", "## What the adapter adds (llm+adapter vs llm fitted without it, paired, NDCG@10, per user)", "",
               "| protocol | setting | with adapter | without | mean diff | t-test p | Wilcoxon p |",
               "| --- | --- | --- | --- | --- | --- | --- |"]
        md += [f"| {t['protocol']} | {t['setting']} | {t['system']} {t['mean_a']:.4f} | {t['mean_b']:.4f} | "
               f"{t['mean_diff']:+.4f} | {t['t_test_p']:.3g} | {t['wilcoxon_p']:.3g} |" for t in adapter]
    if weights:
        md += ["", "## The model's weight per request type (each fit, on the held-out prompts the model scored)", "",
               "A weight over 0 needs the best weight's gain over the prior alone to reach FitConfig.model_gain_se "
               "standard errors (2 by default); 0 says the model adds nothing measurable there and skips its pass.",
               "",
               "| fit | request type | model weight | cases | prior alone | model alone | best weight | its gain ± SE "
               "| t-test p |", "|" + " --- |" * 9]
        md += [f"| {w['fit']} | {w['request_type']} | {w['model_weight']:g} | {w['cases']} | "
               + (f"{w['prior_alone']:.4f} | {w['model_alone']:.4f} | {w['best_weight']:g} | {w['best_gain']:+.4f} "
                  f"± {w['best_gain_se'] or 0:.4f} | {format_p(w['best_t_test_p'])} |" if "best_gain" in w
                  else "too few to choose | | | | |")
               for w in weights]
    if history:
        md += ["", "## Protocol B by history length (NDCG@10 per user)", "",
               f"A returning user's history of 1-{MAX_COLD_KNOWN} items is served as a cold-start request (its "
               "weights chosen on cold-start users), a longer one as a long history "
               "(genrec.data.cases.request_type).", "",
               "| setting | system | history | users | NDCG@10 |", "| --- | --- | --- | --- | --- |"]
        md += [f"| {h['setting']} | {h['system']} | {h['history']} | {h['users']} | {_pm(h, 'ndcg@10')} |"
               for h in history]
    md += [""] + [f"![{p.stem}]({p.name})" for p in plots]
    (out / "report.md").write_text("\n".join(md) + "\n")
    return out / "report.md"


def model_weights(fits: dict[str, dict]) -> list[dict]:
    """Each fit's model weight per request type, with what chose it (the manifest's `held_out.model`): the cases
    the model scored, NDCG@10 of the prior alone and of the model alone there, and the best grid weight's paired
    gain over the prior alone. Fits without a model (zero-shot) give no rows."""
    out = []
    for fit, manifest in fits.items():
        for rtype, held in manifest.get("held_out", {}).items():
            model = held.get("model")
            if model is None:
                continue
            row = {"fit": fit, "request_type": rtype, "model_weight": manifest["weights"][rtype]["model"],
                   "cases": model["cases"]}
            if "best_gain" in model:
                row |= {"prior_alone": model["without_model_ndcg@10"], "model_alone": model["model_alone_ndcg@10"],
                        **{k: model[k] for k in ("best_weight", "best_gain", "best_gain_se", "best_t_test_p")}}
            out.append(row)
    return out


def by_history(run: Run) -> list[dict]:
    """Protocol B's cells split by the length of the user's history: 1-3 known items (a cold-start request type)
    or more (`long`), each system's mean NDCG@10 and its standard error. Where genrec trails a baseline in B, this
    says which kind of request loses."""
    groups: dict[tuple, list[float]] = {}
    for r in run.per_user:
        if r["protocol"] == "B" and r.get("history"):  # runs written before the field have none
            bucket = f"1-{MAX_COLD_KNOWN}" if r["history"] <= MAX_COLD_KNOWN else f">{MAX_COLD_KNOWN}"
            groups.setdefault((r["setting"], r["system"], bucket), []).append(r["ndcg@10"])
    out = []
    for (setting, system, bucket), v in sorted(groups.items()):
        mean, se = mean_se(v)
        out.append({"setting": setting, "system": system, "history": bucket, "users": len(v),
                    "ndcg@10": mean, "ndcg@10_se": se})
    return out


def adapter_tests(run: Run, summary: list[dict]) -> list[dict]:
    """Paired tests of each llm+adapter system (llm+adapter, llm+adapter:<diversity>) against the same llm
    without the adapter, per (protocol, setting): what the adapter adds."""
    cells = {(s["protocol"], s["setting"], s["system"]) for s in summary}
    out = []
    for protocol, setting, system in sorted(cells):
        partner = system.replace("llm+adapter", "llm", 1)
        if system.startswith("llm+adapter") and (protocol, setting, partner) in cells:
            t = paired_test(_rows(run, system, protocol, setting), _rows(run, partner, protocol, setting))
            out.append({"protocol": protocol, "setting": setting, "system": system, "without": partner, **t})
    return out


def genrec_tests(run: Run, summary: list[dict]) -> list[dict]:
    """Paired tests of each genrec system (llm, llm+adapter, llm:<diversity>...) against the best other system
    (baselines, peers) of each (protocol, setting): the comparison a shop cares about."""
    out = []
    for protocol, setting in sorted({(s["protocol"], s["setting"]) for s in summary}):
        rows = [s for s in summary if (s["protocol"], s["setting"]) == (protocol, setting)]
        others = [s for s in rows if not s["system"].startswith("llm")]
        if not others:
            continue
        best = max(others, key=lambda s: s["ndcg@10"])
        for s in rows:
            if s["system"].startswith("llm"):
                t = paired_test(_rows(run, s["system"], protocol, setting),
                                _rows(run, best["system"], protocol, setting))
                ratio = t["mean_a"] / t["mean_b"] if t["mean_b"] else float("inf")
                out.append({"protocol": protocol, "setting": setting, "system": s["system"],
                            "other": best["system"], "ratio": ratio, **t})
    return out


def _rows(run: Run, system: str, protocol: str, setting: str) -> list[dict]:
    return [r for r in run.per_user if (r["system"], r["protocol"], r["setting"]) == (system, protocol, setting)]


def _pm(s: dict, m: str) -> str:
    return f"{s[m]:.4f} ± {s[m + '_se']:.4f}"


def _plots(summary: list[dict], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    a = [s for s in summary if s["protocol"] == "A"]
    if a:
        fig, ax = plt.subplots(figsize=(7, 4))
        for system in sorted({s["system"] for s in a}):
            for suffix, style in (("", "-"), ("+interests", "--")):
                pts = sorted((s["known"], s["ndcg@10"]) for s in a
                             if s["system"] == system and s["interests"] == bool(suffix))
                if pts:
                    ax.plot(*zip(*pts), style, marker="o", label=system + suffix)
        ax.set(xlabel="known items k", ylabel="NDCG@10", title="Protocol A: cold-start users", xticks=[0, 1, 2, 3])
        ax.legend(fontsize=7)
        fig.tight_layout()
        paths.append(out / "ndcg_vs_k.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    b = [s for s in summary if s["protocol"] == "B" and s["setting"] == "full"]
    if b:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.bar([s["system"] for s in b], [s["cold_share@10"] for s in b])
        ax.set(ylabel="share of top-10 slots", title="Protocol B: cold-item exposure (full catalog)")
        fig.tight_layout()
        paths.append(out / "cold_exposure.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    return paths
