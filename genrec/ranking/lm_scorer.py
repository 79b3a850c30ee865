"""The Hugging Face side of the search: a causal LM as a Scorer (genrec.ranking.search), and every trie
edge's logit for many prompts in one forward (tree attention), with output-layer logits only for the tokens
asked. Another model family or a remote GPU server replaces this module, not the search."""

from __future__ import annotations

import inspect

import numpy as np
import torch

from ..errors import GenrecError
from ..model.base_model import softcap
from .trie import CodeTrie


def head_logits(base, head, hidden: torch.Tensor, tokens: torch.Tensor, full: bool = False) -> torch.Tensor:
    """Output-layer logits of `tokens` (n, c) at `hidden` (n, d): only those rows of a plain Linear head; a
    wrapped head (peft on a 4-bit base) or `full` runs the whole layer and gathers. Soft-capping (Gemma's
    final_logit_softcapping) applies on both paths, so they give the same numbers."""
    if full or type(head) is not torch.nn.Linear:
        out = torch.gather(head(hidden.to(head.weight.dtype)).float(), 1, tokens)
    else:
        rows = head.weight[tokens]  # (n, c, d): only the allowed rows of the output layer
        out = torch.einsum("nd,ncd->nc", hidden.to(rows.dtype), rows).float()
        if head.bias is not None:
            out = out + head.bias[tokens].float()
    return softcap(out, base.config).cpu()


class ModelScorer:
    """Runs a causal LM for the search: each prompt once (its KV cache shared by that user's beams by
    reordering), then one token per beam per step for all users together, with logits only for the
    allowed tokens. Prompts of a batch are left-padded; the attention mask and positions hide the padding."""

    def __init__(self, model, prompt_ids: torch.Tensor | list[list[int]], pad_id: int = 0, full_vocab: bool = False):
        self.base = model.get_base_model() if hasattr(model, "get_base_model") else model
        self.decoder = self.base.get_decoder()
        # A plain Linear lets us multiply by just the allowed rows; a wrapped head (an unmerged peft adapter on
        # a 4-bit base) is run whole and gathered, slower but exact. `full_vocab` forces that path (benchmarks).
        self.head, self.full_vocab = self.base.get_output_embeddings(), full_vocab
        self.device = self.head.weight.device
        prompts = prompt_ids.tolist() if isinstance(prompt_ids, torch.Tensor) else [list(p) for p in prompt_ids]
        if not prompts or not all(prompts):
            raise GenrecError("every prompt needs at least one token")
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for r, p in enumerate(prompts):
            ids[r, width - len(p):], mask[r, width - len(p):] = torch.tensor(p), 1
        self.prompt_ids, self.prompt_mask = ids.to(self.device), mask.to(self.device)
        self.lengths = torch.tensor([len(p) for p in prompts], device=self.device)
        self.padded = bool((self.lengths < width).any())
        self.cache = None
        # transformers 5.x renames `past_key_values` to `cache`; take whichever this version's forward has.
        params = inspect.signature(self.decoder.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"

    @torch.inference_mode()
    def start(self) -> torch.Tensor:
        from transformers import DynamicCache

        self.cache = DynamicCache()
        self.row_user = torch.arange(len(self.lengths), device=self.device)
        self.steps = 0
        kw = {}
        if self.padded:
            kw = {"attention_mask": self.prompt_mask, "position_ids": (self.prompt_mask.cumsum(1) - 1).clamp(min=0)}
        out = self.decoder(input_ids=self.prompt_ids, use_cache=True, **{self._cache_kw: self.cache}, **kw)
        return out.last_hidden_state[:, -1]

    @torch.inference_mode()
    def advance(self, parents: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        parents = parents.to(self.device)
        self.cache.reorder_cache(parents)  # index_select on the batch axis: expands too
        self.row_user = self.row_user[parents]
        self.steps += 1
        kw = {}
        if self.padded:
            ones = torch.ones((len(parents), self.steps), dtype=torch.long, device=self.device)
            kw = {"attention_mask": torch.cat([self.prompt_mask[self.row_user], ones], 1),
                  "position_ids": (self.lengths[self.row_user] + self.steps - 1)[:, None]}
        step = tokens.long().to(self.device)[:, None]
        out = self.decoder(input_ids=step, use_cache=True, **{self._cache_kw: self.cache}, **kw)
        return out.last_hidden_state[:, -1]

    @torch.inference_mode()
    def logits(self, hidden: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        return head_logits(self.base, self.head, hidden, tokens.long().to(self.device), self.full_vocab)


@torch.inference_mode()
def tree_edge_logits(model, prompts: list[list[int]], trie: CodeTrie, pad_id: int = 0, users_per_pass: int = 4
                     ) -> np.ndarray:
    """The model's logit of the edge into every trie node for each prompt: (prompts, nodes), float32.

    What stepping a ModelScorer through every branching prefix gives (tests check the two agree), in one forward
    per group of users: the prompt is followed by every branching prefix's last token, and a tree attention
    mask lets each of them see the prompt and its own ancestors only (position = prompt length + depth - 1, as
    in decoding). Expanding a KV cache to one row per prefix instead would copy the whole prompt cache per row.
    Sliding-window layers get the same mask cut to their window. Meant for catalogs of up to some 10^4 items."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder, head = base.get_decoder(), base.get_output_embeddings()
    cfg = base.config
    below = trie.subtree_sum(np.ones(trie.n_items))
    depth = np.zeros(trie.n_nodes, dtype=np.int64)
    for d in range(len(trie.level_bounds) - 1):
        depth[trie.level_bounds[d]:trie.level_bounds[d + 1]] = d + 1
    tree = np.nonzero(below >= 2)[0]
    tree = tree[tree != 0]  # prefixes (besides the empty one) with a choice below: their hidden states are needed
    slot = np.full(trie.n_nodes, -1)
    slot[tree] = np.arange(len(tree))
    anc = np.eye(len(tree), dtype=bool)  # anc[i, j]: tree[j] is tree[i] or one of its ancestors
    cur = trie.parent[tree].astype(np.int64)
    while (cur > 0).any():
        has = cur > 0
        anc[np.nonzero(has)[0], slot[cur[has]]] = True
        cur = np.where(has, trie.parent[cur], 0)
    nodes = np.concatenate([[0], tree])
    child, mask = trie.expand(nodes)
    tokens = torch.from_numpy(np.where(mask, trie.node_token[child], 0))
    weight = head.weight
    dev, dtype = weight.device, next(decoder.parameters()).dtype
    window = getattr(cfg, "sliding_window", None)
    sliding = window is not None and "sliding_attention" in (getattr(cfg, "layer_types", None) or [])
    out = np.zeros((len(prompts), trie.n_nodes), dtype=np.float32)
    tree_tok = torch.from_numpy(trie.node_token[tree].astype(np.int64))
    for start in range(0, len(prompts), users_per_pass):
        group = prompts[start:start + users_per_pass]
        width, m = max(len(p) for p in group), len(tree)
        n, total = len(group), width + m
        ids = torch.full((n, total), pad_id, dtype=torch.long)
        pos = torch.zeros((n, total), dtype=torch.long)
        allowed = torch.zeros((n, total, total), dtype=torch.bool)
        causal = torch.tril(torch.ones(width, width, dtype=torch.bool))
        for r, p in enumerate(group):
            off = width - len(p)
            ids[r, off:width], ids[r, width:] = torch.tensor(p), tree_tok
            pos[r, off:width] = torch.arange(len(p))
            pos[r, width:] = torch.from_numpy(len(p) - 1 + depth[tree])
            allowed[r, :width, off:width] = causal[:, off:width]
            allowed[r, width:, off:width] = True
            allowed[r, width:, width:] = torch.from_numpy(anc)
            allowed[r, torch.arange(off), torch.arange(off)] = True  # padding rows see themselves: no NaN rows
        masks = {"full_attention": allowed}
        if sliding:
            masks["sliding_attention"] = allowed & ((pos[:, :, None] - pos[:, None, :]) < window)
        neg = torch.finfo(dtype).min
        masks = {k: torch.zeros(v.shape, dtype=dtype).masked_fill(~v, neg)[:, None].to(dev) for k, v in masks.items()}
        arg = masks if sliding else masks["full_attention"]
        h = decoder(input_ids=ids.to(dev), position_ids=pos.to(dev), attention_mask=arg, use_cache=False
                    ).last_hidden_state
        hidden = torch.cat([h[:, width - 1:width], h[:, width:]], 1)  # (n, nodes): the root, then the tree
        logits = head_logits(base, head, hidden.reshape(-1, hidden.shape[-1]),
                              tokens.repeat(n, 1).to(dev)).reshape(n, len(nodes), -1).numpy()
        for r in range(n):
            out[start + r, child[mask]] = logits[r][mask]
    return out

