"""The content parts of a score: what a profile's own words and known items say about each item's text. One
definition serves the prior (genrec.ranking.prior, which weighs them with the logs' parts) and the content
baselines (genrec.evaluation.baselines, each one part alone), so the evaluation compares what the product runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..data.catalog import Catalog, Item
from ..data.profile import UserProfile


def profile_words(profile: UserProfile) -> list[str]:
    """The profile's own words: stated interests, free text, occupation."""
    return [p for p in (*profile.interests, profile.free_text, profile.occupation) if p]


def profile_text(profile: UserProfile, recent: Sequence[Item]) -> str:
    """The words a lexical match uses: the profile's own words and the known items' text."""
    return " ; ".join(profile_words(profile) + [it.text(300) for it in recent])


class LexicalIndex:
    """TF-IDF over the items' text (sublinear tf, English stop words): cosine of a query text to every item."""

    def __init__(self, catalog: Catalog):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vectorizer = TfidfVectorizer(sublinear_tf=True, stop_words="english")
        self.items = self.vectorizer.fit_transform([it.text(1000) for it in catalog])
        # (terms, items) in CSR, made once: a CSC transpose is converted to CSR by every product, which was most of
        # a fit's lexical scoring (benchmarks/results/fit_cost.md)
        self._by_term = self.items.T.tocsr()
        self._primed: dict = {}  # text -> its TF-IDF row, for texts given to prime()

    def prime(self, texts: Sequence[str]) -> None:
        """Vectorise these texts in one call and keep their rows for scores(): a fit scores thousands of held-out
        requests one at a time, and the vectoriser's cost per call, not per text, dominated that
        (benchmarks/results/fit_cost.md). Rows do not depend on the texts beside them, so scores are unchanged."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._primed]
        if todo:
            self._primed.update(zip(todo, self.vectorizer.transform(todo)))

    def scores(self, texts: list[str]) -> np.ndarray:
        """(texts, items) cosine similarities."""
        if len(texts) == 1 and texts[0] in self._primed:
            query = self._primed[texts[0]]
        else:
            query = self.vectorizer.transform(texts)
        return (query @ self._by_term).toarray()


def text_scores(item_emb: np.ndarray, encoder, catalog: Catalog, profiles: Sequence[UserProfile],
                recent: Sequence[Sequence[Item]] | None = None) -> np.ndarray:
    """(profiles, items) cosine of each profile's query to every item embedding: the query is the mean of its
    known items' embeddings (`recent`, default the profile's recent items in the catalog) plus the embedding of
    its own words (one encoder call for the batch); a profile with neither gets a zero row."""
    words = ["; ".join(profile_words(p)) for p in profiles]
    todo = [w for w in words if w]
    encoded = iter(encoder.encode(todo) if todo else [])
    if recent is None:
        recent = [[catalog.get(x.item_id) for x in p.recent_items if x.item_id in catalog.index] for p in profiles]
    q = np.zeros((len(profiles), item_emb.shape[1]), dtype=np.float32)
    for r, w in enumerate(words):
        rows = [catalog.index[it.item_id] for it in recent[r]]
        if rows:
            q[r] += item_emb[rows].mean(0)
        if w:
            q[r] += next(encoded)
    q /= np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-9)
    return (q @ item_emb.T).astype(np.float64)


def nearest_scores(item_emb: np.ndarray, rows: Sequence[int]) -> np.ndarray:
    """Each item's cosine to its most similar known item (`rows` of the unit `item_emb`): content item-kNN. A
    long history's mean vector (text_scores) blurs the several kinds of things one user takes; the nearest
    known item keeps them apart."""
    return (item_emb[list(rows)] @ item_emb.T).max(0).astype(np.float64)


def category_levels(catalog: Catalog) -> list[set[str]]:
    """Each item's category path, lower-cased, as a set: what a stated interest is matched against."""
    return [{lvl.lower() for lvl in it.category} for it in catalog]


def interest_match(levels: list[set[str]], interests: Sequence[str]) -> np.ndarray:
    """1.0 for the items whose category path names one of the interests, else 0.0."""
    wanted = {i.lower() for i in interests}
    return np.array([1.0 if lv & wanted else 0.0 for lv in levels])
