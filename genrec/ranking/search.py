"""Constrained beam search over the catalog trie; logits are asked only for the tokens the trie allows.

Why a search of our own rather than `generate(prefix_allowed_tokens_fn=...)`: generate computes the
full 262k-token output layer at every step and masks it afterwards, which costs more than the rest of the
270M model; here each step asks the Scorer for the logits of the allowed children only. Scores are
renormalised over the allowed children, so an item's score is its log-probability among the items this
request allows, and no sampling setting of a generation config can reach the search. The model side is any
Scorer (genrec.model.scoring.ModelScorer runs a Hugging Face causal LM); nothing here knows transformers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from ..errors import GenrecError
from .trie import CodeTrie


class Scorer(Protocol):
    """What the search needs from a model: hidden states and logits for chosen tokens only."""

    def start(self) -> torch.Tensor: ...  # (users, d) hidden state after each user's prompt

    def advance(self, parents: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor: ...  # (n, d)

    def logits(self, hidden: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor: ...  # (n, c)


@dataclass(frozen=True)
class SearchConfig:
    """Constrained beam search settings."""

    beam_width: int = 0  # live prefixes kept per step; 0 means max(k, 10)
    prior_weight: float = 1.0  # weight of the text-similarity prior added to model log-probs (0: model only)
    # Weight of the model's log-probs. None: 1.0 with an adapter, 0.0 without one, because a base model
    # never trained on item codes has no information about them (measured: its code logits are noise that
    # outweighs the prior and returns cookware to a runner).
    model_weight: float | None = None

    def __post_init__(self):
        if self.beam_width < 0:
            raise GenrecError(f"beam_width must be >= 0, got {self.beam_width!r}")
        if self.prior_weight < 0 or (self.model_weight is not None and self.model_weight < 0):
            raise GenrecError(f"weights must be >= 0, got prior {self.prior_weight!r}, model {self.model_weight!r}")


class _Beams:
    """One user's live prefixes (trie nodes and scores) and finished items during a batched search."""

    def __init__(self, trie: CodeTrie, k: int, config: SearchConfig, logprior: np.ndarray | None,
                 allowed: np.ndarray | None, families: np.ndarray | None = None):
        if k < 1:
            raise GenrecError(f"k must be >= 1, got {k!r}")
        self.k = k
        self.width = max(config.beam_width or max(k, 10), k)  # fewer live beams than k could end short
        if allowed is not None and logprior is not None:
            logprior = np.where(allowed, logprior, -np.inf)
        # The prior's look-ahead: a prefix counts the best allowed item below it (not their summed mass, which
        # favours big subtrees of middling items over a small one holding the best: a flat prior then loses
        # the items it ranks first). Along a path the steps add up to the item's own log-prior; the start
        # value makes that its log-probability among the allowed items, as before.
        self.ahead = trie.subtree_max(logprior) if logprior is not None and config.prior_weight else None
        self.node_ok = trie.subtree_allowed(allowed) if allowed is not None else None
        self.nodes = np.zeros(1, dtype=np.int64)
        start = 0.0
        if self.ahead is not None and np.isfinite(self.ahead[0]):
            start = config.prior_weight * (self.ahead[0] - np.logaddexp.reduce(logprior))
        self.scores = torch.full((1,), start, dtype=torch.float64)
        self.finished: list[tuple[float, int]] = []
        self.families = families  # payload -> variant family: at most one finished item per family
        self.best: dict[int, float] = {}  # family -> score of its finished item
        self.done = self.node_ok is not None and not self.node_ok[0]  # the filters allow nothing
        self.child = self.mask = None

    def expand(self, trie: CodeTrie) -> tuple[np.ndarray, np.ndarray]:
        self.child, self.mask = trie.expand(self.nodes)
        if self.node_ok is not None:
            self.mask &= self.node_ok[self.child]
        return self.child, self.mask

    def step(self, trie: CodeTrie, logits: torch.Tensor | None, config: SearchConfig, model_weight: float):
        """Score the children found by expand(); keep the best `width` live ones. Returns the kept ones'
        parent beam indices (empty once this user's search is over)."""
        child, mask = self.child, self.mask
        mask_t = torch.from_numpy(mask)
        step = torch.zeros(mask.shape, dtype=torch.float64)
        if logits is not None and model_weight:
            logits = logits.double().masked_fill(~mask_t, float("-inf"))
            step += model_weight * torch.log_softmax(logits, dim=-1)
        if self.ahead is not None:
            with np.errstate(invalid="ignore"):  # -inf - -inf under masked children only
                gain = np.where(mask, self.ahead[child] - self.ahead[self.nodes][:, None], 0.0)
            step += config.prior_weight * torch.from_numpy(gain)
        cand = (self.scores[:, None] + step).masked_fill(~mask_t, float("-inf"))
        flat = cand.flatten()
        order = torch.argsort(flat, descending=True).numpy()
        flat_np = flat.numpy()
        child_flat = child.reshape(-1)
        keep: list[int] = []
        for pos in order:
            s = flat_np[pos]
            if s == float("-inf"):
                break
            item = trie.node_item[child_flat[pos]]
            if item >= 0:
                self._finish(float(s), int(item))
            elif len(keep) < self.width:
                keep.append(int(pos))
        self.finished.sort(key=lambda t: -t[0])
        # scores only fall along a path: once the k-th finished item beats every live prefix, stop
        if not keep or (len(self.finished) >= self.k and self.finished[self.k - 1][0] >= flat_np[keep[0]]):
            self.done = True
            return np.zeros(0, dtype=np.int64)
        keep_t = torch.tensor(keep)
        self.nodes = child_flat[keep]
        self.scores = flat[keep_t]
        return (keep_t // mask.shape[1]).numpy()

    def _finish(self, score: float, item: int) -> None:
        if self.families is not None:
            fam = int(self.families[item])
            if fam in self.best:
                if self.best[fam] >= score:
                    return  # a better variant of the same product is already in
                self.finished = [(s, i) for s, i in self.finished if self.families[i] != fam]
            self.best[fam] = score
        self.finished.append((score, item))

    def results(self) -> list[tuple[int, float]]:
        return [(item, score) for score, item in self.finished[: self.k]]


def beam_search_batch(scorer: Scorer | None, trie: CodeTrie, ks: list[int], config: SearchConfig = SearchConfig(),
                      item_logpriors: list[np.ndarray | None] | None = None,
                      model_weight: float | Sequence[float] = 1.0,
                      allowed: list[np.ndarray | None] | None = None,
                      families: np.ndarray | None = None) -> list[list[tuple[int, float]]]:
    """Top-k (payload, score) lists for several users at once, each best first with distinct payloads.

    Every step runs the model once for the live beams of all users together (the scorer holds one row per
    beam); each user's beams are ranked on their own, exactly as a search for that user alone. `allowed[u]`
    (a boolean mask over payloads) restricts user u to those items by masking the trie. A user gets
    min(k, allowed items) results. `model_weight` is one weight for all users or one per user; where every
    weight is 0 the model is never run and the prior alone ranks. `families` (payload -> variant family): each
    list holds the best item of each family only, and still k of them when the catalog has k families.
    """
    n = len(ks)
    priors = item_logpriors or [None] * n
    masks = allowed or [None] * n
    weights = [float(model_weight)] * n if np.isscalar(model_weight) else [float(w) for w in model_weight]
    if len(priors) != n or len(masks) != n or len(weights) != n:
        raise GenrecError("give one prior, one allowed mask (or None) and one model weight per user")
    states = [_Beams(trie, k, config, p, a, families) for k, p, a in zip(ks, priors, masks)]
    run_model = any(weights)
    hidden = scorer.start() if run_model else None
    live = list(range(n))  # users whose beams are the rows of `hidden`, in this order
    while live:
        grids = [states[u].expand(trie) if not states[u].done else None for u in live]
        logits = None
        if run_model:
            width = max((g[1].shape[1] for g in grids if g is not None), default=1)
            tokens = np.zeros((len(hidden), width), dtype=np.int64)
            r = 0
            for u, g in zip(live, grids):
                rows = len(states[u].nodes)
                if g is not None:
                    tokens[r:r + rows, : g[0].shape[1]] = np.where(g[1], trie.node_token[g[0]], 0)
                r += rows
            logits = scorer.logits(hidden, torch.from_numpy(tokens))
        parents, tokens_next, still = [], [], []
        r = 0
        for u, g in zip(live, grids):
            rows = len(states[u].nodes)
            if g is not None:
                keep = states[u].step(trie, None if logits is None else logits[r:r + rows, : g[1].shape[1]],
                                      config, weights[u])
                if not states[u].done:
                    parents.append(r + keep)
                    tokens_next.append(trie.node_token[states[u].nodes])
                    still.append(u)
            r += rows
        live = still
        if run_model and live:
            hidden = scorer.advance(torch.from_numpy(np.concatenate(parents)),
                                    torch.from_numpy(np.concatenate(tokens_next).astype(np.int64)))
    return [s.results() for s in states]

