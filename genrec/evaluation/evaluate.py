"""Cold-start evaluation: the protocols of ../shared/data/README.md, any system on the recommend contract,
per-user results, a report (Markdown, JSON, plots) and paired significance tests between runs.

Protocol A (cold-start users): a test user's sequence s gives the seed pool P = s[:3] and targets
T = distinct items of s[3:] not in P; for k = 0..3 the system sees the profile plus s[:k] and ranks the
whole catalog minus P. "Stated interests" are the most specific category of each item in P (reported with
and without). Protocol B (cold-start items): every interaction with a cold item is removed from training;
users with >= 1 cold and >= 1 warm interaction are evaluated, history = their warm items in order, targets
= their cold items; ranked among the cold items alone (primary) and among the whole catalog minus history.
Note for B: the history may hold items taken after a target (the split is by item, not time).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..data.cases import Case, cold_item_cases, cold_user_cases
from ..data.dataset import Dataset
from ..errors import GenrecError
from . import metrics

CUTOFFS = (10, 20)
SYSTEMS = ("popularity", "demographic", "tfidf", "embedding", "itemknn", "lightfm", "llm")


@dataclass
class EvalConfig:
    """What to evaluate."""

    protocols: tuple[str, ...] = ("A", "B")
    split: str = "test_cold_users"  # or "valid_cold_users" (tune there)
    known: tuple[int, ...] = (0, 1, 2, 3)  # protocol A: items of the sequence shown
    max_users: int | None = None  # evaluate a seeded sample of users (quick runs)
    seed: int = 0

    def __post_init__(self):
        if not set(self.protocols) <= {"A", "B"} or not self.protocols:
            raise GenrecError(f"protocols must be a subset of A, B; got {self.protocols!r}")
        if self.split not in ("test_cold_users", "valid_cold_users"):
            raise GenrecError(f"split must be test_cold_users or valid_cold_users, got {self.split!r}")
        if not set(self.known) <= {0, 1, 2, 3}:
            raise GenrecError(f"known must be within 0..3, got {self.known!r}")


def _sample(users: list[str], cfg: EvalConfig) -> list[str]:
    if cfg.max_users is None or cfg.max_users >= len(users):
        return users
    rng = np.random.default_rng(cfg.seed)
    return sorted(rng.choice(users, cfg.max_users, replace=False).tolist())


def protocol_a(data: Dataset, cfg: EvalConfig) -> list[Case]:
    splits = _splits(data)
    users = _sample([u for u in splits[cfg.split] if u in data.sequences], cfg)
    return cold_user_cases(data.catalog, data.sequences, data.users, users, splits.get("n_seed_pool", 3), cfg.known)


def protocol_b(data: Dataset, cfg: EvalConfig) -> list[Case]:
    cold = set(_splits(data)["cold_items"])
    users = [u for u, s in data.sequences.items() if cold & set(s) and set(s) - cold]
    return cold_item_cases(data.sequences, _sample(sorted(users), cfg), cold)


def _splits(data: Dataset) -> dict:
    if data.splits is None:
        raise GenrecError(f"dataset {data.name} has no splits.json; create one with --make-splits")
    return data.splits


def training_view(data: Dataset, protocol: str) -> tuple[dict[str, list[str]], set[str]]:
    """The interactions a system may learn from under a protocol, and the items removed from them."""
    splits = _splits(data)
    if protocol == "A":
        train = set(splits["train_users"])
        return {u: s for u, s in data.sequences.items() if u in train}, set()
    cold = set(splits["cold_items"])
    return {u: [i for i in s if i not in cold] for u, s in data.sequences.items()}, cold


def build_system(name: str, data: Dataset, protocol: str, adapter: str | None = None, fit_config=None,
                 progress: bool = True):
    """The system `name` fitted on the protocol's training view (the same data for every system). `llm` is
    genrec fitted to that view by genrec.training.fit (weights per request type chosen on users held out of it), with
    the LoRA `adapter` when given."""
    from . import baselines as b

    seqs, _ = training_view(data, protocol)
    pop = Dataset(data.catalog, seqs).popularity()
    if name == "popularity":
        return b.Popularity(data.catalog, pop)
    if name == "demographic":
        return b.DemographicPopularity(data.catalog, pop, seqs, data.users)
    if name == "tfidf":
        return b.TfIdf(data.catalog, pop)
    if name == "embedding":
        return b.EmbeddingKNN(data.catalog, pop)
    if name == "itemknn":
        return b.ItemKNN(data.catalog, pop, seqs)
    if name == "lightfm":
        from .peers import LightFMSystem

        return LightFMSystem(data.catalog, pop, seqs, data.users)
    if name == "llm":
        from ..training.fit import FitConfig, fitted_recommender

        return fitted_recommender(data.catalog, seqs, data.users, adapter, fit_config or FitConfig(),
                                  progress=progress)
    raise GenrecError(f"unknown system {name!r}; known: {', '.join(SYSTEMS)}")


@dataclass
class Run:
    per_user: list[dict] = field(default_factory=list)  # one row per (system, case)


def evaluate(data: Dataset, systems: list[str], cfg: EvalConfig | None = None, adapter: str | None = None,
             batch: int = 256, fit_config=None) -> Run:
    """Run every system on every case of the chosen protocols; returns per-user rows."""
    cfg = cfg or EvalConfig()
    run = Run()
    cold = set(data.splits.get("cold_items", [])) if data.splits else set()
    for protocol in cfg.protocols:
        cases = protocol_a(data, cfg) if protocol == "A" else protocol_b(data, cfg)
        for name in systems:
            system = build_system(name, data, protocol, adapter, fit_config)
            n = max(CUTOFFS)
            bar = tqdm(total=len(cases), desc=f"{name} protocol {protocol}", unit="case")
            for start in range(0, len(cases), batch):
                chunk = cases[start:start + batch]
                ranked = system.rank_batch([c.profile for c in chunk], [c.filters for c in chunk], n)
                lists = [[data.catalog[i].item_id for i, _ in r] for r in ranked]
                for c, ids in zip(chunk, lists):
                    run.per_user.append(case_row(name, c, ids, data, cold))
                bar.update(len(chunk))
            bar.close()
    return run


def case_row(system: str, c: Case, ids: list[str], data: Dataset, cold: set[str]) -> dict:
    allowed = data.catalog.index.keys() - c.filters.exclude - {r.item_id for r in c.profile.recent_items}
    if c.filters.candidates is not None:
        allowed &= set(c.filters.candidates)
    row = {"system": system, "protocol": c.protocol, "setting": c.setting, "user": c.user, "items": ids[:10],
           "mrr": metrics.mrr(ids, c.targets), "valid_id_rate": metrics.valid_id_rate(ids, allowed),
           "duplicate_rate": metrics.duplicate_rate(ids), "cold_share@10": metrics.cold_share(ids, cold, 10)}
    for k in CUTOFFS:
        row[f"ndcg@{k}"] = metrics.ndcg_at_k(ids, c.targets, k)
        row[f"recall@{k}"] = metrics.recall_at_k(ids, c.targets, k)
    row["precision@10"] = metrics.precision_at_k(ids, c.targets, 10)
    row["hit@10"] = metrics.hit_rate_at_k(ids, c.targets, 10)
    return row


SUMMARY_METRICS = ("ndcg@10", "recall@10", "ndcg@20", "recall@20", "mrr", "hit@10", "precision@10",
                   "cold_share@10", "valid_id_rate", "duplicate_rate")


def summarize(run: Run, data: Dataset) -> list[dict]:
    """Mean and standard error per (protocol, setting, system), plus coverage and diversity."""
    groups: dict[tuple, list[dict]] = {}
    for r in run.per_user:
        groups.setdefault((r["protocol"], r["setting"], r["system"]), []).append(r)
    pop = data.popularity()
    category = {it.item_id: it.category_str for it in data.catalog}
    out = []
    for (protocol, setting, system), rows in sorted(groups.items()):
        s = {"protocol": protocol, "setting": setting, "system": system, "users": len(rows)}
        for m in SUMMARY_METRICS:
            v = np.array([r[m] for r in rows], dtype=np.float64)
            s[m] = float(v.mean())
            s[f"{m}_se"] = float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else 0.0
        lists = [r["items"] for r in rows]
        s["coverage@10"] = metrics.catalog_coverage(lists, len(data.catalog), 10)
        s["diversity@10"] = float(np.mean([metrics.category_diversity(x, category, 10) for x in lists]))
        s["novelty@10"] = float(np.mean([metrics.novelty(x, pop, len(data.sequences), 10) for x in lists]))
        out.append(s)
    return out


def paired_test(a: list[dict], b: list[dict], metric: str = "ndcg@10") -> dict:
    """Paired comparison of two runs' per-user rows on the cases they share (same protocol, setting, user):
    mean difference, paired t-test and Wilcoxon signed-rank p-values."""
    from scipy import stats

    key = lambda r: (r["protocol"], r["setting"], r["user"])  # noqa: E731
    bmap = {key(r): r[metric] for r in b}
    pairs = [(r[metric], bmap[key(r)]) for r in a if key(r) in bmap]
    if len(pairs) < 2:
        raise GenrecError("the two runs share fewer than 2 cases: nothing to compare")
    x, y = np.array(pairs).T
    diff = x - y
    t_p = float(stats.ttest_rel(x, y).pvalue) if diff.any() else 1.0
    w_p = float(stats.wilcoxon(x, y).pvalue) if diff.any() else 1.0
    return {"metric": metric, "cases": len(pairs), "mean_a": float(x.mean()), "mean_b": float(y.mean()),
            "mean_diff": float(diff.mean()), "t_test_p": t_p, "wilcoxon_p": w_p}


def write_report(run: Run, data: Dataset, out: str | Path, systems: list[str], command: str) -> Path:
    """report.md, report.json, per_user.jsonl and plots in `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
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
    (out / "report.json").write_text(json.dumps({"dataset": data.name, "systems": systems, "command": command,
                                                 "summary": summary, "paired_tests": tests}, indent=2))
    plots = _plots(summary, out)
    md = [f"# genrec eval: {data.name}", "", f"Command: `{command}`", "",
          "Mean over users ± standard error. Protocol A ranks the whole catalog minus the seed pool; protocol B "
          "ranks the cold items alone (`cold-only`) or the whole catalog minus the history (`full`).", ""]
    head = ["protocol", "setting", "system", "users", "NDCG@10", "Recall@10", "NDCG@20", "Recall@20", "MRR",
            "cold@10", "coverage@10", "diversity@10", "valid IDs", "dupes"]
    md += ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for s in summary:
        md.append(f"| {s['protocol']} | {s['setting']} | {s['system']} | {s['users']} | {_pm(s, 'ndcg@10')} | "
                  f"{_pm(s, 'recall@10')} | {_pm(s, 'ndcg@20')} | {_pm(s, 'recall@20')} | {s['mrr']:.4f} | "
                  f"{s['cold_share@10']:.3f} | {s['coverage@10']:.3f} | {s['diversity@10']:.3f} | "
                  f"{s['valid_id_rate']:.2%} | {s['duplicate_rate']:.2%} |")
    if tests:
        md += ["", "## Best vs runner-up (paired, NDCG@10, per user)", "",
               "| protocol | setting | best | runner-up | mean diff | t-test p | Wilcoxon p |",
               "| --- | --- | --- | --- | --- | --- | --- |"]
        md += [f"| {t['protocol']} | {t['setting']} | {t['best']} | {t['runner_up']} | {t['mean_diff']:+.4f} | "
               f"{t['t_test_p']:.3g} | {t['wilcoxon_p']:.3g} |" for t in tests]
    md += [""] + [f"![{p.stem}]({p.name})" for p in plots]
    (out / "report.md").write_text("\n".join(md) + "\n")
    return out / "report.md"


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
                pts = sorted((int(s["setting"][2]), s["ndcg@10"]) for s in a
                             if s["system"] == system and s["setting"].endswith(suffix) and
                             ("+" in s["setting"]) == bool(suffix))
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
