"""Reference implementations the tests check the product against: one user's search through the batched
search, and every trie edge's logit by stepping a Scorer through each branching prefix (what
genrec.ranking.lm_scorer.tree_edge_logits computes in one forward)."""

import numpy as np
import torch

from genrec.ranking.search import SearchConfig, beam_search_batch
from genrec.ranking.trie import CodeTrie


def beam_search(scorer, trie: CodeTrie, k: int, config: SearchConfig | None = None,
                item_logprior: np.ndarray | None = None, model_weight: float = 1.0,
                allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
    """Top-k (payload, score) for one user."""
    return beam_search_batch(scorer, trie, [k], config or SearchConfig(), [item_logprior], model_weight, [allowed])[0]


def edge_logits_batch(scorer, trie: CodeTrie, n_users: int) -> np.ndarray:
    """The model's logit of the edge into every trie node, for each user: (users, nodes), float32.

    Exhaustive scoring, for small catalogs and for evaluation: every prefix that still has a choice below it
    is run once (a prefix with a single item below it is skipped, its remaining steps are forced), so the cost
    is one prompt pass plus one row per branching prefix; `CodeTrie.item_logprobs` then gives every item's
    exact log-probability under any filter, and any prior weights can be tried without running the model
    again. For the 2.4k-item Amazon catalog (3-level codes) that is 450 rows per user; `tree_edge_logits`
    computes the same in one forward.
    """
    below = trie.subtree_sum(np.ones(trie.n_items))
    out = np.zeros((n_users, trie.n_nodes), dtype=np.float32)
    hidden = scorer.start()
    nodes = np.zeros(n_users, dtype=np.int64)
    users = np.arange(n_users)
    while len(nodes):
        child, mask = trie.expand(nodes)
        tokens = np.where(mask, trie.node_token[child], 0)
        logits = scorer.logits(hidden, torch.from_numpy(tokens)).numpy()
        out[users[:, None].repeat(child.shape[1], 1)[mask], child[mask]] = logits[mask]
        more = mask & (below[child] >= 2)
        parents, cols = np.nonzero(more)
        if not len(parents):
            break
        nodes, users = child[parents, cols], users[parents]
        hidden = scorer.advance(torch.from_numpy(parents), torch.from_numpy(trie.node_token[nodes].astype(np.int64)))
    return out

