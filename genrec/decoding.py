"""Catalog trie and constrained beam search; logits are computed only for the tokens the trie allows.

Why a search of our own rather than `generate(prefix_allowed_tokens_fn=...)`: generate computes the
full 262k-token output layer at every step and masks it afterwards, which costs more than the rest of the
270M model; here each step multiplies the last hidden state by the output-embedding rows of the allowed
children only. Scores are renormalised over the allowed children, so an item's score is its
log-probability among the items this request allows, and no sampling setting of a generation config can
reach the search. `CodeTrie.allowed_tokens` still serves `generate` users (see tests for the cross-check).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from .errors import GenrecError


class CodeTrie:
    """A token trie in flat arrays, numbered breadth-first so each node's children are contiguous.

    node_token[n]: token on the edge into node n (root: -1); child_start[n]..child_start[n+1]: children of
    n; node_item[n]: payload of a terminal node (the sequence ended with `end_token`), else -1.
    """

    def __init__(self, sequences: list[list[int]], payloads: list[int], end_token: int):
        if not sequences:
            raise GenrecError("cannot build a trie over zero items")
        if len(sequences) != len(payloads):
            raise GenrecError("one payload per sequence is needed")
        for s in sequences:
            if not s or s[-1] != end_token or end_token in s[:-1]:
                raise GenrecError(f"each sequence must end with the end token and hold it once: {s}")
        self.end_token = end_token
        width = max(len(s) for s in sequences)
        padded = np.full((len(sequences), width), -1, dtype=np.int64)
        for r, s in enumerate(sequences):
            padded[r, : len(s)] = s
        order = np.lexsort(padded.T[::-1])
        rows, pay = padded[order], np.asarray(payloads, dtype=np.int64)[order]
        if len(rows) > 1 and (rows[1:] == rows[:-1]).all(1).any():
            raise GenrecError("two items have the same code")
        valid = rows >= 0
        changed = np.ones_like(valid)
        changed[1:] = np.logical_or.accumulate(rows[1:] != rows[:-1], axis=1)
        new = valid & changed  # row r opens a new node at depth d+1
        counts = new.sum(0)
        offsets = 1 + np.concatenate([[0], np.cumsum(counts)[:-1]])
        node_of = np.where(valid, np.cumsum(new, axis=0) - 1 + offsets, -1)
        n_nodes = 1 + int(counts.sum())
        self.node_token = np.full(n_nodes, -1, dtype=np.int64)
        parent = np.zeros(n_nodes, dtype=np.int64)
        self.node_item = np.full(n_nodes, -1, dtype=np.int64)
        for d in range(width):
            r = np.nonzero(new[:, d])[0]
            ids = node_of[r, d]
            self.node_token[ids] = rows[r, d]
            parent[ids] = node_of[r, d - 1] if d else 0
        last = valid.sum(1) - 1  # each sequence ends at its own terminal node (after the end token)
        self.node_item[node_of[np.arange(len(rows)), last]] = pay
        # int32 halves the index (node and token ids stay far below 2**31 even at millions of items).
        self.parent = parent.astype(np.int32)
        self.node_token = self.node_token.astype(np.int32)
        self.node_item = self.node_item.astype(np.int32)
        self.child_start = (np.searchsorted(parent[1:], np.arange(n_nodes + 1), "left") + 1).astype(np.int32)
        self.depth_order = [np.nonzero(new[:, d])[0] for d in range(width)]  # for bottom-up sums
        self._node_depth_ids = [node_of[r, d] for d, r in enumerate(self.depth_order)]
        self.n_items = len(sequences)

    @property
    def n_nodes(self) -> int:
        return len(self.node_token)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.node_token, self.parent, self.child_start, self.node_item))

    def expand(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Children of each node, padded: (child ids (n, c), mask (n, c)). Cost O(len(nodes) * c)."""
        starts, ends = self.child_start[nodes], self.child_start[nodes + 1]
        width = int((ends - starts).max()) if len(nodes) else 0
        grid = starts[:, None] + np.arange(width)[None, :]
        mask = grid < ends[:, None]
        return np.where(mask, grid, 0), mask

    def allowed_tokens(self, prefix: list[int]) -> list[int]:
        """Tokens allowed after `prefix` (for `generate(prefix_allowed_tokens_fn=...)`); [] past an end."""
        node = 0
        for tok in prefix:
            lo, hi = self.child_start[node], self.child_start[node + 1]
            hit = np.nonzero(self.node_token[lo:hi] == tok)[0]
            if not len(hit):
                return []
            node = lo + int(hit[0])
        lo, hi = self.child_start[node], self.child_start[node + 1]
        return self.node_token[lo:hi].tolist()

    def subtree_logmass(self, item_logp: np.ndarray) -> np.ndarray:
        """log of the summed item probabilities below every node, from per-payload log-probabilities."""
        mass = np.zeros(self.n_nodes, dtype=np.float64)
        term = self.node_item >= 0
        mass[term] = np.exp(item_logp[self.node_item[term]])
        for ids in reversed(self._node_depth_ids):
            np.add.at(mass, self.parent[ids], mass[ids])
        with np.errstate(divide="ignore"):
            return np.log(mass)


class Scorer(Protocol):
    """What the search needs from a model: hidden states and logits for chosen tokens only."""

    def start(self) -> torch.Tensor: ...  # (1, d) hidden state after the prompt

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


def beam_search(scorer: Scorer, trie: CodeTrie, k: int, config: SearchConfig = SearchConfig(),
                item_logprior: np.ndarray | None = None, model_weight: float = 1.0) -> list[tuple[int, float]]:
    """Top-k (payload, score) by beam search over the trie, best first; distinct payloads by construction.

    Returns min(k, trie.n_items) results: when filters allow fewer items than k, all of them come back.
    `model_weight` scales the model's log-probs (SearchConfig.model_weight resolved by the caller); at 0
    the model is never run past the prompt and the prior alone ranks.
    """
    if k < 1:
        raise GenrecError(f"k must be >= 1, got {k!r}")
    width = config.beam_width or max(k, 10)
    width = max(width, k)  # fewer live beams than k could end with fewer than k items
    logmass = trie.subtree_logmass(item_logprior) if item_logprior is not None and config.prior_weight else None
    nodes = np.zeros(1, dtype=np.int64)
    scores = torch.zeros(1, dtype=torch.float64)
    hidden = scorer.start() if model_weight else None
    finished: list[tuple[float, int]] = []
    while len(nodes):
        child, mask = trie.expand(nodes)
        mask_t = torch.from_numpy(mask)
        step = torch.zeros(mask.shape, dtype=torch.float64)
        if model_weight:
            logits = scorer.logits(hidden, torch.from_numpy(trie.node_token[child])).double()
            logits = logits.masked_fill(~mask_t, float("-inf"))
            step += model_weight * torch.log_softmax(logits, dim=-1)
        if logmass is not None:
            step += config.prior_weight * torch.from_numpy(logmass[child] - logmass[nodes][:, None])
        cand = (scores[:, None] + step).masked_fill(~mask_t, float("-inf"))
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
                finished.append((float(s), int(item)))
            elif len(keep) < width:
                keep.append(int(pos))
        if not keep:
            break
        finished.sort(key=lambda t: -t[0])
        best_live = flat_np[keep[0]]
        if len(finished) >= k and finished[k - 1][0] >= best_live:
            break  # scores only fall along a path: no live prefix can beat the k-th finished item
        keep_t = torch.tensor(keep)
        parents = keep_t // mask.shape[1]
        nodes = child_flat[keep]
        scores = flat[keep_t]
        if model_weight:
            hidden = scorer.advance(parents, torch.from_numpy(trie.node_token[nodes]))
    finished.sort(key=lambda t: -t[0])
    return [(item, score) for score, item in finished[:k]]


class ModelScorer:
    """Runs a causal LM for the search: the prompt once (its KV cache shared by all beams by reordering),
    then one token per beam per step, with logits only for the allowed tokens."""

    def __init__(self, model, prompt_ids: torch.Tensor):
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        self.decoder = base.get_decoder()
        head = base.get_output_embeddings()
        # A plain Linear lets us multiply by just the allowed rows; a wrapped head (an unmerged peft adapter on
        # a 4-bit base) is run whole and gathered, slower but exact.
        self.head = None if type(head) is torch.nn.Linear else head
        self.weight = head.weight
        self.bias = getattr(head, "bias", None)
        self.softcap = getattr(base.config, "final_logit_softcapping", None)
        self.device = self.weight.device
        self.prompt_ids = prompt_ids.to(self.device)
        self.cache = None
        # transformers 5.x renames `past_key_values` to `cache`; take whichever this version's forward has.
        params = inspect.signature(self.decoder.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"

    @torch.inference_mode()
    def start(self) -> torch.Tensor:
        from transformers import DynamicCache

        self.cache = DynamicCache()
        out = self.decoder(input_ids=self.prompt_ids, use_cache=True, **{self._cache_kw: self.cache})
        return out.last_hidden_state[:, -1]

    @torch.inference_mode()
    def advance(self, parents: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        self.cache.reorder_cache(parents.to(self.device))  # index_select on the batch axis: expands too
        step = tokens.long().to(self.device)[:, None]
        out = self.decoder(input_ids=step, use_cache=True, **{self._cache_kw: self.cache})
        return out.last_hidden_state[:, -1]

    @torch.inference_mode()
    def logits(self, hidden: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        tokens = tokens.long().to(self.device)
        if self.head is not None:
            full = self.head(hidden.to(self.weight.dtype)).float()
            return torch.gather(full, 1, tokens).cpu()
        rows = self.weight[tokens]  # (n, c, d): only the allowed rows of the output layer
        out = torch.einsum("nd,ncd->nc", hidden.to(rows.dtype), rows).float()
        if self.bias is not None:
            out = out + self.bias[tokens].float()
        if self.softcap:
            out = torch.tanh(out / self.softcap) * self.softcap
        return out.cpu()
