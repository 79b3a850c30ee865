"""The catalog trie over item codes, in flat arrays: which tokens may follow a prefix, the log-mass of a
prior below each node, and every item's exact log-probability from the logits of the edges into its nodes.
Numpy only; the search (genrec.ranking.search) and the model side (genrec.model.scoring) both read it.
`CodeTrie.allowed_tokens` serves `generate(prefix_allowed_tokens_fn=...)` for callers of Hugging Face's
generate (tests cross-check it against the search)."""

from __future__ import annotations

import numpy as np

from ..errors import GenrecError


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
        # Breadth-first numbering puts each depth's nodes in one contiguous range: level_bounds[d]..[d+1].
        self.level_bounds = np.concatenate([[1], 1 + np.cumsum(counts)]).astype(np.int64)
        self.n_items = len(sequences)
        self._runs: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # subtree_max's sibling runs, per depth

    @property
    def n_nodes(self) -> int:
        return len(self.node_token)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.node_token, self.parent, self.child_start, self.node_item,
                                      self.level_bounds))

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

    def subtree_sum(self, values: np.ndarray) -> np.ndarray:
        """Sum of per-payload `values` below every node (bottom-up, one bincount per depth)."""
        total = np.zeros(self.n_nodes, dtype=np.float64)
        term = self.node_item >= 0
        total[term] = values[self.node_item[term]]
        for d in range(len(self.level_bounds) - 2, -1, -1):
            lo, hi = self.level_bounds[d], self.level_bounds[d + 1]  # parents of these nodes lie below lo
            total[:lo] += np.bincount(self.parent[lo:hi], weights=total[lo:hi], minlength=lo)[:lo]
        return total

    def subtree_logmass(self, item_logp: np.ndarray) -> np.ndarray:
        """log of the summed item probabilities below every node, from per-payload log-probabilities."""
        with np.errstate(divide="ignore"):
            return np.log(self.subtree_sum(np.exp(item_logp)))

    def subtree_max(self, values: np.ndarray) -> np.ndarray:
        """Largest per-payload value below every node (-inf where none), bottom-up: one reduceat per depth over
        its runs of siblings, which breadth-first numbering keeps contiguous."""
        best = np.full(self.n_nodes, -np.inf)
        term = self.node_item >= 0
        best[term] = values[self.node_item[term]]
        for d in range(len(self.level_bounds) - 2, -1, -1):
            lo, hi = self.level_bounds[d], self.level_bounds[d + 1]
            if hi > lo:
                parents, starts = self._sibling_runs(d)
                best[parents] = np.maximum(best[parents], np.maximum.reduceat(best[lo:hi], starts))
        return best

    def _sibling_runs(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        """For the nodes of depth d + 1: each run of siblings' parent and start (offset in the depth's range)."""
        runs = self._runs
        if d not in runs:
            par = self.parent[self.level_bounds[d]:self.level_bounds[d + 1]]
            starts = np.flatnonzero(np.r_[True, par[1:] != par[:-1]])
            runs[d] = (par[starts], starts)
        return runs[d]

    def subtree_allowed(self, allowed: np.ndarray) -> np.ndarray:
        """Per node: does any allowed payload lie below it? Masks the one catalog trie per request, O(nodes),
        instead of building a trie over the allowed items."""
        return self.subtree_sum(allowed.astype(np.float64)) > 0


    def item_logprobs(self, edge_logits: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
        """Per payload: log-probability of its code under the model, each step normalised over the allowed
        children (exactly the model part of a search score), from one user's `edge_logits` (the logit of the
        edge into every node, see `edge_logits_batch`). Payloads outside `allowed` get -inf."""
        ok = np.ones(self.n_nodes, dtype=bool) if allowed is None else self.subtree_allowed(allowed)
        e = np.where(ok, edge_logits, -np.inf)
        e[0] = -np.inf
        par = self.parent[1:]
        top = np.full(self.n_nodes, -np.inf)
        np.maximum.at(top, par, e[1:])
        safe = np.where(np.isfinite(top), top, 0.0)
        with np.errstate(divide="ignore"):
            lse = safe + np.log(np.bincount(par, weights=np.exp(e[1:] - safe[par]), minlength=self.n_nodes))
        step = np.full(self.n_nodes, -np.inf)
        step[0] = 0.0
        live = ok[1:]  # a masked node's parent may have no allowed child at all (-inf - -inf is nan)
        step[1:][live] = e[1:][live] - lse[par][live]
        total = np.zeros(self.n_nodes)
        for d in range(len(self.level_bounds) - 1):  # parents lie at the depth above: one pass per depth
            lo, hi = self.level_bounds[d], self.level_bounds[d + 1]
            total[lo:hi] = total[self.parent[lo:hi]] + step[lo:hi]
        out = np.full(self.n_items, -np.inf)
        term = np.nonzero(self.node_item >= 0)[0]
        out[self.node_item[term]] = total[term]
        return out

