"""genrec: cold-start e-commerce recommendation with a fine-tuned LLM and catalog-constrained decoding.

    import genrec
    recs = genrec.recommend({"age": 34, "interests": ["running"]}, k=5, max_price=100)
"""

from __future__ import annotations

from .api import demo_catalog, recommend
from .base_model import BaseModelConfig
from .catalog import Catalog, Item
from .contract import Filters, Recommendation
from .decoding import SearchConfig
from .errors import CatalogError, GenrecError, ModelError, ProfileError
from .item_ids import CodeConfig
from .profile import RecentItem, UserProfile
from .recommender import Recommender, RecommenderConfig

__all__ = [
           "BaseModelConfig",
           "Catalog",
           "CatalogError",
           "CodeConfig",
           "Filters",
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
