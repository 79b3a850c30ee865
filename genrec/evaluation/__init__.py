"""Measuring: the cold-start protocols' runner and report, baselines, the LightFM peer, metrics."""
