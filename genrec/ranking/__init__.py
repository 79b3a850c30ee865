"""From profile to ranked items: the recommender contract, the signals and their prior, the fitted shop, the
constrained search over item codes, explanations, and the Recommender that joins them."""
