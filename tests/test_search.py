import itertools
import random

import numpy as np
import pytest
import torch

from genrec.errors import GenrecError
from genrec.ranking.search import SearchConfig, beam_search_batch
from genrec.ranking.trie import CodeTrie

from .oracles import beam_search, edge_logits_batch

END = 99


def paths(trie: CodeTrie) -> dict[tuple, int]:
    found = {}

    def walk(node, path):
        if trie.node_item[node] >= 0:
            found[tuple(path)] = int(trie.node_item[node])
        for c in range(trie.child_start[node], trie.child_start[node + 1]):
            walk(c, path + [int(trie.node_token[c])])

    walk(0, [])
    return found


def test_codes_that_are_prefixes_of_others_stay_distinct_items():
    seqs = [[1, 2, END], [1, 2, 3, END], [1, 2, 3, 6, END], [1, 4, END], [5, END]]
    trie = CodeTrie(seqs, [10, 11, 12, 13, 14], END)
    assert paths(trie) == {(1, 2, END): 10, (1, 2, 3, END): 11, (1, 2, 3, 6, END): 12, (1, 4, END): 13,
                           (5, END): 14}
    assert trie.allowed_tokens([]) == [1, 5]
    assert trie.allowed_tokens([1, 2]) == [3, END]  # END ends item 10; 3 continues to items 11 and 12
    assert trie.allowed_tokens([1, 2, 3]) == [6, END]
    assert trie.allowed_tokens([7]) == [] and trie.allowed_tokens([5, END]) == []


def test_one_item_catalog():
    trie = CodeTrie([[3, 4, END]], [0], END)
    assert trie.n_nodes == 4 and paths(trie) == {(3, 4, END): 0}


@pytest.mark.parametrize("seqs, words", [([], "zero items"), ([[1, 2]], "end token"), ([[1, END, 2, END]], "once"),
                                         ([[1, END], [1, END]], "same code")])
def test_invalid_sequences_are_refused(seqs, words):
    with pytest.raises(GenrecError, match=words):
        CodeTrie(seqs, list(range(len(seqs))), END)


def test_random_tries_hold_exactly_their_sequences():
    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(1, 40)
        seqs = set()
        while len(seqs) < n:
            seqs.add(tuple(rng.randint(1, 6) for _ in range(rng.randint(1, 4))) + (END,))
        seqs = [list(s) for s in seqs]
        trie = CodeTrie(seqs, list(range(n)), END)
        assert paths(trie) == {tuple(s): i for i, s in enumerate(seqs)}
        assert trie.nbytes < 40 * sum(len(s) for s in seqs) + 64


class TableScorer:
    """Logits are a fixed function of (prefix, token): lets tests compute exact item scores."""

    def __init__(self, seed=0):
        self.rng_seed = seed
        self.prefixes = [()]

    def _logit(self, prefix, tok):
        return float(np.sin(hash((prefix, tok)) % 1000 + self.rng_seed) * 3)

    def start(self):
        self.prefixes = [()]
        return torch.zeros(1, 1)

    def advance(self, parents, tokens):
        self.prefixes = [self.prefixes[p] + (int(t),) for p, t in zip(parents.tolist(), tokens.tolist())]
        return torch.zeros(len(self.prefixes), 1)

    def logits(self, hidden, tokens):
        return torch.tensor([[self._logit(self.prefixes[r], int(t)) for t in row] for r, row in enumerate(tokens)])


class BatchTableScorer:
    """Several users at once: row r belongs to a user, whose TableScorer gives its logits."""

    def __init__(self, seeds):
        self.users = [TableScorer(s) for s in seeds]

    def start(self):
        self.rows = [(u, ()) for u in range(len(self.users))]
        return torch.zeros(len(self.rows), 1)

    def advance(self, parents, tokens):
        self.rows = [(self.rows[p][0], self.rows[p][1] + (int(t),)) for p, t in zip(parents.tolist(), tokens.tolist())]
        return torch.zeros(len(self.rows), 1)

    def logits(self, hidden, tokens):
        return torch.tensor([[self.users[u]._logit(prefix, int(t)) for t in row]
                             for (u, prefix), row in zip(self.rows, tokens)])


def exact_scores(trie: CodeTrie, scorer: TableScorer, logprior=None, prior_weight=1.0) -> dict[int, float]:
    mass = trie.subtree_logmass(logprior) if logprior is not None else None
    out = {}

    def walk(node, prefix, score):
        if trie.node_item[node] >= 0:
            out[int(trie.node_item[node])] = score
            return
        kids = list(range(trie.child_start[node], trie.child_start[node + 1]))
        logits = torch.tensor([scorer._logit(prefix, int(trie.node_token[c])) for c in kids], dtype=torch.float64)
        logp = torch.log_softmax(logits, 0).tolist()
        for c, lp in zip(kids, logp):
            step = lp + (prior_weight * (mass[c] - mass[node]) if mass is not None else 0.0)
            walk(c, prefix + (int(trie.node_token[c]),), score + step)

    walk(0, (), 0.0)
    return out


def random_trie(rng, n):
    seqs = set()
    while len(seqs) < n:
        seqs.add(tuple(rng.randint(1, 5) for _ in range(rng.randint(1, 3))) + (END,))
    return CodeTrie([list(s) for s in seqs], list(range(n)), END)


@pytest.mark.parametrize("with_prior", [False, True])
def test_wide_beam_search_returns_the_exact_top_k(with_prior):
    rng = random.Random(1)
    for trial in range(30):
        n = rng.randint(1, 40)
        trie, scorer = random_trie(rng, n), TableScorer(trial)
        prior = np.log(np.random.default_rng(trial).dirichlet(np.ones(n))) if with_prior else None
        exact = exact_scores(trie, scorer, prior)
        k = rng.randint(1, 12)
        got = beam_search(scorer, trie, k, SearchConfig(beam_width=64), item_logprior=prior)
        want = sorted(exact.items(), key=lambda kv: -kv[1])[:k]
        assert [i for i, _ in got] == [i for i, _ in want], trial
        assert np.allclose([s for _, s in got], [s for _, s in want])


def test_results_are_distinct_and_k_above_the_allowed_set_returns_all():
    rng = random.Random(2)
    trie = random_trie(rng, 7)
    got = beam_search(TableScorer(), trie, 50, SearchConfig(beam_width=3))
    assert sorted(i for i, _ in got) == list(range(7))
    narrow = beam_search(TableScorer(), random_trie(rng, 30), 10, SearchConfig(beam_width=1))
    assert len(narrow) == 10 and len({i for i, _ in narrow}) == 10  # the width is raised to k
    with pytest.raises(GenrecError, match="k must be"):
        beam_search(TableScorer(), trie, 0)


def test_prior_alone_ranks_items_by_prior():
    rng = random.Random(3)
    trie = random_trie(rng, 25)
    prior = np.log(np.random.default_rng(0).dirichlet(np.ones(25)))
    got = beam_search(TableScorer(), trie, 25, SearchConfig(), item_logprior=prior, model_weight=0.0)
    assert [i for i, _ in got] == list(np.argsort(-prior, kind="stable"))
    assert np.allclose([s for _, s in got], np.sort(prior)[::-1])


def test_a_batch_of_users_gets_what_each_would_get_alone():
    rng = random.Random(4)
    for trial in range(20):
        n = rng.randint(1, 40)
        trie = random_trie(rng, n)
        users = rng.randint(1, 6)
        seeds = [rng.randint(0, 99) for _ in range(users)]
        ks = [rng.randint(1, 12) for _ in range(users)]
        nrng = np.random.default_rng(trial)
        priors = [np.log(nrng.dirichlet(np.ones(n))) if rng.random() < 0.5 else None for _ in range(users)]
        masks = [nrng.random(n) < 0.6 if rng.random() < 0.5 else None for _ in range(users)]
        cfg = SearchConfig(beam_width=rng.choice([0, 2, 64]))
        weights = [rng.choice([0.0, 0.5, 1.0]) for _ in range(users)]  # one model weight per user
        got = beam_search_batch(BatchTableScorer(seeds), trie, ks, cfg, priors, weights, masks)
        for u in range(users):
            alone = beam_search(TableScorer(seeds[u]), trie, ks[u], cfg, priors[u], weights[u], masks[u])
            assert [i for i, _ in got[u]] == [i for i, _ in alone], (trial, u)
            assert np.allclose([s for _, s in got[u]], [s for _, s in alone])


@pytest.mark.parametrize("with_prior", [False, True])
def test_masking_the_trie_equals_searching_a_trie_of_the_allowed_items(with_prior):
    rng = random.Random(5)
    for trial in range(30):
        n = rng.randint(1, 40)
        trie = random_trie(rng, n)
        seqs = {i: list(p) for p, i in paths(trie).items()}
        allowed = np.random.default_rng(trial).random(n) < 0.5
        prior = np.log(np.random.default_rng(trial).dirichlet(np.ones(n))) if with_prior else None
        k = rng.randint(1, 12)
        got = beam_search(TableScorer(trial), trie, k, SearchConfig(beam_width=64), prior, allowed=allowed)
        if not allowed.any():
            assert got == []
            continue
        keep = np.nonzero(allowed)[0]
        sub = CodeTrie([seqs[i] for i in keep], keep.tolist(), END)
        sub_prior = None
        if with_prior:  # the prior renormalised over the allowed items, as the mask implies
            sub_prior = np.full(n, -np.inf)
            sub_prior[keep] = prior[keep] - np.logaddexp.reduce(prior[keep])
        want = beam_search(TableScorer(trial), sub, k, SearchConfig(beam_width=64), sub_prior)
        assert [i for i, _ in got] == [i for i, _ in want], trial
        assert {i for i, _ in got} <= set(keep.tolist()) and len(got) == min(k, len(keep))
        assert np.allclose([s for _, s in got], [s for _, s in want])


def test_subtree_logmass_sums_children():
    trie = CodeTrie([[1, END], [1, 2, END], [3, END]], [0, 1, 2], END)
    mass = np.exp(trie.subtree_logmass(np.log(np.array([0.2, 0.3, 0.5]))))
    assert mass[0] == pytest.approx(1.0)
    by_token = {int(trie.node_token[c]): mass[c] for c in range(trie.child_start[0], trie.child_start[1])}
    assert by_token == pytest.approx({1: 0.5, 3: 0.5})


def test_subtree_max_is_the_best_payload_below_each_node():
    trie = CodeTrie([[1, END], [1, 2, END], [3, END], [3, 4, 5, END]], [0, 1, 2, 3], END)
    best = trie.subtree_max(np.array([0.1, 0.7, -2.0, -5.0]))
    assert best[0] == pytest.approx(0.7)
    by_token = {int(trie.node_token[c]): best[c] for c in range(trie.child_start[0], trie.child_start[1])}
    assert by_token == pytest.approx({1: 0.7, 3: -2.0})
    assert np.isneginf(trie.subtree_max(np.full(4, -np.inf))).all()


def test_a_flat_prior_still_finds_its_best_item_in_a_small_subtree():
    """Forty middling items share one first token, the best item has a token of its own: summed mass would
    send a narrow beam into the big subtree; the best item below each prefix does not."""
    seqs = [[1, 10 + i, END] for i in range(40)] + [[2, END]]
    trie = CodeTrie(seqs, list(range(41)), END)
    logprior = np.log(np.r_[np.full(40, 0.02), 0.2])  # flat: the big subtree holds 0.8 of the mass
    logprior -= np.logaddexp.reduce(logprior)
    got = beam_search(None, trie, 1, SearchConfig(beam_width=1), logprior, model_weight=0.0)
    assert got[0][0] == 40
    assert got[0][1] == pytest.approx(logprior[40])  # still the item's log-probability


def test_search_config_is_checked():
    with pytest.raises(GenrecError):
        SearchConfig(beam_width=-1)
    with pytest.raises(GenrecError):
        SearchConfig(prior_weight=-1)


def test_all_permutations_of_a_small_code_space_build():
    seqs = [list(p) + [END] for p in itertools.product([1, 2, 3], repeat=2)]
    assert len(paths(CodeTrie(seqs, list(range(9)), END))) == 9


def test_exhaustive_edge_logits_give_every_items_search_score_under_any_mask():
    """edge_logits_batch + item_logprobs must equal the model part of a search score for every item, for
    several users at once, with and without a filter mask (the mask renormalises each step)."""
    rng = random.Random(6)
    for trial in range(30):
        n = rng.randint(1, 40)
        trie = random_trie(rng, n)
        seeds = [rng.randint(0, 99) for _ in range(rng.randint(1, 4))]
        edges = edge_logits_batch(BatchTableScorer(seeds), trie, len(seeds))
        assert edges.shape == (len(seeds), trie.n_nodes)
        for u, seed in enumerate(seeds):
            allowed = np.random.default_rng(trial + u).random(n) < 0.6 if u % 2 else None
            got = trie.item_logprobs(edges[u], allowed)
            want = beam_search(TableScorer(seed), trie, n, SearchConfig(beam_width=64), allowed=allowed)
            expect = np.full(n, -np.inf)
            for i, s in want:
                expect[i] = s
            assert np.allclose(got, expect), (trial, u)
            if allowed is None:
                assert np.isclose(np.logaddexp.reduce(got), 0.0)  # a distribution over the catalog


def test_exhaustive_scoring_skips_prefixes_with_a_single_item_below():
    trie = CodeTrie([[1, 2, END], [1, 3, 4, END], [5, 6, 7, END]], [0, 1, 2], END)
    scorer = TableScorer()
    seen = []
    advance = scorer.advance
    scorer.advance = lambda p, t: (seen.append(t.tolist()), advance(p, t))[1]
    edge_logits_batch(scorer, trie, 1)
    assert seen == [[1]]  # only prefix (1,) has a choice below it; (5,) leads to one item
