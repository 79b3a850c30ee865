"""External peers in the harness: LightFM (Kula 2015), the hybrid factorisation a shop would try first.

`LightFMSystem` fits `lightfm-next` (the `lightfm` extra: `lightfm` 1.17 no longer builds) with WARP on the
protocol's training view. Users are described only by features a cold user also has (demographic values,
stated-interest categories, known items: the tokens of genrec.ranking.collab), two rows per training user (one with a
protocol-A-like profile, one with demographics only); items by their ID, category levels and brand. Its
epochs are chosen on a seeded 10% of the training users held out as protocol-A cases, then it is fitted
again on all of them. It reads interests itself, so it gets no interest bonus.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

import numpy as np

from ..data.cases import MAX_COLD_KNOWN, cold_profile, cold_user_cases, seed_interests
from ..errors import GenrecError
from ..ranking.collab import item_feature_tokens, profile_tokens
from ..ranking.demographics import demographic_tokens
from .baselines import ScoringSystem
from .metrics import ndcg_of_scores

EPOCHS = (5, 10, 20, 40)  # checked in turn on the held-out users (fit_partial continues)


def _row_normalised(rows: list[list[int]], n_cols: int):
    from scipy import sparse

    data, idx, ptr = [], [], [0]
    for r in rows:
        r = sorted(set(r))
        data += [1.0 / max(len(r), 1)] * len(r)
        idx += r
        ptr.append(len(idx))
    return sparse.csr_matrix((np.array(data, dtype=np.float32), idx, ptr), shape=(len(rows), n_cols))


class LightFMSystem(ScoringSystem):
    name = "lightfm"
    interest_first = False

    @classmethod
    def fit(cls, view):
        return cls(view.catalog, view.popularity, view.sequences, view.users)

    def __init__(self, catalog, popularity, sequences: Mapping[str, Sequence[str]], users: Mapping[str, Mapping],
                 components: int = 64, seed: int = 0):
        try:
            from lightfm import LightFM  # noqa: F401
        except ImportError:
            raise GenrecError("the lightfm system needs the lightfm extra: pip install 'genrec[lightfm]'") from None
        super().__init__(catalog, popularity)
        self.components, self.seed = components, seed
        seqs = {u: [i for i in s if i in catalog.index] for u, s in sequences.items()}
        seqs = {u: s for u, s in seqs.items() if s}
        rng = random.Random(seed)
        eligible = sorted(u for u, s in seqs.items() if len(s) > MAX_COLD_KNOWN)
        held = set(rng.sample(eligible, len(eligible) // 10))
        cases = cold_user_cases(catalog, seqs, users, sorted(held))
        ids = [it.item_id for it in catalog]
        train = {u: s for u, s in seqs.items() if u not in held}
        best, best_score, done = EPOCHS[0], -1.0, 0
        self._fit(train, users, 0)
        for epochs in EPOCHS:  # one model trained on: score after each stage
            self.model.fit_partial(self._inter, user_features=self._uf, item_features=self._if,
                                   epochs=epochs - done, num_threads=2)
            done = epochs
            self._reps()
            score = np.mean([ndcg_of_scores(np.where(self.mask.allowed(c.filters, c.profile),
                                                     self.score_batch([c.profile])[0], -np.inf), c.targets, ids)
                             for c in cases]) if cases else 0.0
            if score > best_score:
                best, best_score = epochs, score
        self.epochs, self.held_out_ndcg = best, float(best_score)
        self._fit(seqs, users, best)

    def _fit(self, seqs: Mapping[str, Sequence[str]], users: Mapping[str, Mapping], epochs: int) -> None:
        from lightfm import LightFM
        from scipy import sparse

        catalog, rng = self.catalog, random.Random(self.seed)
        vocab: dict[str, int] = {f"item={it.item_id}": p for p, it in enumerate(catalog)}
        rows, inter = [], []
        for u, s in seqs.items():
            k = rng.randint(0, min(3, len(s) - 1))
            profile = cold_profile(catalog, users.get(u, {}), s, k, rng.random() < 0.5)
            for toks, targets in ((profile_tokens(profile), s[k:] or s), (demographic_tokens(users.get(u, {})), s)):
                rows.append([vocab.setdefault(t, len(vocab)) for t in toks])
                inter.append({catalog.index[i] for i in targets})
            for c in seed_interests(catalog, s[:3]):
                vocab.setdefault(f"interest={c.lower()}", len(vocab))
        self.vocab = vocab
        self._uf = _row_normalised(rows, len(vocab))
        feats = {t: n for n, t in enumerate(sorted({t for it in catalog for t in item_feature_tokens(it)}))}
        self._if = _row_normalised([[p] + [len(catalog) + feats[t] for t in item_feature_tokens(it)]
                                    for p, it in enumerate(catalog)], len(catalog) + len(feats))
        r = [n for n, s in enumerate(inter) for _ in s]
        c = [i for s in inter for i in sorted(s)]
        self._inter = sparse.coo_matrix((np.ones(len(r), dtype=np.float32), (r, c)), shape=(len(rows), len(catalog)))
        self.model = LightFM(no_components=self.components, loss="warp", random_state=self.seed)
        if epochs:
            self.model.fit(self._inter, user_features=self._uf, item_features=self._if, epochs=epochs, num_threads=2)
            self._reps()

    def _reps(self) -> None:
        self.item_bias, self.item_emb = self.model.get_item_representations(self._if)

    def score_batch(self, profiles):
        rows = [[self.vocab[t] for t in profile_tokens(p) if t in self.vocab] for p in profiles]
        bias, emb = self.model.get_user_representations(_row_normalised(rows, len(self.vocab)))
        return emb @ self.item_emb.T + self.item_bias + bias[:, None]
