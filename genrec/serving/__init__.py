"""Real-time serving: a live catalog with a journal, micro-batching, and the HTTP app (`genrec serve`)."""
