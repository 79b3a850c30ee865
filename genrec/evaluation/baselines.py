"""Baselines a recommender engineer tries first, on the same recommend() contract as the LLM.

Each scores every catalog item for a profile (`score_batch`); the shared code applies the request's filters
and returns the top k. Stated interests act the same way in all of them: items whose category path names
an interest rank first (popularity within the interests' categories is the strongest simple k=0 baseline
on the Amazon protocol). A small popularity term breaks ties everywhere.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ..data.catalog import Catalog
from ..data.filters import Filters
from ..data.profile import UserProfile, parse_age
from ..ranking.content import LexicalIndex, category_levels, interest_match, profile_text, text_scores
from ..ranking.contract import CatalogMask, Recommendation, check_request, resolve_filters, to_recommendations

TIE = 1e-6  # weight of normalised popularity used only to order otherwise equal scores
INTEREST_BONUS = 1e3  # puts items in a stated interest's category above all others


class ScoringSystem:
    """Base class: subclasses implement `score_batch(profiles) -> (n, items)`."""

    name = "base"
    interest_first = True  # items in a stated interest's category rank first (systems that read interests: False)

    def __init__(self, catalog: Catalog, popularity: Counter | None = None):
        self.catalog = catalog
        self.mask = CatalogMask(catalog)
        pop = np.array([(popularity or {}).get(it.item_id, 0) for it in catalog], dtype=np.float64)
        self.pop = pop / max(pop.max(), 1.0)
        self._levels = category_levels(catalog)

    @classmethod
    def fit(cls, view) -> ScoringSystem:
        """This system fitted on a protocol's training view (genrec.evaluation.protocols.TrainingView)."""
        return cls(view.catalog, view.popularity)

    def interest_bonus(self, profiles: list[UserProfile]) -> np.ndarray:
        out = np.zeros((len(profiles), len(self.catalog)))
        for r, p in enumerate(profiles):
            if p.interests:
                out[r] = INTEREST_BONUS * interest_match(self._levels, p.interests)
        return out

    def score_batch(self, profiles: list[UserProfile]) -> np.ndarray:
        raise NotImplementedError

    def rank_batch(self, profiles: list[UserProfile], filters: list[Filters], n: int) -> list[list[tuple[int, float]]]:
        """Top-n (catalog position, score) per profile after its filters; the evaluation's fast path."""
        scores = self.score_batch(profiles) + TIE * self.pop
        if self.interest_first:
            scores = scores + self.interest_bonus(profiles)
        out = []
        for row, p, f in zip(scores, profiles, filters):
            allowed = np.nonzero(self.mask.allowed(f, p))[0]
            if not len(allowed):
                out.append([])
                continue
            take = min(n, len(allowed))
            part = allowed[np.argpartition(-row[allowed], take - 1)[:take]]
            part = part[np.lexsort((part, -row[part]))]  # by score, then catalog order: deterministic
            out.append([(int(i), float(row[i])) for i in part])
        return out

    def recommend(self, profile, k: int = 10, explain: bool = False, filters: Filters | None = None,
                  **filter_kwargs) -> list[Recommendation]:
        profile = check_request(profile, k, self.catalog)
        filters = resolve_filters(filters, filter_kwargs)
        return to_recommendations(self.catalog, self.rank_batch([profile], [filters], k)[0])


class Popularity(ScoringSystem):
    """Most-interacted items among training users."""

    name = "popularity"

    def score_batch(self, profiles):
        return np.tile(self.pop, (len(profiles), 1))


class DemographicPopularity(ScoringSystem):
    """Popularity among training users who share the profile's gender, age band (decade) and occupation;
    falls back to fewer shared attributes, then to global popularity."""

    name = "demographic"

    @classmethod
    def fit(cls, view):
        return cls(view.catalog, view.popularity, view.sequences, view.users)

    def __init__(self, catalog, popularity, sequences: dict[str, list[str]], users: dict[str, dict]):
        super().__init__(catalog, popularity)
        self.groups: dict[tuple, Counter] = {}
        for u, seq in sequences.items():
            for key in _keys(users.get(u, {})):
                self.groups.setdefault(key, Counter()).update(set(seq))

    def score_batch(self, profiles):
        out = np.tile(self.pop, (len(profiles), 1))
        for r, p in enumerate(profiles):
            for key in _keys({"gender": p.gender, "age": p.age, "occupation": p.occupation}):
                if key in self.groups:
                    c = self.groups[key]
                    vec = np.array([c.get(it.item_id, 0) for it in self.catalog], dtype=np.float64)
                    out[r] = vec / max(vec.max(), 1.0)
                    break
        return out


def _keys(d: dict) -> list[tuple]:
    """Demographic group keys from most to least specific (only attributes present)."""
    age = parse_age(d.get("age"))
    parts = [("gender", d.get("gender")), ("age", None if age is None else age // 10),
             ("occupation", d.get("occupation"))]
    parts = [(k, v) for k, v in parts if v not in (None, "")]
    return [tuple(parts[: n]) for n in range(len(parts), 0, -1)]


class TfIdf(ScoringSystem):
    """Cosine similarity of TF-IDF vectors: profile text (interests, free text, known items) vs item text (the
    prior's lexical part alone)."""

    name = "tfidf"

    def __init__(self, catalog, popularity=None):
        super().__init__(catalog, popularity)
        self.index = LexicalIndex(catalog)

    def score_batch(self, profiles):
        return self.index.scores([profile_text(p, [self.catalog.get(r.item_id) for r in p.recent_items])
                                  for p in profiles])


class EmbeddingKNN(ScoringSystem):
    """Cosine similarity of all-MiniLM-L6-v2 embeddings: the mean of the known items' vectors and the
    vector of the profile's own words, vs every item (the prior's text part alone)."""

    name = "embedding"

    def __init__(self, catalog, popularity=None, encoder=None):
        from ..model.embed import default_encoder, encode_catalog

        super().__init__(catalog, popularity)
        self.encoder = encoder or default_encoder()
        self.items = encode_catalog(catalog, self.encoder)

    def score_batch(self, profiles):
        return text_scores(self.items, self.encoder, self.catalog, profiles)


class ItemKNN(ScoringSystem):
    """Item-based collaborative filtering: cosine similarity of items' user vectors in the training
    interactions, summed over the profile's known items (popularity when none are known)."""

    name = "itemknn"

    @classmethod
    def fit(cls, view):
        return cls(view.catalog, view.popularity, view.sequences)

    def __init__(self, catalog, popularity, sequences: dict[str, list[str]]):
        from ..ranking.prior import item_similarity

        super().__init__(catalog, popularity)
        self.sim = item_similarity(catalog, sequences, neighbours=len(catalog))  # every neighbour: exact

    def score_batch(self, profiles):
        out = np.tile(self.pop, (len(profiles), 1))
        for r, p in enumerate(profiles):
            rows = [self.catalog.index[x.item_id] for x in p.recent_items]
            if rows:
                out[r] = np.asarray(self.sim[rows].sum(0)).ravel()
        return out
