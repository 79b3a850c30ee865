"""The on-disk text vectors: what comes back is what was encoded, only unseen texts are encoded, writers do not
lose each other's vectors, and a cache that cannot be written only costs time."""

import logging

import numpy as np

from genrec.data.catalog import Catalog, Item
from genrec.model import embed, vector_cache
from genrec.model.vector_cache import VectorCache, text_key


class CountingEncoder:
    """Random vectors per call (so a vector served from the cache is told apart from a fresh one); counts texts."""

    name = "counting"

    def __init__(self, seed: int = 0, cache_key: str | None = None):
        self.rng = np.random.default_rng(seed)
        self.asked: list[str] = []
        if cache_key:
            self.cache_key = cache_key

    def encode(self, texts):
        self.asked += list(texts)
        return self.rng.normal(size=(len(texts), 8)).astype(np.float32)


def test_vectors_come_back_bit_for_bit_and_only_unseen_texts_are_encoded(tmp_path):
    enc = CountingEncoder()
    first = VectorCache(tmp_path).encode(["a", "b", "a"], enc.encode)
    assert enc.asked == ["a", "b", "a"]  # as given: the batches an encoder saw before there was a cache
    np.testing.assert_array_equal(first[0], first[2])  # but equal texts get equal vectors, as from the cache
    again = VectorCache(tmp_path).encode(["b", "c", "a"], enc.encode)  # a later process: same folder
    assert enc.asked == ["a", "b", "a", "c"]
    np.testing.assert_array_equal(again[0], first[1])
    np.testing.assert_array_equal(again[2], first[0])
    assert again.dtype == np.float32 and again.shape == (3, 8)


def test_every_key_is_found_again_also_those_ending_in_zero_bytes(tmp_path):
    texts = [f"item {n}" for n in range(1000)]
    assert any(text_key(t).endswith(b"\0") for t in texts)  # what a fixed-width bytes array would lose
    first = VectorCache(tmp_path).encode(texts, CountingEncoder().encode)
    enc = CountingEncoder(seed=1)
    np.testing.assert_array_equal(VectorCache(tmp_path).encode(texts, enc.encode), first)
    assert enc.asked == []


def test_two_writers_keep_each_others_vectors_and_merging_loses_none(tmp_path, monkeypatch):
    monkeypatch.setattr(vector_cache, "MAX_SEGMENTS", 3)
    one, two = VectorCache(tmp_path), VectorCache(tmp_path)
    written = {}
    for n in range(6):  # alternate writers, one text each: six segments, merged when a fourth is written
        text = f"text {n}"
        written[text] = (one if n % 2 else two).encode([text], CountingEncoder(seed=n).encode)[0]
    assert len(list(tmp_path.glob("seg-*.npz"))) <= 4
    enc = CountingEncoder()
    back = VectorCache(tmp_path).encode(list(written), enc.encode)
    assert enc.asked == []
    for row, vec in zip(back, written.values()):
        np.testing.assert_array_equal(row, vec)


def test_a_cache_that_cannot_be_written_warns_and_still_encodes(tmp_path, caplog):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    enc = CountingEncoder()
    with caplog.at_level(logging.WARNING, logger="genrec.model.vector_cache"):
        out = VectorCache(blocked / "vectors").encode(["a", "b"], enc.encode)
    assert out.shape == (2, 8) and enc.asked == ["a", "b"]
    assert "not written" in caplog.text


def test_catalog_vectors_are_kept_on_disk_only_for_encoders_that_name_what_they_depend_on(tmp_path, monkeypatch):
    monkeypatch.setenv("GENREC_CACHE", str(tmp_path))
    monkeypatch.setattr(embed, "_CATALOG_VECTORS", {})
    cat = Catalog([Item("x1", "Red mug"), Item("x2", "Blue pen")])
    stand_in = CountingEncoder()
    embed.encode_catalog(cat, stand_in)
    assert not (tmp_path / "vectors").exists()

    keyed = CountingEncoder(seed=1, cache_key="counting-v1")
    vecs = embed.encode_catalog(cat, keyed)
    monkeypatch.setattr(embed, "_CATALOG_VECTORS", {})  # as a new process
    later = CountingEncoder(seed=2, cache_key="counting-v1")
    np.testing.assert_array_equal(embed.encode_catalog(cat, later), vecs)
    assert later.asked == []
    other_version = CountingEncoder(seed=3, cache_key="counting-v2")
    embed.encode_catalog(cat, other_version)
    assert len(other_version.asked) == 2  # vectors of another model version are not reused


def test_a_write_that_fails_half_way_leaves_no_file_behind(tmp_path, monkeypatch):
    def full_disk(f, **arrays):
        f.write(b"half a segment")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(vector_cache.np, "savez", full_disk)
    out = VectorCache(tmp_path).encode(["a", "b"], CountingEncoder().encode)
    assert out.shape == (2, 8)
    assert list(tmp_path.iterdir()) == []
