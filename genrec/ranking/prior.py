"""The item prior: what the catalog and the shop's logs say about each item for a profile, before the model.

The search adds `weight * component` for each part to the model's log-probabilities (as D3 adds a
popularity prior to the constrained logits); each part is a per-item score vector:

- text: cosine similarity of the profile (its stated words, and the mean vector of its known items) to each
  item's text, times the weight (1 / temperature). Known items enter as their stored item vectors, as the
  embedding-kNN baseline does, so no known item's text is encoded again per request.
- nearest: each item's cosine to its most similar known item (content item-kNN), which a long history's
  mean vector blurs.
- lexical: TF-IDF cosine similarity of the same profile text (words, and the known items' text) to each
  item's text: exact words (model numbers, brands, "toner") that a sentence embedding blurs; dense + sparse,
  as hybrid retrieval does.
- interest: 1 for items whose category path names a stated interest (the strongest k=0 signal there is).
- popularity: log(1 + users who took the item), when the shop gave logs or counts.
- collab: item-kNN, the summed cosine similarity (over the shop's co-purchase logs) of each item to the
  profile's known items; the strongest single signal once a user has clicked a few items. Stated interests
  that name a catalog category add the same for that category (cosine of "took anything in this category"
  to each item's users): what people who buy in the interest's category take, the collaborative reading of
  an interest.
- learned: log-probability under the shop's learned collaborative model (genrec.ranking.collab), from the profile's
  demographics, interests and known items: what people like this user took.
- demographic: the log-lift of the item among users sharing the profile's demographic values
  (genrec.ranking.demographics).
- budget: minus the fraction an item's price is over the profile's budget.

Which parts count, and how much, is chosen per request type on the shop's own held-out users (genrec.training.fit),
and whether they are weighed in their own units or standardised (z-scores over the request's allowed items);
`PriorWeights`' defaults serve a Recommender that was never fitted.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..data.catalog import Catalog, Item
from ..data.profile import UserProfile
from ..errors import GenrecError
from .content import (
    LexicalIndex,
    category_levels,
    interest_match,
    nearest_scores,
    profile_text,
    profile_words,
    text_scores,
)
from .demographics import profile_fields

COMPONENTS = ("text", "nearest", "lexical", "interest", "popularity", "collab", "learned", "demographic", "budget")


@dataclass(frozen=True)
class PriorWeights:
    """Weight of each prior component in the search score (log-probability units); 0 turns one off."""

    # Defaults serve only a Recommender that was never fitted (no `genrec fit` / genrec.training.fit): a fitted shop
    # replaces them per request type with weights chosen on its own held-out users. They date from an earlier
    # release's tuning on one dataset and are kept for that unfitted path alone; every figure the README
    # reports comes from fitted weights. Budget is never fitted (shops' logs hold no budgets).
    text: float = 20.0  # per unit of cosine similarity (= 1 / temperature 0.05)
    nearest: float = 0.0  # per unit of cosine similarity to the nearest known item (a fitted shop only)
    lexical: float = 20.0  # per unit of TF-IDF cosine similarity; 0 here and in the new-items weights skips TF-IDF
    interest: float = 1.0  # log-odds bonus of an item in a stated interest's category
    popularity: float = 1.0  # per nat of log(1 + users)
    collab: float = 40.0  # per unit of summed item-kNN similarity; used only when logs are given
    learned: float = 1.0  # per nat of the learned collaborative model's log-probability (a fitted shop only)
    demographic: float = 1.0  # per nat of demographic lift (a fitted shop with a users file only)
    budget: float = 3.0  # log-odds lost per 100% over the stated budget

    def __post_init__(self):
        for name in COMPONENTS:
            if getattr(self, name) < 0:
                raise GenrecError(f"prior weight {name} must be >= 0, got {getattr(self, name)!r}")


def _user_items(catalog: Catalog, logs: Mapping[str, Sequence[str]]):
    """Binary (users, items) CSR matrix of `logs` (user -> items) over catalog positions."""
    from scipy import sparse

    rows, cols = [], []
    for u, seq in enumerate(logs.values()):
        for i in set(seq):
            if i in catalog.index:
                rows.append(u)
                cols.append(catalog.index[i])
    return sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                             shape=(max(len(logs), 1), len(catalog)))


def _cosine_top(co, left, right, neighbours: int):
    """co / sqrt(left_i * right_j) (co-occurrence counts to cosine), keeping each row's `neighbours` largest."""
    from scipy import sparse

    inv_l, inv_r = (sparse.diags(1.0 / np.sqrt(np.where(x > 0, x, 1.0))) for x in (left, right))
    sim = (inv_l @ co @ inv_r).tocsr()
    sim.eliminate_zeros()
    n_rows, n_cols = sim.shape
    if neighbours < n_cols:  # memory O(rows * neighbours), not O(rows * items)
        data, indices, indptr = [], [], [0]
        for r in range(n_rows):
            lo, hi = sim.indptr[r], sim.indptr[r + 1]
            vals, idx = sim.data[lo:hi], sim.indices[lo:hi]
            if len(vals) > neighbours:
                top = np.argpartition(-vals, neighbours - 1)[:neighbours]
                vals, idx = vals[top], idx[top]
            data.append(vals)
            indices.append(idx)
            indptr.append(indptr[-1] + len(vals))
        sim = sparse.csr_matrix((np.concatenate(data), np.concatenate(indices), indptr), shape=(n_rows, n_cols))
    return sim.astype(np.float32)


def item_similarity(catalog: Catalog, logs: Mapping[str, Sequence[str]], neighbours: int = 100):
    """Item-item cosine similarity of the items' user vectors in `logs` (user -> items), keeping each item's
    `neighbours` most similar items (a sparse (items, items) CSR matrix, diagonal zero): the item-kNN of
    Sarwar et al., the strongest simple baseline for users with a few known items."""
    m = _user_items(catalog, logs)
    co = (m.T @ m).tocsr()
    co.setdiag(0.0)
    users = np.asarray(m.sum(0)).ravel()
    return _cosine_top(co, users, users, neighbours)


@dataclass(frozen=True)
class CategorySimilarity:
    """Category-item cosine similarity over the shop's logs: row c is how strongly taking anything in category c
    (any level of an item's category path, lower-cased) goes with taking each item."""

    names: dict[str, int]  # category name (lower case) -> row
    matrix: object  # (categories, items) scipy CSR, float32

    def rows(self, interests: Sequence[str]) -> list[int]:
        return [self.names[i.lower()] for i in interests if i.lower() in self.names]


def category_similarity(catalog: Catalog, logs: Mapping[str, Sequence[str]],
                        neighbours: int = 100) -> CategorySimilarity:
    """Users who took anything in a category vs users of each item, as cosine (top `neighbours` items kept per
    category): the collaborative reading of a stated interest."""
    from scipy import sparse

    names = sorted({lvl.lower() for it in catalog for lvl in it.category})
    index = {n: r for r, n in enumerate(names)}
    pairs = [(index[lvl.lower()], p) for p, it in enumerate(catalog) for lvl in set(it.category)]
    in_cat = sparse.csr_matrix((np.ones(len(pairs), dtype=np.float32), tuple(zip(*pairs)) if pairs else ([], [])),
                               shape=(len(names), len(catalog)))
    m = _user_items(catalog, logs)
    user_cat = ((m @ in_cat.T) > 0).astype(np.float32)  # (users, categories): took anything in it
    co = (user_cat.T @ m).tocsr()  # (categories, items)
    sim = _cosine_top(co, np.asarray(user_cat.sum(0)).ravel(), np.asarray(m.sum(0)).ravel(), neighbours)
    return CategorySimilarity(index, sim)


def log_popularity(catalog: Catalog, popularity: Mapping[str, int] | None) -> np.ndarray | None:
    if not popularity:
        return None
    return np.log1p(np.array([popularity.get(it.item_id, 0) for it in catalog], dtype=np.float64))


def text_neighbours(item_emb: np.ndarray, new: np.ndarray, neighbours: int, chunk: int = 256):
    """(items, items) sparse matrix A: row j of each `new` item holds its `neighbours` most text-similar old
    items (cosine of `item_emb`, negatives dropped), weights summing to 1; other rows are empty. Cost: new x old
    x dim multiply-adds, in chunks of `chunk` new items."""
    from scipy import sparse

    n = len(item_emb)
    old = np.nonzero(~new)[0]
    rows, cols, vals = [], [], []
    if neighbours and len(old) and new.any():
        e = item_emb / np.maximum(np.linalg.norm(item_emb, axis=1, keepdims=True), 1e-9)
        m = min(neighbours, len(old))
        new_idx = np.nonzero(new)[0]
        for start in range(0, len(new_idx), chunk):
            part = new_idx[start:start + chunk]
            cos = e[part] @ e[old].T
            top = np.argpartition(-cos, m - 1, axis=1)[:, :m]
            w = np.maximum(np.take_along_axis(cos, top, 1), 0.0)
            w /= np.maximum(w.sum(1, keepdims=True), 1e-9)
            rows.append(np.repeat(part, m))
            cols.append(old[top].ravel())
            vals.append(w.ravel())
    if not rows:
        return sparse.csr_matrix((n, n), dtype=np.float32)
    return sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(n, n), dtype=np.float32)


class ItemPrior:
    """Per-item prior scores for a profile; `components()` gives each part, `logprior()` their weighted sum
    as a log-distribution over the catalog (None when nothing applies).

    New items (no user in the logs) borrow popularity and collab from their `new_item_neighbours` most
    text-similar old items (weighted means: a new item's similarity to a known item is its neighbours'
    similarity to it), so they can enter a list that mixes them with old items; without this the logs' parts
    bury every new item (protocol B `full`: benchmarks/results/amazon_office/README.md). 0 turns it off."""

    def __init__(self, catalog: Catalog, item_emb: np.ndarray, encoder, weights: PriorWeights = PriorWeights(),
                 popularity: Mapping[str, int] | None = None, similarity=None,
                 categories: CategorySimilarity | None = None, lexical_index: bool | None = None,
                 new_item_neighbours: int = 5, learned=None, demographic=None):
        """`lexical_index`: build the TF-IDF index (None: when `weights.lexical` is set; pass True when other
        weights given to `logprior` use it). `learned`: a genrec.ranking.collab.CollabModel; `demographic`: a
        genrec.ranking.demographics.DemographicLift (both over any catalog: aligned here)."""
        if new_item_neighbours < 0:
            raise GenrecError(f"new_item_neighbours must be >= 0, got {new_item_neighbours!r}")
        self.catalog, self.item_emb, self.encoder, self.weights = catalog, item_emb, encoder, weights
        self.log_pop = log_popularity(catalog, popularity)
        self.similarity, self.categories = similarity, categories
        self.learned = learned.aligned(catalog, item_emb) if learned is not None else None
        self.demographic = demographic.aligned(catalog) if demographic is not None else None
        self.has_users = self.log_pop > 0 if self.log_pop is not None else None
        self._borrow = None  # new items' text-nearest old items, for the per-profile learned part
        if self.has_users is not None and new_item_neighbours and not self.has_users.all():
            self._borrow = a = text_neighbours(item_emb, ~self.has_users, new_item_neighbours)
            self.log_pop = np.where(self.has_users, self.log_pop, a @ self.log_pop)
            if similarity is not None:
                self.similarity = (similarity + similarity @ a.T + a @ similarity).tocsr().astype(np.float32)
            if categories is not None:
                self.categories = CategorySimilarity(categories.names,
                                                     (categories.matrix + categories.matrix @ a.T).tocsr())
        self.prices = np.nan_to_num(np.array([np.nan if it.price is None else it.price for it in catalog],
                                             dtype=np.float64), nan=0.0)  # unpriced: never "over budget"
        self._levels = category_levels(catalog)
        self.tfidf = LexicalIndex(catalog) if (weights.lexical if lexical_index is None else lexical_index) else None

    def components(self, profile: UserProfile, recent: list[Item], parts: Collection[str] = COMPONENTS,
                   demographic_words: bool = True) -> dict[str, np.ndarray]:
        """The parts that apply to this profile, of those named in `parts` (a part that does not apply is absent,
        not zero). `demographic_words` False leaves the occupation out of the text and lexical parts."""
        out: dict[str, np.ndarray] = {}
        want = set(parts)
        full = profile
        if not demographic_words and profile.occupation:
            profile = replace(profile, occupation=None)  # the text and lexical parts' view; the others use `full`
        words = profile_words(profile)
        rows = [self.catalog.index[it.item_id] for it in recent]
        if (words or rows) and "text" in want:
            out["text"] = text_scores(self.item_emb, self.encoder, self.catalog, [profile], [recent])[0]
        if rows and "nearest" in want:
            out["nearest"] = nearest_scores(self.item_emb, rows)
        if self.tfidf is not None and (words or rows) and "lexical" in want:
            out["lexical"] = self.tfidf.scores([profile_text(profile, recent)])[0]
        if profile.interests and "interest" in want:
            out["interest"] = interest_match(self._levels, profile.interests)
        if self.log_pop is not None and "popularity" in want:
            out["popularity"] = self.log_pop
        if "collab" in want:
            collab = []
            if self.similarity is not None and rows:
                collab.append(self.similarity[rows].sum(0))
            cat_rows = self.categories.rows(profile.interests) if self.categories is not None else []
            if cat_rows:
                collab.append(self.categories.matrix[cat_rows].sum(0))
            if collab:
                out["collab"] = np.asarray(sum(collab), dtype=np.float64).ravel()
        if self.learned is not None and "learned" in want:
            v = self.learned.logprobs(full)
            # a model with a content part scores new items itself; one without lends them their neighbours'
            borrow = self._borrow is not None and not self.learned.has_content
            out["learned"] = np.where(self.has_users, v, self._borrow @ v) if borrow else v
        if self.demographic is not None and "demographic" in want:
            v = self.demographic.component(profile_fields(full))
            if v is not None:
                out["demographic"] = v
        if profile.budget is not None and "budget" in want:
            out["budget"] = -np.maximum(self.prices / profile.budget - 1.0, 0.0)
        return out

    def logprior(self, profile: UserProfile, recent: list[Item], weights: PriorWeights | None = None,
                 demographic_words: bool = True, standardise_over: np.ndarray | None = None) -> np.ndarray | None:
        """The weighted parts (`weights`, default this prior's own) as a log-distribution; None if none applies.
        Parts of weight 0 are not computed. `standardise_over` (a mask of the request's allowed items): each part
        is weighed as z-scores over those items (`standardised`), not in its own units."""
        weights = self.weights if weights is None else weights
        used = [n for n in COMPONENTS if getattr(weights, n)]
        parts = self.components(profile, recent, used, demographic_words)
        return combine(parts if standardise_over is None else standardised(parts, standardise_over), weights)

    def new_items_only(self, allowed: np.ndarray) -> bool:
        """Do the shop's logs show no user for any allowed item (e.g. a "new arrivals" request)? False without
        logs: then nothing tells new items from old."""
        return self.has_users is not None and bool(allowed.any()) and not self.has_users[allowed].any()


def z_stats(values: np.ndarray, over: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each row of `values` (parts, items) over the items `over` (a mask); a row
    constant there gets an infinite deviation, so its z-scores are 0."""
    v = values[:, over] if over.any() else values
    sd = v.std(1)
    return v.mean(1), np.where(sd > 0, sd, np.inf)


def standardised(parts: dict[str, np.ndarray], over: np.ndarray) -> dict[str, np.ndarray]:
    """Each part as z-scores over the items `over` (the request's allowed items). A weighted sum of raw parts lets
    each part's spread in this request say how sure it is; z-scores give every part the same spread, which fuses
    parts of unlike scales better where none is much surer than the others (new items ranked by content and
    borrowed logs). The fit chooses per request type which serves (TypeWeights.standardised)."""
    if not parts:
        return parts
    names = list(parts)
    values = np.stack([parts[n] for n in names])
    mean, sd = z_stats(values, over)
    return dict(zip(names, (values - mean[:, None]) / sd[:, None]))


def combine(parts: dict[str, np.ndarray], weights: PriorWeights) -> np.ndarray | None:
    """Weighted sum of prior parts, normalised to a log-distribution; None if no part has weight."""
    used = [(getattr(weights, name), v) for name, v in parts.items() if getattr(weights, name)]
    if not used:
        return None
    z = sum(w * v for w, v in used)
    return z - np.logaddexp.reduce(z)
