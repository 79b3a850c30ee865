"""genrec: cold-start e-commerce recommendation with a fine-tuned LLM and catalog-constrained decoding.

    import genrec
    recs = genrec.recommend({"age": 34, "interests": ["running"]}, k=5, max_price=100)
"""

from __future__ import annotations

from .api import demo_catalog, recommend
from .data.catalog import Catalog, Item
from .data.filters import Filters
from .data.profile import RecentItem, UserProfile
from .errors import CatalogError, GenrecError, ModelError, ProfileError
from .model.base_model import BaseModelConfig
from .model.item_ids import CodeConfig
from .ranking.contract import Recommendation
from .ranking.diversity import Diversity
from .ranking.recommender import Recommender, RecommenderConfig
from .ranking.search import SearchConfig

__all__ = [
           "BaseModelConfig",
           "Catalog",
           "CatalogError",
           "CodeConfig",
           "Filters", "Diversity",
           "GenrecError",
           "Item",
           "ModelError",
           "ProfileError",
           "RecentItem",
           "Recommendation",
           "Recommender",
           "RecommenderConfig",
           "SearchConfig",
           "UserProfile",
           "demo_catalog",
           "recommend",
]
