"""Data in: the catalog, a new user's profile, a shop's logs (datasets, converters) and the cold-start cases
built from them."""
