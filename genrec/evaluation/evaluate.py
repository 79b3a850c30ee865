"""The evaluation runner: every chosen system, fitted on each protocol's training view, ranks every case; one
row of metrics per (system, case). The protocols: genrec.evaluation.protocols; systems by name:
genrec.evaluation.systems; the report and paired tests: genrec.evaluation.report.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from tqdm.auto import tqdm

from ..data.cases import Case
from ..data.dataset import Dataset
from . import metrics
from .protocols import EvalConfig, protocol_a, protocol_b, training_view
from .systems import LLM_SYSTEMS, build_system

CUTOFFS = (10, 20)


@dataclass
class Run:
    per_user: list[dict] = field(default_factory=list)  # one row per (system, case)
    # each fitted genrec system's shop manifest ("llm A": weights per request type, held-out NDCG), so a
    # report shows the weight the fit gave the model where the adapter adds nothing
    fits: dict[str, dict] = field(default_factory=dict)


@dataclass(frozen=True)
class ListContext:
    """What the list-diversity metrics read: each item's variant family and text embedding."""

    family: dict
    vectors: dict

    @classmethod
    def of(cls, data: Dataset, encoder=None) -> ListContext:
        from ..model.embed import default_encoder, encode_catalog
        from ..ranking.diversity import family_ids

        emb = encode_catalog(data.catalog, encoder or default_encoder())
        ids = [it.item_id for it in data.catalog]
        return cls(dict(zip(ids, family_ids(data.catalog).tolist())), dict(zip(ids, emb)))


def evaluate(data: Dataset, systems: list[str], cfg: EvalConfig | None = None, adapter: str | None = None,
             batch: int = 256, fit_config=None, diversity=None, encoder=None) -> Run:
    """Run every system on every case of the chosen protocols; returns per-user rows. `diversity`: the llm
    system's genrec.Diversity (None: the library default), or {label: Diversity} to score several on one fit;
    `encoder`: for the list-diversity metric."""
    cfg = cfg or EvalConfig()
    run = Run()
    cold = set(data.splits.get("cold_items", [])) if data.splits else set()
    ctx = ListContext.of(data, encoder)
    # Several diversity settings ({label: Diversity}) share one fitted llm: rows as "llm:<label>".
    variants = diversity if isinstance(diversity, dict) else {None: diversity}
    for protocol in cfg.protocols:
        cases = protocol_a(data, cfg) if protocol == "A" else protocol_b(data, cfg)
        for name in systems:
            system = build_system(name, training_view(data, protocol), adapter, fit_config)
            if getattr(system, "shop", None) is not None:
                run.fits[f"{name} {protocol}"] = system.shop.manifest.to_dict()
            elif name in LLM_SYSTEMS:  # logs too small to fit on (a warning said why): default weights
                run.fits[f"{name} {protocol}"] = {"fitted": False}
            for label, div in variants.items() if name in LLM_SYSTEMS else [(None, None)]:
                if name in LLM_SYSTEMS and div is not None:
                    system.config = replace(system.config, diversity=div)
                shown = f"{name}:{label}" if label is not None else name
                _score(run, shown, system, cases, data, cold, ctx, batch, protocol)
    return run


def _score(run: Run, name: str, system, cases, data: Dataset, cold: set[str], ctx: ListContext, batch: int,
           protocol: str) -> None:
    n = max(CUTOFFS)
    bar = tqdm(total=len(cases), desc=f"{name} protocol {protocol}", unit="case")
    for start in range(0, len(cases), batch):
        chunk = cases[start:start + batch]
        ranked = system.rank_batch([c.profile for c in chunk], [c.filters for c in chunk], n)
        lists = [[data.catalog[i].item_id for i, _ in r] for r in ranked]
        for c, ids in zip(chunk, lists):
            run.per_user.append(case_row(name, c, ids, data, cold, ctx))
        bar.update(len(chunk))
    bar.close()


def case_row(system: str, c: Case, ids: list[str], data: Dataset, cold: set[str], ctx: ListContext) -> dict:
    allowed = data.catalog.index.keys() - c.filters.exclude - {r.item_id for r in c.profile.recent_items}
    if c.filters.candidates is not None:
        allowed &= set(c.filters.candidates)
    row = {"system": system, "protocol": c.protocol, "setting": c.setting, "known": c.known,
           "history": len(c.profile.recent_items), "interests": c.interests, "user": c.user, "items": ids[:10],
           "mrr": metrics.mrr(ids, c.targets), "valid_id_rate": metrics.valid_id_rate(ids, allowed),
           "duplicate_rate": metrics.duplicate_rate(ids), "cold_share@10": metrics.cold_share(ids, cold, 10)}
    for k in CUTOFFS:
        row[f"ndcg@{k}"] = metrics.ndcg_at_k(ids, c.targets, k)
        row[f"recall@{k}"] = metrics.recall_at_k(ids, c.targets, k)
    row["precision@10"] = metrics.precision_at_k(ids, c.targets, 10)
    row["families@10"] = metrics.distinct_share(ids, ctx.family, 10)
    row["ild@10"] = metrics.intra_list_distance([ctx.vectors[i] for i in ids[:10] if i in ctx.vectors])
    row["hit@10"] = metrics.hit_rate_at_k(ids, c.targets, 10)
    if c.protocol == "B":  # the new items a user took: the clusters of report.paired_test's item-clustered p
        row["targets"] = sorted(c.targets)
    return row


