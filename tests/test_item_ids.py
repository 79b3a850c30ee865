import numpy as np
import pytest

from genrec.errors import GenrecError
from genrec.model.item_ids import END, CodeConfig, ItemCodes, reserved_token_ids


def clustered(n_clusters=5, per=30, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, dim)) * 5
    x = np.concatenate([c + rng.normal(size=(per, dim)) * 0.3 for c in centres])
    return [f"i{j}" for j in range(len(x))], x.astype(np.float32), np.repeat(np.arange(n_clusters), per)


def test_codes_are_unique_and_follow_clusters():
    ids, x, labels = clustered()
    codes = ItemCodes.build(ids, x, CodeConfig(branching=8))
    assert len(set(codes.codes.values())) == len(ids)
    # no first code level mixes two true clusters (k-means may split one cluster into several)
    owner = {}
    for j, item in enumerate(ids):
        assert owner.setdefault(codes.codes[item][0], labels[j]) == labels[j]
    s = codes.stats()
    assert s["duplicate_codes"] == 0 and s["items"] == 150


def test_identical_items_get_distinct_codes_by_leaf_numbering():
    x = np.ones((100, 4), dtype=np.float32)
    codes = ItemCodes.build([str(i) for i in range(100)], x, CodeConfig(branching=4, max_depth=6))
    assert len(set(codes.codes.values())) == 100
    s = codes.stats()  # k-means cannot split them: even chunks, then numbering inside each leaf
    assert s["max_leaf_size"] <= 4 and s["items_numbered_in_shared_leaf"] >= 50 and s["duplicate_codes"] == 0


def test_new_item_lands_next_to_similar_items_and_old_codes_stay():
    ids, x, labels = clustered()
    codes = ItemCodes.build(ids, x, CodeConfig(branching=8))
    before = dict(codes.codes)
    new = x[labels == 3].mean(0)
    code = codes.add("new", new)
    assert code[0] in {codes.codes[ids[j]][0] for j in np.nonzero(labels == 3)[0]}
    assert {k: v for k, v in codes.codes.items() if k != "new"} == before
    assert len(set(codes.codes.values())) == len(codes.codes)


def test_full_leaf_extends_the_nearest_siblings_code():
    x = np.eye(4, dtype=np.float32)
    codes = ItemCodes.build(list("abcd"), x, CodeConfig(branching=4, max_depth=4))
    assert all(len(c) == 1 for c in codes.codes.values())
    code = codes.add("near-c", x[2] + 0.01)
    assert code == codes.codes["c"] + (0,)  # a code that extends another: the END token keeps both valid
    toks = codes.token_indices("near-c")
    assert toks[-1] == END and toks[:-1] == [1 + 0 * 4 + code[0], 1 + 1 * 4 + 0]


def test_save_load_roundtrip(tmp_path):
    ids, x, _ = clustered(per=10)
    codes = ItemCodes.build(ids, x, CodeConfig(branching=4))
    codes.save(tmp_path)
    back = ItemCodes.load(tmp_path)
    assert back.codes == codes.codes and back.config == codes.config
    assert back.add("z", x[0]) == codes.add("z", x[0])


def test_config_and_input_checks(tokenizer):
    with pytest.raises(GenrecError):
        CodeConfig(branching=1)
    with pytest.raises(GenrecError, match="unique"):
        ItemCodes.build(["a", "a"], np.zeros((2, 2)))
    with pytest.raises(GenrecError, match="reserved tokens"):
        reserved_token_ids(tokenizer, 10_000)
    ids = reserved_token_ids(tokenizer, 5)
    assert tokenizer.convert_ids_to_tokens(ids) == [f"<unused{i}>" for i in range(5)]
