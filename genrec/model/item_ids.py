"""Item codes the model generates: short sequences of reserved tokens derived from item text.

Codes come from hierarchical k-means over text embeddings (as in TIGER/LC-Rec semantic IDs): level l of a
code is a cluster index at depth l, written with a token reserved for that level, so similar items share
prefixes. Clustering stops once a cluster holds at most `branching` items; the last level then numbers
the items of that cluster (ordered by distance to its centre). That last level is the collision handling:
items that no split separates (e.g. identical text) still get distinct codes, and `stats()` reports how
many items needed it. A new item walks down the centroids to its nearest leaf and takes the next free
number there; a full leaf hangs it below its nearest neighbour, giving a code that extends that item's
code (the trie's END token keeps both valid). No retraining is needed and existing codes never change.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import GenrecError

END = 0  # reserved index of the token that closes every code


@dataclass(frozen=True)
class CodeConfig:
    """How item codes are built."""

    branching: int = 64  # clusters per level = distinct tokens per level
    seed: int = 0  # k-means seed: the same catalog and seed give the same codes
    max_depth: int = 12  # codes longer than this are refused (a sign of degenerate embeddings)

    def __post_init__(self):
        if not 2 <= self.branching <= 1024:
            raise GenrecError(f"branching must be in 2..1024, got {self.branching!r}")
        if not 1 <= self.max_depth <= 64:
            raise GenrecError(f"max_depth must be in 1..64, got {self.max_depth!r}")

    def reserved_needed(self) -> int:
        return 1 + self.branching * self.max_depth


class ItemCodes:
    """item_id -> code (tuple of per-level indices), plus what is needed to place new items."""

    def __init__(self, config: CodeConfig, codes: dict[str, tuple[int, ...]],
                 centroids: dict[tuple[int, ...], np.ndarray], embeddings: np.ndarray, item_ids: list[str]):
        self.config = config
        self.codes = codes
        self.centroids = centroids  # internal node prefix -> (branching, dim) centres of its children
        self.embeddings = embeddings  # (n, dim) float16, rows aligned with item_ids
        self.item_ids = item_ids
        self._row = {i: r for r, i in enumerate(item_ids)}
        self._next: Counter = Counter()  # leaf prefix -> next free last-level index
        for code in codes.values():
            self._next[code[:-1]] = max(self._next[code[:-1]], code[-1] + 1)

    # ---- building ---------------------------------------------------------------------------
    @classmethod
    def build(cls, item_ids: list[str], embeddings: np.ndarray, config: CodeConfig = CodeConfig()) -> ItemCodes:
        if len(item_ids) != len(embeddings):
            raise GenrecError(f"{len(item_ids)} item IDs but {len(embeddings)} embeddings")
        if len(set(item_ids)) != len(item_ids):
            raise GenrecError("item IDs must be unique to build codes")
        emb = np.asarray(embeddings, dtype=np.float32)
        codes: dict[str, tuple[int, ...]] = {}
        centroids: dict[tuple[int, ...], np.ndarray] = {}
        stack = [((), np.arange(len(item_ids)))]
        while stack:
            prefix, idx = stack.pop()
            if len(prefix) >= config.max_depth:
                raise GenrecError(f"item codes would exceed max_depth={config.max_depth}; "
                                  "raise branching or max_depth")
            if len(idx) <= config.branching:
                centre = emb[idx].mean(0)
                order = idx[np.argsort(((emb[idx] - centre) ** 2).sum(1), kind="stable")]
                for j, r in enumerate(order):
                    codes[item_ids[r]] = prefix + (j,)
                continue
            labels, centres = _split(emb[idx], config.branching, config.seed + len(prefix))
            centroids[prefix] = centres.astype(np.float32)
            for j in np.unique(labels)[::-1]:
                stack.append((prefix + (int(j),), idx[labels == j]))
        return cls(config, codes, centroids, emb.astype(np.float16), list(item_ids))

    def add(self, item_id: str, embedding: np.ndarray) -> tuple[int, ...]:
        """Give a new item a code next to its most similar items; existing codes never change."""
        if item_id in self.codes:
            return self.codes[item_id]
        e = np.asarray(embedding, dtype=np.float32).reshape(-1)
        prefix: tuple[int, ...] = ()
        while prefix in self.centroids:
            prefix += (int(((self.centroids[prefix] - e) ** 2).sum(1).argmin()),)
        while self._next[prefix] >= self.config.branching:
            # A full leaf: hang the item under its nearest sibling, extending that sibling's code.
            siblings = [i for i, c in self.codes.items() if len(c) == len(prefix) + 1 and c[:-1] == prefix]
            rows = [self._row[i] for i in siblings]
            nearest = siblings[int(((self.embeddings[rows].astype(np.float32) - e) ** 2).sum(1).argmin())]
            prefix = self.codes[nearest]
            if len(prefix) >= self.config.max_depth:
                raise GenrecError(f"no room for item {item_id!r} within max_depth={self.config.max_depth}")
        code = prefix + (self._next[prefix],)
        self._next[prefix] += 1
        self.codes[item_id] = code
        self._row[item_id] = len(self.item_ids)
        self.item_ids.append(item_id)
        self.embeddings = np.vstack([self.embeddings, e.astype(np.float16)[None]])
        return code

    def copy(self) -> ItemCodes:
        """An independent copy: `add` on it leaves this one as it was (centroids are never changed, so shared)."""
        return ItemCodes(self.config, dict(self.codes), self.centroids, self.embeddings, list(self.item_ids))

    def row(self, item_id: str) -> int:
        """Row of an item in `embeddings`."""
        return self._row[item_id]

    # ---- tokens -----------------------------------------------------------------------------
    def token_indices(self, item_id: str) -> list[int]:
        """Reserved-token indices of an item's code followed by END."""
        b = self.config.branching
        return [1 + level * b + v for level, v in enumerate(self.codes[item_id])] + [END]

    # ---- reporting and persistence ------------------------------------------------------------
    def stats(self) -> dict:
        lengths = Counter(len(c) for c in self.codes.values())
        leaves = Counter(c[:-1] for c in self.codes.values())
        shared = sum(n for n in leaves.values() if n > 1)
        return {"items": len(self.codes), "branching": self.config.branching,
                "code_length": dict(sorted(lengths.items())), "leaves": len(leaves),
                "items_numbered_in_shared_leaf": shared, "max_leaf_size": max(leaves.values()),
                "duplicate_codes": len(self.codes) - len(set(self.codes.values()))}

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"config": asdict(self.config), "item_ids": self.item_ids,
                "codes": [list(self.codes[i]) for i in self.item_ids],
                "centroid_prefixes": [list(p) for p in self.centroids]}
        (folder / "codes.json").write_text(json.dumps(meta))
        np.savez_compressed(folder / "codes.npz", embeddings=self.embeddings,
                            **{f"c{i}": c for i, c in enumerate(self.centroids.values())})

    @classmethod
    def load(cls, folder: str | Path) -> ItemCodes:
        folder = Path(folder)
        meta = json.loads((folder / "codes.json").read_text())
        arrays = np.load(folder / "codes.npz")
        centroids = {tuple(p): arrays[f"c{i}"] for i, p in enumerate(meta["centroid_prefixes"])}
        codes = {i: tuple(c) for i, c in zip(meta["item_ids"], meta["codes"])}
        return cls(CodeConfig(**meta["config"]), codes, centroids, arrays["embeddings"], meta["item_ids"])


def _split(x: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """k-means labels and centres; chunks by order when k-means cannot separate the points."""
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from sklearn.exceptions import ConvergenceWarning

    # MiniBatchKMeans past 20k points: full Lloyd iterations cost O(n k d) per pass (measured by issue 5).
    algo = KMeans(n_clusters=k, n_init=1, max_iter=50, random_state=seed) if len(x) <= 20000 else \
        MiniBatchKMeans(n_clusters=k, n_init=1, random_state=seed, batch_size=4096)
    with warnings.catch_warnings():  # identical points are handled below; sklearn's warning is noise
        warnings.simplefilter("ignore", ConvergenceWarning)
        labels = algo.fit_predict(x)
    if len(np.unique(labels)) == 1:  # identical points: split evenly so the recursion still ends
        labels = (np.arange(len(x)) * k) // len(x)
        centres = np.stack([x[labels == j].mean(0) for j in range(k)])
        return labels, centres
    return labels, algo.cluster_centers_


def reserved_token_ids(tokenizer, n: int) -> list[int]:
    """Token ids of the tokenizer's reserved `<unusedN>` tokens 0..n-1, each checked to be one token."""
    names = [f"<unused{i}>" for i in range(n)]
    ids = tokenizer.convert_tokens_to_ids(names)
    unk = tokenizer.unk_token_id
    bad = [nm for nm, i in zip(names, ids) if i is None or i == unk]
    if bad:
        have = n - len(bad)
        raise GenrecError(f"the base model's tokenizer has {have} of the {n} reserved tokens genrec needs "
                          f"(<unused0>..<unused{n - 1}>, first missing: {bad[0]}); use a model with reserved "
                          "tokens (e.g. Gemma) or a smaller CodeConfig(branching, max_depth)")
    if len(set(ids)) != n:
        raise GenrecError("the tokenizer maps several reserved tokens to the same id")
    return list(ids)
