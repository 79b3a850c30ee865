"""The evaluation runner: every chosen system, fitted on each protocol's training view, ranks every case; one
row of metrics per (system, case). The protocols: genrec.evaluation.protocols; systems by name:
genrec.evaluation.systems; the report and paired tests: genrec.evaluation.report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tqdm.auto import tqdm

from ..data.cases import Case
from ..data.dataset import Dataset
from . import metrics
from .protocols import EvalConfig, protocol_a, protocol_b, training_view
from .systems import build_system

CUTOFFS = (10, 20)


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
            system = build_system(name, training_view(data, protocol), adapter, fit_config)
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
    row = {"system": system, "protocol": c.protocol, "setting": c.setting, "known": c.known,
           "interests": c.interests, "user": c.user, "items": ids[:10],
           "mrr": metrics.mrr(ids, c.targets), "valid_id_rate": metrics.valid_id_rate(ids, allowed),
           "duplicate_rate": metrics.duplicate_rate(ids), "cold_share@10": metrics.cold_share(ids, cold, 10)}
    for k in CUTOFFS:
        row[f"ndcg@{k}"] = metrics.ndcg_at_k(ids, c.targets, k)
        row[f"recall@{k}"] = metrics.recall_at_k(ids, c.targets, k)
    row["precision@10"] = metrics.precision_at_k(ids, c.targets, 10)
    row["hit@10"] = metrics.hit_rate_at_k(ids, c.targets, 10)
    return row


