"""A learned collaborative model: what people with these features took, for any cold profile.

Two towers, as LightFM's hybrid factorisation: a user is the mean embedding of its tokens (demographic values,
stated-interest categories, known items); an item is its ID embedding plus its content part (the mean
embedding of its feature tokens, category levels and brand, and with `text` a linear map of its text
embedding); the score is their dot product plus an item bias (an ID bias, with `text` plus a linear map of the
text). With `id_dropout` the ID part is hidden for a random share of items in each step (as DropoutNet hides
preference inputs), so the content part learns to stand alone. An item with no user in the logs (a new item)
is scored by its content part. Which design serves a shop is the fit's choice (FitConfig.collab_alternatives):
it trains each and keeps the best on its held-out users.

Unlike LightFM's WARP it is trained with a full softmax over the catalog on cold-start examples drawn like
protocol A (0-3 known items, interests half the time, demographics dropped in a quarter of them and else each
value kept with p 0.8), so a training user teaches exactly the requests a new user makes. Written in torch
rather than taken from `lightfm-next` because that package is a C-extension sdist (a compiler at install
time) and genrec needs a softmax over its own cold-start examples; `genrec eval --systems lightfm` runs
LightFM itself beside it. Scoring is numpy only (the towers are folded into arrays at the end of training).

Cost: an epoch is (users / batch) steps of a (batch x items) softmax: O(users * items * dim) multiply-adds,
plus the text map, O(items * text dim * dim) per step.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

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
    text: bool = False  # the content part also reads the item's text embedding (when the caller gives embeddings)
    id_dropout: float = 0.0  # chance an item's ID part is hidden in a step, so the content part learns to stand alone
    seed: int = 0

    def __post_init__(self):
        for name in ("dim", "max_epochs", "batch_size", "min_count"):
            if getattr(self, name) < 1:
                raise GenrecError(f"CollabConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        if self.patience < 0 or self.learning_rate <= 0 or not 0 <= self.demographic_keep <= 1 \
                or not 0 <= self.demographic_drop_all <= 1 or not 0 <= self.id_dropout < 1:
            raise GenrecError("CollabConfig: patience >= 0, learning_rate > 0, demographic_keep and "
                              "demographic_drop_all within 0..1, id_dropout within [0, 1)")


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
    item_ids: tuple[str, ...]  # the items with users in the training logs
    item_vec: np.ndarray  # (items, dim) float32: ID embedding + content part
    item_bias: np.ndarray  # (items,) float32
    epochs: int  # epochs trained (the count a refit on all data reuses)
    # The content part, for items the logs did not show (absent in models saved before it): feature token ->
    # row of feat_emb, and the text embedding's maps to a vector and to a bias (its last entry the intercept).
    feat_tokens: dict[str, int] | None = None
    feat_emb: np.ndarray | None = None  # (features, dim)
    text_proj: np.ndarray | None = None  # (text dim, dim), or None without text
    text_bias: np.ndarray | None = None  # (text dim + 1,)

    def content(self, items: Sequence, item_emb: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(vectors, biases) of `items` from their content alone; `item_emb` their text embeddings (rows)."""
        dim = self.item_vec.shape[1]
        vec = np.zeros((len(items), dim), dtype=np.float32)
        bias = np.full(len(items), self.text_bias[-1] if self.text_bias is not None else 0.0, dtype=np.float32)
        for r, it in enumerate(items):
            rows = [self.feat_tokens[t] for t in item_feature_tokens(it) if t in self.feat_tokens]
            if rows:
                vec[r] = self.feat_emb[rows].mean(0)
        if self.text_proj is not None and item_emb is not None and item_emb.shape[1] == self.text_proj.shape[0]:
            vec += item_emb @ self.text_proj
            bias += item_emb @ self.text_bias[:-1]
        return vec, bias

    def aligned(self, catalog: Catalog, item_emb: np.ndarray | None = None) -> CollabModel:
        """The model over `catalog`'s positions. Items it never saw get their content part's vector and bias
        (`item_emb`: the catalog's text embeddings, for the text map); a model without a content part gives
        them a zero vector and the lowest bias (the prior then lets them borrow from their text-nearest old
        items, as for popularity)."""
        ids = tuple(it.item_id for it in catalog)
        if ids == self.item_ids:
            return self
        pos = {i: p for p, i in enumerate(self.item_ids)}
        src = np.array([pos.get(i, -1) for i in ids])
        seen = src >= 0
        vec = np.where(seen[:, None], self.item_vec[np.maximum(src, 0)], 0.0).astype(np.float32)
        bias = np.where(seen, self.item_bias[np.maximum(src, 0)], self.item_bias.min()).astype(np.float32)
        new = np.nonzero(~seen)[0]
        if self.has_content and len(new):
            vec[new], bias[new] = self.content([catalog[p] for p in new],
                                               item_emb[new] if item_emb is not None else None)
        return replace(self, item_ids=ids, item_vec=vec, item_bias=bias)

    @property
    def has_content(self) -> bool:
        return self.feat_emb is not None

    def logprobs(self, profile) -> np.ndarray:
        """log-softmax over the items of the model's score for this profile (bias alone when no token is known)."""
        rows = [self.tokens[t] for t in profile_tokens(profile) if t in self.tokens]
        u = self.user_emb[rows].mean(0) if rows else np.zeros(self.user_emb.shape[1], dtype=np.float32)
        z = (self.item_vec @ u + self.item_bias).astype(np.float64)
        return z - np.logaddexp.reduce(z)

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"cf_tokens": np.array(sorted(self.tokens, key=self.tokens.get)), "cf_user_emb": self.user_emb,
               "cf_item_ids": np.array(self.item_ids), "cf_item_vec": self.item_vec, "cf_item_bias": self.item_bias,
               "cf_epochs": np.array(self.epochs)}
        if self.has_content:
            out.update(cf_feat_tokens=np.array(sorted(self.feat_tokens, key=self.feat_tokens.get)),
                       cf_feat_emb=self.feat_emb)
        if self.text_proj is not None:
            out.update(cf_text_proj=self.text_proj, cf_text_bias=self.text_bias)
        return out

    @classmethod
    def from_arrays(cls, z) -> CollabModel | None:
        if "cf_tokens" not in z:
            return None
        tokens = z["cf_tokens"].tolist()
        feats = z["cf_feat_tokens"].tolist() if "cf_feat_tokens" in z else None
        return cls({t: r for r, t in enumerate(tokens)}, z["cf_user_emb"], tuple(z["cf_item_ids"].tolist()),
                   z["cf_item_vec"], z["cf_item_bias"], int(z["cf_epochs"]),
                   {t: r for r, t in enumerate(feats)} if feats is not None else None, z.get("cf_feat_emb"),
                   z.get("cf_text_proj"), z.get("cf_text_bias"))


def fit_collab(catalog: Catalog, sequences: Mapping[str, Sequence[str]], users: Mapping[str, Mapping],
               config: CollabConfig = CollabConfig(), epochs: int | None = None,
               validate: Callable[[CollabModel], float] | None = None, progress: bool = True,
               item_emb: np.ndarray | None = None) -> CollabModel | None:
    """Train on the shop's logs. `epochs` fixed, or (with `validate`, a held-out score to maximise) up to
    `config.max_epochs` keeping the best epoch; None when the logs give no user with an item. `item_emb`: the
    catalog's text embeddings (rows in catalog order) for the content part's text map (with `config.text`).
    The softmax runs over the items with users; the others are new to the model (scored by content)."""
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
    live = np.array(sorted({p for _, s in seqs for p in s}))  # the softmax's classes: items with users
    cls_of = np.full(len(catalog), -1)
    cls_of[live] = np.arange(len(live))
    items = [catalog[int(p)] for p in live]
    feats = sorted({t for it in catalog for t in item_feature_tokens(it)})
    ftok = {t: r for r, t in enumerate(feats)}
    item_feat = [[ftok[t] for t in item_feature_tokens(it)] for it in items]
    n_items, dim = len(live), config.dim
    text = torch.from_numpy(np.asarray(item_emb, dtype=np.float32)[live]) \
        if config.text and item_emb is not None else None

    user_emb = torch.nn.Embedding(len(vocab), dim)
    item_emb_id = torch.nn.Embedding(n_items, dim)
    feat_emb = torch.nn.Embedding(max(len(feats), 1), dim)
    bias = torch.nn.Parameter(torch.zeros(n_items))
    for e in (user_emb, item_emb_id, feat_emb):
        torch.nn.init.normal_(e.weight, std=0.05)
    params = [*user_emb.parameters(), *item_emb_id.parameters(), *feat_emb.parameters(), bias]
    if text is not None:
        text_proj = torch.nn.Linear(text.shape[1], dim, bias=False)
        text_bias = torch.nn.Linear(text.shape[1], 1)
        torch.nn.init.normal_(text_proj.weight, std=0.05)
        torch.nn.init.zeros_(text_bias.weight)
        torch.nn.init.zeros_(text_bias.bias)
        params += [*text_proj.parameters(), *text_bias.parameters()]
    opt = torch.optim.Adam(params, lr=config.learning_rate)
    flat = torch.tensor([f for fs in item_feat for f in fs], dtype=torch.long)
    offsets = torch.tensor(np.cumsum([0] + [len(fs) for fs in item_feat[:-1]]), dtype=torch.long)
    has_feat = torch.tensor([bool(fs) for fs in item_feat], dtype=torch.float32)[:, None]

    def content() -> tuple[torch.Tensor, torch.Tensor]:
        """The items' content vectors and biases."""
        v = torch.nn.functional.embedding_bag(flat, feat_emb.weight, offsets, mode="mean") * has_feat \
            if len(feats) else torch.zeros(n_items, dim)
        if text is None:
            return v, torch.zeros(n_items)
        return v + text_proj(text), text_bias(text)[:, 0]

    def example(u: str, s: list[int]) -> tuple[list[int], list[int]]:
        k = int(rng.integers(0, min(3, len(s) - 1) + 1))
        keep = config.demographic_keep if rng.random() >= config.demographic_drop_all else 0.0
        toks = [tok[t] for t in demo[u] if t in tok and rng.random() < keep]
        if rng.random() < 0.5:
            toks += [tok[t] for t in interests[u] if t in tok]
        toks += s[:k]  # item tokens are the catalog positions
        known = set(s[:k])
        targets = [int(cls_of[p]) for p in dict.fromkeys(s[k:]) if p not in known]
        return toks, targets or [int(cls_of[s[-1]])]

    def snapshot(n_epochs: int) -> CollabModel:
        with torch.no_grad():
            v, b = content()
            t_proj = text_proj.weight.T.numpy().copy() if text is not None else None
            t_bias = np.concatenate([text_bias.weight[0].numpy(), text_bias.bias.numpy()]) if text is not None \
                else None
            return CollabModel(tok, user_emb.weight.numpy().copy(), tuple(it.item_id for it in items),
                               (item_emb_id.weight + v).numpy().copy(), (bias + b).numpy().copy(), n_epochs,
                               ftok, feat_emb.weight.numpy().copy(), t_proj, t_bias)

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
            keep = (torch.rand(n_items) >= config.id_dropout).float()  # hidden IDs: content must stand alone
            v, b = content()
            logp = torch.log_softmax(u @ (item_emb_id.weight * keep[:, None] + v).T + bias * keep + b, dim=1)
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
