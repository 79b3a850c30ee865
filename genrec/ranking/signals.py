"""The shop's signals: everything fitted on its logs that the prior scores with, fitted once and saved together.

Users per item (popularity), item-kNN neighbours, category-item similarity (genrec.ranking.prior), the
learned collaborative model (genrec.ranking.collab) and the demographic lift (genrec.ranking.demographics),
kept by item ID in one `shop_prior.npz` so a grown catalog still maps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..data.catalog import Catalog
from ..data.dataset import Dataset
from ..errors import ModelError
from .collab import CollabConfig, CollabModel, fit_collab
from .demographics import DemographicLift
from .prior import CategorySimilarity, category_similarity, item_similarity

SHOP_PRIOR = "shop_prior.npz"
DEFAULT_COLLAB = CollabConfig()


@dataclass(frozen=True)
class Signals:
    popularity: dict[str, int]  # item ID -> users who took it
    similarity: object  # (items, items) scipy CSR over the catalog's positions
    categories: CategorySimilarity | None
    learned: CollabModel | None = None
    demographic: DemographicLift | None = None

    def prior_kwargs(self) -> dict:
        """Keyword arguments of genrec.ranking.prior.ItemPrior."""
        return {"popularity": self.popularity, "similarity": self.similarity, "categories": self.categories,
                "learned": self.learned, "demographic": self.demographic}


    def grown(self, n_items: int) -> Signals:
        """These signals over a catalog that appends items to the one they were fitted on: the new items have
        no users yet (zero rows and columns); popularity, the learned model and the lift are kept by item ID."""
        def pad(m, rows: int):
            if m is None:
                return None
            m = m.copy().tocsr()
            m.resize((rows, n_items))
            return m
        sim = pad(self.similarity, n_items)
        cats = self.categories and CategorySimilarity(self.categories.names,
                                                      pad(self.categories.matrix, self.categories.matrix.shape[0]))
        return replace(self, similarity=sim, categories=cats)


def fit_signals(catalog: Catalog, sequences: Mapping[str, Sequence[str]], users: Mapping[str, Mapping] = {},
                collab: CollabConfig | None = DEFAULT_COLLAB, collab_epochs: int | None = None,
                validate: Callable[[CollabModel], float] | None = None, progress: bool = True,
                item_emb: np.ndarray | None = None) -> Signals:
    """All signals from `sequences` (user -> items) and `users` (user -> fields). `collab` None skips the
    learned model; `collab_epochs` fixes its epochs, else `validate` (a held-out score) chooses them;
    `item_emb` (the catalog's text embeddings) feeds its content part."""
    learned = None
    if collab is not None:
        if collab_epochs is None and validate is None:
            collab_epochs = collab.max_epochs
        learned = fit_collab(catalog, sequences, users, collab, collab_epochs, validate, progress, item_emb)
    return Signals(dict(Dataset(catalog, dict(sequences)).popularity()), item_similarity(catalog, sequences),
                   category_similarity(catalog, sequences), learned, DemographicLift.fit(catalog, sequences, users))


def save_signals(folder: Path, catalog: Catalog, signals: Signals) -> None:
    """Float16 similarities and int32 positions (~600 bytes per item and per category), by item ID."""
    extra = {}
    if signals.learned is not None:
        extra.update(signals.learned.arrays())
    if signals.demographic is not None:
        extra.update(signals.demographic.arrays())
    cats = signals.categories
    np.savez_compressed(Path(folder) / SHOP_PRIOR, item_ids=np.array([it.item_id for it in catalog]),
                        users=np.array([signals.popularity.get(it.item_id, 0) for it in catalog], dtype=np.int64),
                        **_packed("", signals.similarity), **_packed("cat_", cats.matrix),
                        cat_names=np.array(sorted(cats.names, key=cats.names.get)), **extra)


def _packed(prefix: str, m) -> dict[str, np.ndarray]:
    return {prefix + "data": m.data.astype(np.float16), prefix + "indices": m.indices.astype(np.int32),
            prefix + "indptr": m.indptr}


def load_signals(folder: str | Path, catalog: Catalog) -> Signals | None:
    """The signals saved in `folder` over `catalog`'s positions, or None when it holds none. Items the folder
    never saw get no popularity and no neighbours; they still get the text parts. (Folders saved before the
    category part have none.)"""
    import zipfile

    from scipy import sparse

    path = Path(folder) / SHOP_PRIOR
    if not path.exists():
        return None
    try:
        z = dict(np.load(path, allow_pickle=False))
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise ModelError(f"{path}: not a readable signals file ({e})") from None
    ids = z["item_ids"].tolist()
    pos = np.array([catalog.index.get(i, -1) for i in ids])

    def remap(prefix: str, n_rows: int, rows_are_items: bool):
        saved = sparse.csr_matrix((z[prefix + "data"].astype(np.float32), z[prefix + "indices"], z[prefix + "indptr"]),
                                  shape=(n_rows, len(ids))).tocoo()
        row = pos[saved.row] if rows_are_items else saved.row
        keep = (row >= 0) & (pos[saved.col] >= 0)
        return sparse.csr_matrix((saved.data[keep], (row[keep], pos[saved.col[keep]])),
                                 shape=(len(catalog) if rows_are_items else n_rows, len(catalog)))

    cats = None
    if "cat_names" in z:
        names = z["cat_names"].tolist()
        cats = CategorySimilarity({n: r for r, n in enumerate(names)}, remap("cat_", len(names), False))
    return Signals(dict(zip(ids, z["users"].tolist())), remap("", len(ids), True), cats,
                   CollabModel.from_arrays(z), DemographicLift.from_arrays(z))
