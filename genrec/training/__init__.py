"""Adapting genrec to a shop: LoRA training examples and fine-tuning, and the shop fit of every weight."""
