"""Recommender: base model + optional adapter + catalog index -> ranked, explained, catalog-valid items."""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..data.cases import request_type
from ..data.catalog import Catalog, Item
from ..data.dataset import Dataset
from ..data.profile import UserProfile
from ..errors import GenrecError, ModelError
from ..files import atomic_folder
from ..model import adapters
from ..model.base_model import BaseModelConfig, cache_root, load_base_model
from ..model.embed import Encoder, default_encoder, encode_catalog
from ..model.item_ids import END, CodeConfig, ItemCodes, reserved_token_ids
from ..model.prompts import PromptShape, template_version
from ..model.text_ids import encode, tokenizer_fingerprint
from .contract import (
    CatalogMask,
    Filters,
    Recommendation,
    check_request,
    resolve_filters,
    to_recommendations,
)
from .diversity import Diversity, family_ids, mmr
from .explain import explain_items
from .lm_scorer import ModelScorer, tree_edge_logits
from .prior import ItemPrior, PriorWeights
from .search import SearchConfig, beam_search_batch
from .shop import Shop, TypeWeights, load_shop
from .signals import Signals, fit_signals, load_signals
from .trie import CodeTrie

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecommenderConfig:
    """Everything a Recommender needs besides the catalog and adapter."""

    base: BaseModelConfig = field(default_factory=BaseModelConfig)
    codes: CodeConfig = field(default_factory=CodeConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    # How prompts show a profile. None: the shape the adapter was trained with (PromptShape.of_adapter), else the
    # PromptShape defaults; an adapter sees the prompts it learned on.
    prompt: PromptShape | None = None
    explain_max_new_tokens: int = 32
    # Let the model phrase explanations? None: only with an adapter, and only on a GPU: zero-shot sentences from
    # the base model fail the grounding check, and an adapter's pass but cost seconds per request on a CPU, where
    # the grounded facts take milliseconds (README "Explanations", benchmarks/results/latency.md).
    explain_with_model: bool | None = None
    prior: PriorWeights = field(default_factory=PriorWeights)  # weights of the prior's parts (genrec.ranking.prior)
    # Requests that allow only new items (no allowed item has a user in the shop's logs: a "new arrivals" shelf)
    # rank with these instead: popularity and item-kNN are blank for such items and the adapter never had them
    # as targets. Like `prior`, these serve only an unfitted Recommender; a fitted shop has "new-items" weights.
    new_items_prior: PriorWeights = field(
        default_factory=lambda: PriorWeights(text=10.0, lexical=10.0, popularity=0.0, collab=0.0))
    new_items_model_weight: float = 0.0
    # Items without users in the logs borrow popularity and collab from this many text-nearest old items, so they
    # can rank among old ones (genrec.ranking.prior.ItemPrior); 0 turns it off.
    new_item_neighbours: int = 5
    # A varied list by default: one card per variant family (its variants listed on it); MMR off unless asked.
    diversity: Diversity = field(default_factory=Diversity)
    cache_index: bool = True  # keep the catalog's codes on disk (keyed by catalog fingerprint)
    batch_size: int = 16  # users per search in rank_batch (bulk scoring and evaluation)

    def __post_init__(self):
        if self.explain_max_new_tokens < 0:
            raise GenrecError(f"explain_max_new_tokens must be >= 0, got {self.explain_max_new_tokens!r}")
        for name in ("new_items_model_weight", "new_item_neighbours"):
            if getattr(self, name) < 0:
                raise GenrecError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.batch_size < 1:
            raise GenrecError(f"batch_size must be >= 1, got {self.batch_size!r}")
        if not isinstance(self.diversity, Diversity):
            raise GenrecError(f"diversity must be a genrec.Diversity, got {type(self.diversity).__name__}")


def _signals_of_logs(catalog: Catalog, logs: Mapping[str, Sequence[str]], config: RecommenderConfig,
                     users: Mapping[str, Mapping] | None = None) -> Signals:
    """An unfitted Recommender's signals from the shop's logs: popularity, and the item-kNN and category parts
    (and the demographic lift, given `users`) when the collaborative prior is on."""
    if not config.prior.collab:
        return Signals(dict(Dataset(catalog, dict(logs)).popularity()), None, None)
    return fit_signals(catalog, logs, users or {}, collab=None, progress=False)


class Recommender:
    """Holds the model, adapter and catalog index; `recommend()` answers one profile at a time."""

    def __init__(self, catalog: Catalog, adapter: str | Path | None = None,
                 config: RecommenderConfig = RecommenderConfig(), model=None, tokenizer=None,
                 encoder: Encoder | None = None, popularity: Mapping[str, int] | None = None,
                 logs: Mapping[str, Sequence[str]] | None = None, shop: Shop | None = None):
        """`popularity` (item ID -> purchases or users) adds a popularity prior, as in D3: what a new user
        with an empty profile gets. `logs` (user ID -> items taken, the shop's interaction log) gives both
        that popularity (unless passed) and item-kNN similarity for the collaborative prior
        (`config.prior.collab`), which ranks for users with a few known items, and its category-item
        similarity, which does the same for stated interests. Without either, an adapter's
        own copy of its training logs' prior (shop_prior.npz) is used.

        `shop` (genrec.training.fit / `genrec fit`), or a shop folder given as `adapter` (with or without LoRA files):
        the signals fitted on the shop's logs and the search weights chosen for each request type on its
        held-out users; they replace `config.prior`, `config.new_items_prior` and the model weights."""
        self.catalog, self.config = catalog, config
        if shop is None and adapter is not None and logs is None and popularity is None:
            shop = load_shop(adapter, catalog)
        self.shop = shop
        signals = shop.signals if shop is not None else None
        if signals is None and logs is not None:
            signals = _signals_of_logs(catalog, logs, config)
        if signals is None and adapter is not None and popularity is None:  # the logs the adapter was trained on
            signals = load_signals(adapter, catalog)
        if signals is None:
            signals = Signals(dict(popularity) if popularity else {}, None, None)
        if adapter is not None and not adapters.has_lora(adapter):
            if shop is None:
                raise ModelError(f"{adapter} is not an adapter folder (no adapter_config.json) and not a fitted "
                                 "shop (no shop.json)")
            adapter = None  # a fitted shop without LoRA weights: zero-shot model, fitted weights
        self.encoder = encoder or default_encoder()
        if model is None:
            model, tokenizer = load_base_model(config.base)
        elif tokenizer is None:
            raise GenrecError("pass the tokenizer together with the model")
        self.tokenizer = tokenizer
        self.adapter_meta: dict = {}
        codes = None
        if adapter is not None:
            self.adapter_meta = adapters.read_metadata(adapter)
            adapters.check_compatible(self.adapter_meta, base_model_id(model), template_version("recommend"),
                                      tokenizer_fingerprint(tokenizer))
            if (Path(adapter) / "codes.json").exists():
                try:
                    codes = ItemCodes.load(adapter)
                except (OSError, ValueError, KeyError, TypeError) as e:  # adapters without recorded checksums
                    raise ModelError(f"{adapter}: unreadable item codes ({type(e).__name__}: {e})") from None
                trained_with = self.adapter_meta.get("encoder")
                if trained_with and trained_with != self.encoder.name:
                    raise ModelError(f"adapter codes were built with encoder {trained_with!r}, "
                                     f"not {self.encoder.name!r}")
                known = sum(it.item_id in codes.codes for it in catalog)
                if known < len(catalog) / 2:
                    raise ModelError(f"this adapter was trained on another catalog: only {known} of {len(catalog)} "
                                     "items have codes in it (new items may be a minority; retrain for this catalog)")
            model = adapters.attach(model, adapter)
            if config.base.quantization == "none":
                # LoRA and the trained code rows folded into plain weights: faster, and the search can read
                # the output rows it needs directly.
                model = model.merge_and_unload()
        self.model = model
        self.prompt_shape = config.prompt or PromptShape.of_adapter(self.adapter_meta)
        mw = config.search.model_weight
        self.model_weight = (1.0 if adapter is not None else 0.0) if mw is None else mw
        ewm = config.explain_with_model
        on_gpu = any(p.device.type == "cuda" for p in model.parameters())
        self.explain_with_model = (adapter is not None and on_gpu) if ewm is None else ewm
        n_reserved = (codes.config if codes is not None else config.codes).reserved_needed()
        self.reserved = np.asarray(reserved_token_ids(tokenizer, n_reserved), dtype=np.int64)
        self.new_items_prior = config.new_items_prior
        self.new_items_model_weight = config.new_items_model_weight if self.model_weight else 0.0
        self.signals = signals
        self._bind(catalog, self._index(codes), frozenset())

    def _bind(self, catalog: Catalog, codes: ItemCodes, retired: frozenset[str]) -> None:
        """Everything that depends on the catalog: codes, token sequences, prior, filter masks, trie."""
        config, shop = self.config, self.shop
        self.catalog, self.codes, self.retired = catalog, codes, retired
        self.sequences = [self.reserved[codes.token_indices(it.item_id)].tolist() for it in catalog]
        item_emb = codes.embeddings[[codes.row(it.item_id) for it in catalog]].astype(np.float32)
        lexical = config.prior.lexical or config.new_items_prior.lexical or (
            shop is not None and any(w.prior.lexical for w in shop.manifest.weights.values()))
        self.prior = ItemPrior(catalog, item_emb, self.encoder, config.prior, lexical_index=bool(lexical),
                               new_item_neighbours=config.new_item_neighbours, **self.signals.prior_kwargs())
        self.mask = CatalogMask(catalog, retired)
        self._full_trie: CodeTrie | None = None
        self._families: np.ndarray | None = None
        self._members: dict[int, np.ndarray] = {}

    @property
    def families(self) -> np.ndarray:
        """Variant family per catalog position (built on first use: one title pass over the catalog)."""
        if self._families is None:
            fams = family_ids(self.catalog)
            order = np.argsort(fams, kind="stable")
            cuts = np.flatnonzero(np.diff(fams[order])) + 1
            self._members = {int(fams[g[0]]): g for g in np.split(order, cuts) if len(g) > 1}
            self._families = fams
        return self._families

    def with_items(self, added: Sequence[Item] = (), retired: Iterable[str] | None = None) -> Recommender:
        """A Recommender over this catalog plus `added` (appended; each coded by its text next to similar items,
        as an adapter places items it never saw) with `retired` (the whole set; None keeps this one's) never
        recommended. Retired items stay readable as a profile's recent items. Shares the model, adapter and
        fitted signals (new items borrow popularity from their text neighbours); this Recommender is left as it
        was, so requests in flight finish on it (the service swaps one for the other, genrec.serving.live)."""
        catalog = Catalog(list(self.catalog) + list(added), source=self.catalog.source) if added else self.catalog
        retired = self.retired if retired is None else frozenset(retired)
        unknown = sorted(i for i in retired if i not in catalog)
        if unknown:
            raise GenrecError(f"cannot retire {len(unknown)} item ID(s) not in the catalog, e.g. {unknown[:3]}")
        out = copy.copy(self)
        codes = self.codes.copy() if added else self.codes
        if added:
            vecs = self.encoder.encode([it.text() for it in added])
            for it, v in zip(added, vecs):
                codes.add(it.item_id, v)
            out.signals = self.signals.grown(len(catalog))
        out._bind(catalog, codes, retired)
        return out

    def use_shop(self, shop: Shop) -> None:
        """Serve with a fitted shop's signals and per-request-type weights from now on."""
        self.shop = shop
        self.use_signals(shop.signals)

    def use_signals(self, signals: Signals) -> None:
        """Serve with these signals (genrec.ranking.signals) from now on."""
        self.signals = signals
        self._bind(self.catalog, self.codes, self.retired)

    def use_logs(self, logs: Mapping[str, Sequence[str]], users: Mapping[str, Mapping] | None = None) -> None:
        """Serve with the signals of these logs (user -> items) and users (user -> fields) from now on, as the
        constructor's `logs` gives them (no learned model: that is the fit's)."""
        self.use_signals(_signals_of_logs(self.catalog, logs, self.config, users))

    def _index(self, codes: ItemCodes | None) -> ItemCodes:
        """Item codes for this catalog: from the adapter (new items placed by text) or built and cached."""
        if codes is not None:
            missing = [it for it in self.catalog if it.item_id not in codes.codes]
            if missing:
                vecs = self.encoder.encode([it.text() for it in missing])
                for it, v in zip(missing, vecs):
                    codes.add(it.item_id, v)
            return codes
        cfg = self.config.codes
        key = f"{self.catalog.fingerprint()}-{self.encoder.name}-b{cfg.branching}-s{cfg.seed}-d{cfg.max_depth}"
        folder = cache_root() / "index" / key
        if self.config.cache_index and (folder / "codes.json").exists():
            return ItemCodes.load(folder)
        t = time.perf_counter()
        vecs = encode_catalog(self.catalog, self.encoder)
        codes = ItemCodes.build([it.item_id for it in self.catalog], vecs, cfg)
        log.info("built item codes for %d items in %.1fs: %s", len(self.catalog), time.perf_counter() - t,
                 codes.stats())
        if self.config.cache_index:
            with atomic_folder(folder, done_marker="codes.json") as tmp:
                codes.save(tmp)
        return codes

    # ---- the request path ---------------------------------------------------------------------
    @property
    def trie(self) -> CodeTrie:
        """The catalog's one trie; filtered requests mask it (CodeTrie.subtree_allowed) instead of rebuilding."""
        if self._full_trie is None:
            self._full_trie = CodeTrie(self.sequences, list(range(len(self.catalog))), int(self.reserved[END]))
        return self._full_trie

    def prompt(self, profile: UserProfile) -> tuple[str, list[Item]]:
        recent = [self.catalog.get(r.item_id) for r in profile.recent_items]
        return self.prompt_shape.recommend(profile, recent), recent

    def weights_for(self, profile: UserProfile, new_items_only: bool) -> TypeWeights:
        """The weights of this request: a fitted shop's weights for its request type
        (genrec.data.cases.request_type), else the config's (`new_items_*` for requests allowing only new items)."""
        if self.shop is not None:
            w = self.shop.manifest.weights_for(request_type(profile, new_items_only))
            return w if self.model_weight else replace(w, model=0.0)
        if new_items_only:
            return TypeWeights(self.new_items_model_weight, self.new_items_prior)
        return TypeWeights(self.model_weight, self.config.prior)

    def _logprior(self, profile: UserProfile, recent: list[Item], w: TypeWeights,
                  allowed: np.ndarray | None = None) -> np.ndarray | None:
        over = None
        if w.standardised:
            over = allowed if allowed is not None else np.ones(len(self.catalog), dtype=bool)
        return self.prior.logprior(profile, recent, w.prior, w.demographic_words, over)

    def item_logprior(self, profile: UserProfile, recent: list[Item], new_items_only: bool = False,
                      allowed: np.ndarray | None = None) -> np.ndarray | None:
        """log-distribution over items of the weighted prior parts (genrec.ranking.prior) for this request's weights;
        None if none applies. This is how a cold profile with no adapter still gets fitting items. `allowed`: the
        request's allowed items (those a standardised type's parts are z-scored over; default every item)."""
        return self._logprior(profile, recent, self.weights_for(profile, new_items_only), allowed)

    def recommend(self, profile: UserProfile | dict | str, k: int = 10, explain: bool = True,
                  filters: Filters | None = None, diversity: Diversity | None = None,
                  **filter_kwargs) -> list[Recommendation]:
        """Top-k catalog items for `profile`, best first. Fewer than k come back when the filters allow
        fewer items (none when they allow none). By default one item per variant family (`diversity`, else
        `config.diversity`). Writes nothing to disk and logs no profile field."""
        return self.recommend_batch([profile], k, explain, [resolve_filters(filters, filter_kwargs)], diversity)[0]

    def recommend_batch(self, profiles: list, k: int | Sequence[int] = 10, explain: bool = False,
                        filters: list[Filters | None] | None = None, diversity: Diversity | None = None
                        ) -> list[list[Recommendation]]:
        """recommend() for many users at once: one model forward per search step serves all of them (the
        way to score users in bulk on a GPU). Each user's list is what recommend() alone returns. `k`: one for
        all, or one per profile. `diversity`: this call's, instead of `config.diversity`."""
        div = self.config.diversity if diversity is None else diversity
        if not isinstance(div, Diversity):
            raise GenrecError(f"diversity must be a genrec.Diversity, got {type(div).__name__}")
        filters = filters or [None] * len(profiles)
        ks = list(k) if isinstance(k, (list, tuple)) else [k] * len(profiles)  # each checked by check_request
        if len(filters) != len(profiles) or len(ks) != len(profiles):
            raise GenrecError(f"{len(profiles)} profiles but {len(filters)} filters and {len(ks)} k values")
        profiles = [check_request(p, n, self.catalog) for p, n in zip(profiles, ks)]
        filters = [f if f is not None else Filters() for f in filters]
        allowed = [self.mask.allowed(f, p) for f, p in zip(filters, profiles)]
        masks = [None if a.all() else a for a in allowed]  # None: nothing filtered out, no mask to apply
        prompts, recents, priors, weights = [], [], [], []
        for p, a in zip(profiles, allowed):
            text, recent = self.prompt(p)
            prompts.append(encode(self.tokenizer, text))
            recents.append(recent)
            w = self.weights_for(p, self.prior.new_items_only(a))
            priors.append(self._logprior(p, recent, w, a))
            weights.append(w.model)
        scorer = ModelScorer(self.model, prompts, self.tokenizer.pad_token_id or 0) if any(weights) else None
        fams = self.families if div.one_per_family else None
        search_ks = [n * div.pool for n in ks] if div.mmr else ks
        hits = beam_search_batch(scorer, self.trie, search_ks, self.config.search, priors, weights, masks, fams)
        for _ in range(4) if fams is not None else ():  # each round adds at least one family or ends
            hits, grew = self._refill(hits, search_ks, allowed, prompts, priors, weights)
            if not grew:
                break
        if div.mmr:
            hits = [mmr(h, self.prior.item_emb, n, div.mmr) for h, n in zip(hits, ks)]
        if div.cover_interests:
            hits = [self._cover(p, h, a, prompt, prior, w, fams)
                    for p, h, a, prompt, prior, w in zip(profiles, hits, allowed, prompts, priors, weights)]
        out = []
        for p, h, recent, a in zip(profiles, hits, recents, allowed):
            recs = to_recommendations(self.catalog, h)
            if fams is not None:
                recs = [replace(r, variants=self._variants(self.catalog.index[r.item_id], a)) for r in recs]
            out.append(self._explain(p, recs, recent) if explain else recs)
        return out

    def _cover(self, profile: UserProfile, hits, allowed, prompt, prior, weight, fams):
        """Make room in the list for each stated interest it lacks: that interest's best allowed item (a search
        over those items alone) replaces the lowest-ranked item no other interest needs."""
        interests = list(dict.fromkeys(i for i in profile.interests if i.strip()))
        if len(interests) < 2 or len(hits) < 2:
            return hits
        hits = list(hits)
        pos = [i for i, _ in hits]
        covers = {it: self.mask.about(it) for it in interests}
        for it in interests:
            if any(covers[it][i] for i in pos):
                continue
            want = allowed & covers[it] & ~np.isin(np.arange(len(self.catalog)), pos)
            if fams is not None:
                want &= ~np.isin(fams, fams[pos])
            if not want.any():
                continue
            scorer = ModelScorer(self.model, [prompt], self.tokenizer.pad_token_id or 0) if weight else None
            best = beam_search_batch(scorer, self.trie, [1], self.config.search, [prior], [weight], [want])[0]
            if not best:
                continue
            needed = {j for j, i in enumerate(pos) for other in interests if other != it and covers[other][i]
                      and sum(covers[other][x] for x in pos) == 1}
            drop = next((j for j in reversed(range(len(pos))) if j not in needed), None)
            if drop is None or drop == 0:
                continue
            floor = min(sc for _, sc in hits)
            del hits[drop], pos[drop]
            hits.append((best[0][0], min(best[0][1], floor)))
            pos.append(best[0][0])
        return hits

    def _refill(self, hits, ks, allowed, prompts, priors, weights):
        """One more search for users whose beams ran into variants of families already listed (the beam is
        finite): over the families not yet listed, appended below. Rare, so it costs nothing usually. Returns the
        lists and whether any grew."""
        short = []
        for u, (h, n, a) in enumerate(zip(hits, ks, allowed)):
            if len(h) < n:
                rest = a & ~np.isin(self.families, self.families[[i for i, _ in h]])
                if rest.any():
                    short.append((u, rest))
        if not short:
            return hits, False
        scorer = ModelScorer(self.model, [prompts[u] for u, _ in short], self.tokenizer.pad_token_id or 0) \
            if any(weights[u] for u, _ in short) else None
        more = beam_search_batch(scorer, self.trie, [ks[u] - len(hits[u]) for u, _ in short], self.config.search,
                                 [priors[u] for u, _ in short], [weights[u] for u, _ in short],
                                 [rest for _, rest in short], self.families)
        hits = list(hits)
        for (u, _), extra in zip(short, more):
            floor = min((sc for _, sc in hits[u]), default=0.0)
            # below every first-round item: scores under another mask are not on the same scale
            hits[u] = hits[u] + [(i, min(sc, floor)) for i, sc in extra]
        return hits, any(more)

    def _variants(self, pos: int, allowed: np.ndarray, most: int = 20) -> tuple[str, ...]:
        """The other allowed items of the family of catalog position `pos`."""
        same = self._members.get(int(self.families[pos]), ())
        return tuple(self.catalog[int(i)].item_id for i in same if i != pos and allowed[i])[:most]

    def recommend_stream(self, profile: UserProfile | dict | str, k: int = 10, explain: bool = True,
                         filters: Filters | None = None, diversity: Diversity | None = None,
                         **filter_kwargs) -> Iterator[list[Recommendation]]:
        """recommend() for interactive callers, in two steps: the ranked list as soon as the search ends
        (explanations None), then the same list explained (explaining costs more than ranking when the model
        phrases it). With explain=False, only the first."""
        filters = resolve_filters(filters, filter_kwargs)
        profile = check_request(profile, k, self.catalog)
        ranked = self.recommend_batch([profile], k, False, [filters], diversity)[0]
        yield ranked
        if explain and ranked:
            yield self._explain(profile, ranked, [self.catalog.get(r.item_id) for r in profile.recent_items])

    def explain(self, profile: UserProfile, recs: list[Recommendation]) -> list[Recommendation]:
        """`recs` (a ranking for `profile`) with their explanations: the second step of recommend_stream."""
        return self._explain(profile, recs, [self.catalog.get(r.item_id) for r in profile.recent_items])

    def _explain(self, profile: UserProfile, recs: list[Recommendation], recent: list[Item]) -> list[Recommendation]:
        if not recs:
            return recs
        items = [self.catalog.get(r.item_id) for r in recs]
        max_new = self.config.explain_max_new_tokens if self.explain_with_model else 0
        expl = explain_items(self.model, self.tokenizer, profile, items, recent, max_new)
        return [replace(r, explanation=e.text, explanation_source=e.source) for r, e in zip(recs, expl)]

    def edge_logits(self, profiles: list[UserProfile]) -> np.ndarray:
        """The model's logit on every edge of the catalog trie, per profile: (profiles, trie nodes), float32.
        `self.trie.item_logprobs(row, allowed)` then gives every item's exact model log-probability under any
        filter, and prior weights can be tuned without running the model again (evaluation, small catalogs;
        costs about one 10-beam search per profile on a catalog of a few thousand items)."""
        if not profiles:
            return np.zeros((0, self.trie.n_nodes), dtype=np.float32)
        prompts = [encode(self.tokenizer, self.prompt(p)[0]) for p in profiles]
        return tree_edge_logits(self.model, prompts, self.trie, self.tokenizer.pad_token_id or 0,
                                self.config.batch_size)

    def rank_batch(self, profiles: list[UserProfile], filters: list[Filters], n: int) -> list[list[tuple[int, float]]]:
        """Top-n (catalog position, score) per profile, `batch_size` users per search (the evaluation's path)."""
        out = []
        step = self.config.batch_size
        for start in range(0, len(profiles), step):
            recs = self.recommend_batch(profiles[start:start + step], n, False, filters[start:start + step])
            out += [[(self.catalog.index[r.item_id], r.score) for r in lst] for lst in recs]
        return out


def base_model_id(model) -> str:
    """The name adapters record for their base: the checkpoint folder's name (it holds the GGUF hash)."""
    return Path(getattr(model.config, "_name_or_path", "") or "unknown").name
