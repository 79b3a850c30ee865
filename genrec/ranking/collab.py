"""A learned, text-free collaborative model: what people with these features took, for any cold profile.

Two towers over sparse tokens, as LightFM's hybrid factorisation: a user is the mean embedding of its tokens
(demographic values, stated-interest categories, known items), an item is its ID embedding plus the mean
embedding of its feature tokens (category levels, brand), and the score is their dot product plus an item
bias. Unlike LightFM's WARP it is trained with a full softmax over the catalog on cold-start examples drawn
like protocol A (0-3 known items, interests half the time, demographics dropped in a quarter of them and
else each value kept with p 0.8), so a
training user teaches exactly the requests a new user makes. Written in torch rather than taken from
`lightfm-next` because that package is a C-extension sdist (a compiler at install time) and genrec needs a
softmax over its own cold-start examples; `genrec eval --systems lightfm` runs LightFM itself beside it.
Scoring is numpy only (the towers are folded into arrays at the end of training).

Cost: an epoch is (users / batch) steps of a (batch x items) softmax: O(users * items * dim) multiply-adds.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..data.cases import seed_interests
from ..data.catalog import Catalog
from ..errors import GenrecError
from .demographics import demographic_tokens, profile_fields

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CollabConfig:
    dim: int = 64  # embedding size of tokens and items
    max_epochs: int = 40  # most epochs; with held-out users, training stops after `patience` epochs without gain
    patience: int = 3
    batch_size: int = 256  # training users per step
    learning_rate: float = 0.005  # Adam
    min_count: int = 2  # user tokens (other than items) seen fewer times are dropped
    demographic_keep: float = 0.8  # chance each demographic value stays in a training example
    demographic_drop_all: float = 0.25  # chance an example has none (requests that come without demographics)
    seed: int = 0

    def __post_init__(self):
        for name in ("dim", "max_epochs", "batch_size", "min_count"):
            if getattr(self, name) < 1:
                raise GenrecError(f"CollabConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        if self.patience < 0 or self.learning_rate <= 0 or not 0 <= self.demographic_keep <= 1 \
                or not 0 <= self.demographic_drop_all <= 1:
            raise GenrecError("CollabConfig: patience >= 0, learning_rate > 0, demographic_keep and "
                              "demographic_drop_all within 0..1")


def profile_tokens(profile) -> list[str]:
    """A profile's user tokens: demographics, `interest=<category>` and `item=<id>` of its known items."""
    return (demographic_tokens(profile_fields(profile)) + [f"interest={i.strip().lower()}" for i in profile.interests]
            + [f"item={r.item_id}" for r in profile.recent_items])


def item_feature_tokens(item) -> list[str]:
    toks = [f"cat={c.strip().lower()}" for c in item.category]
    return toks + ([f"brand={item.brand.strip().lower()}"] if item.brand else [])


@dataclass(frozen=True)
class CollabModel:
    tokens: dict[str, int]  # user token -> row of user_emb
    user_emb: np.ndarray  # (tokens, dim) float32
    item_ids: tuple[str, ...]
    item_vec: np.ndarray  # (items, dim) float32: ID embedding + mean feature embedding
    item_bias: np.ndarray  # (items,) float32
    epochs: int  # epochs trained (the count a refit on all data reuses)

    def aligned(self, catalog: Catalog) -> CollabModel:
        """The model over `catalog`'s positions; items it never saw get a zero vector and the lowest bias (the
        prior then lets them borrow from their text-nearest old items, as for popularity)."""
        ids = tuple(it.item_id for it in catalog)
        if ids == self.item_ids:
            return self
        pos = {i: p for p, i in enumerate(self.item_ids)}
        src = np.array([pos.get(i, -1) for i in ids])
        vec = np.where((src >= 0)[:, None], self.item_vec[np.maximum(src, 0)], 0.0).astype(np.float32)
        bias = np.where(src >= 0, self.item_bias[np.maximum(src, 0)], self.item_bias.min()).astype(np.float32)
        return CollabModel(self.tokens, self.user_emb, ids, vec, bias, self.epochs)

    def logprobs(self, profile) -> np.ndarray:
        """log-softmax over the items of the model's score for this profile (bias alone when no token is known)."""
        rows = [self.tokens[t] for t in profile_tokens(profile) if t in self.tokens]
        u = self.user_emb[rows].mean(0) if rows else np.zeros(self.user_emb.shape[1], dtype=np.float32)
        z = (self.item_vec @ u + self.item_bias).astype(np.float64)
        return z - np.logaddexp.reduce(z)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"cf_tokens": np.array(sorted(self.tokens, key=self.tokens.get)), "cf_user_emb": self.user_emb,
                "cf_item_ids": np.array(self.item_ids), "cf_item_vec": self.item_vec, "cf_item_bias": self.item_bias,
                "cf_epochs": np.array(self.epochs)}

    @classmethod
    def from_arrays(cls, z) -> CollabModel | None:
        if "cf_tokens" not in z:
            return None
        tokens = z["cf_tokens"].tolist()
        return cls({t: r for r, t in enumerate(tokens)}, z["cf_user_emb"], tuple(z["cf_item_ids"].tolist()),
                   z["cf_item_vec"], z["cf_item_bias"], int(z["cf_epochs"]))


def fit_collab(catalog: Catalog, sequences: Mapping[str, Sequence[str]], users: Mapping[str, Mapping],
               config: CollabConfig = CollabConfig(), epochs: int | None = None,
               validate: Callable[[CollabModel], float] | None = None, progress: bool = True) -> CollabModel | None:
    """Train on the shop's logs. `epochs` fixed, or (with `validate`, a held-out score to maximise) up to
    `config.max_epochs` keeping the best epoch; None when the logs give no user with an item."""
    import torch
    from tqdm.auto import tqdm

    index = catalog.index
    seqs = [(u, [index[i] for i in s if i in index]) for u, s in sequences.items()]
    seqs = [(u, s) for u, s in seqs if s]
    if not seqs:
        return None
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    # ---- token vocabularies ------------------------------------------------------------------
    demo = {u: demographic_tokens(users.get(u, {})) for u, _ in seqs}
    interests = {u: [f"interest={c.lower()}" for c in seed_interests(catalog, [catalog[p].item_id for p in s[:3]])]
                 for u, s in seqs}
    counts = Counter(t for u, _ in seqs for t in demo[u] + interests[u])
    vocab = [f"item={it.item_id}" for it in catalog] + sorted(t for t, n in counts.items() if n >= config.min_count)
    tok = {t: r for r, t in enumerate(vocab)}  # item tokens first: row p is catalog item p
    feats = sorted({t for it in catalog for t in item_feature_tokens(it)})
    ftok = {t: r for r, t in enumerate(feats)}
    item_feat = [[ftok[t] for t in item_feature_tokens(it)] for it in catalog]
    n_items, dim = len(catalog), config.dim

    user_emb = torch.nn.Embedding(len(vocab), dim)
    item_emb = torch.nn.Embedding(n_items, dim)
    feat_emb = torch.nn.EmbeddingBag(max(len(feats), 1), dim, mode="mean")
    bias = torch.nn.Parameter(torch.zeros(n_items))
    for e in (user_emb, item_emb, feat_emb):
        torch.nn.init.normal_(e.weight, std=0.05)
    params = [*user_emb.parameters(), *item_emb.parameters(), *feat_emb.parameters(), bias]
    opt = torch.optim.Adam(params, lr=config.learning_rate)
    flat = torch.tensor([f for fs in item_feat for f in fs], dtype=torch.long)
    offsets = torch.tensor(np.cumsum([0] + [len(fs) for fs in item_feat[:-1]]), dtype=torch.long)
    has_feat = torch.tensor([bool(fs) for fs in item_feat], dtype=torch.float32)[:, None]

    def item_matrix() -> torch.Tensor:
        v = item_emb.weight
        return v + feat_emb(flat, offsets) * has_feat if len(feats) else v

    def example(u: str, s: list[int]) -> tuple[list[int], list[int]]:
        k = int(rng.integers(0, min(3, len(s) - 1) + 1))
        keep = config.demographic_keep if rng.random() >= config.demographic_drop_all else 0.0
        toks = [tok[t] for t in demo[u] if t in tok and rng.random() < keep]
        if rng.random() < 0.5:
            toks += [tok[t] for t in interests[u] if t in tok]
        toks += s[:k]  # item tokens are the catalog positions
        known = set(s[:k])
        return toks, [p for p in dict.fromkeys(s[k:]) if p not in known] or [s[-1]]

    def snapshot(n_epochs: int) -> CollabModel:
        with torch.no_grad():
            return CollabModel(tok, user_emb.weight.detach().numpy().copy(), tuple(it.item_id for it in catalog),
                               item_matrix().detach().numpy().copy(), bias.detach().numpy().copy(), n_epochs)

    total = epochs if epochs is not None else config.max_epochs
    best, best_score, stale = None, -np.inf, 0
    bar = tqdm(range(total), desc="collaborative model", unit="epoch", disable=not progress)
    for epoch in bar:
        order = rng.permutation(len(seqs))
        for start in range(0, len(order), config.batch_size):
            batch = [example(*seqs[j]) for j in order[start:start + config.batch_size]]
            toks = [t for t, _ in batch]
            lens = torch.tensor([max(len(t), 1) for t in toks], dtype=torch.float32)
            rows = torch.tensor([r for i, t in enumerate(toks) for r in t], dtype=torch.long)
            seg = torch.tensor([i for i, t in enumerate(toks) for _ in t], dtype=torch.long)
            u = torch.zeros(len(batch), dim).index_add_(0, seg, user_emb(rows)) / lens[:, None]
            logp = torch.log_softmax(u @ item_matrix().T + bias, dim=1)
            target = torch.zeros(len(batch), n_items)
            for i, (_, tg) in enumerate(batch):
                target[i, tg] = 1.0 / len(tg)
            loss = -(target * logp).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        if validate is None:
            continue
        model = snapshot(epoch + 1)
        score = validate(model)
        bar.set_postfix(held_out=f"{score:.4f}")
        if score > best_score:
            best, best_score, stale = model, score, 0
        else:
            stale += 1
            if stale > config.patience:
                break
    if validate is None:
        return snapshot(total)
    log.info("collaborative model: best held-out score %.4f after %d epochs", best_score, best.epochs)
    return best
