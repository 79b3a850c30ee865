"""The fitted shop: one folder a shop's recommender loads, with a typed manifest checked in one place.

A shop folder holds `shop.json` (the manifest: the search weights chosen for each request type, the held-out
metrics that chose them, what was fitted on what), `shop_prior.npz` (the signals, genrec.ranking.signals) and, when
an adapter was trained, the peft files with `genrec_adapter.json` beside them. `genrec fit` writes one,
`genrec train` ends by writing one, and `Recommender(catalog, adapter=FOLDER)` uses it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..data.cases import LONG, TEXT
from ..data.catalog import Catalog
from ..errors import ModelError
from ..files import atomic_folder
from .prior import PriorWeights
from .signals import Signals, load_signals, save_signals

MANIFEST = "shop.json"
FORMAT_VERSION = 1
DEFAULT = "default"  # the weights of request types the held-out users did not cover well enough


@dataclass(frozen=True)
class TypeWeights:
    """The search weights of one request type: the model's log-probabilities and each prior part."""

    model: float = 0.0
    prior: PriorWeights = field(default_factory=PriorWeights)
    # Does the profile's occupation join its own words in the text and lexical parts? The fit keeps it only
    # where it helps on held-out users: an occupation word matches item text by accident more often than not.
    demographic_words: bool = True
    # Are the prior's parts weighed as z-scores over the request's allowed items (genrec.ranking.prior.standardised)
    # rather than in their own units? The fit chooses it per request type on held-out users.
    standardised: bool = False

    def __post_init__(self):
        if not self.model >= 0:
            raise ModelError(f"model weight must be >= 0, got {self.model!r}")
        for name in ("demographic_words", "standardised"):
            if not isinstance(getattr(self, name), bool):
                raise ModelError(f"{name} must be true or false, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class ShopManifest:
    weights: dict[str, TypeWeights]  # request type (genrec.data.cases.request_type) -> weights; DEFAULT is required
    held_out: dict[str, dict] = field(default_factory=dict)  # request type -> cases, NDCG@10 fitted and per part
    catalog_fingerprint: str = ""
    data: dict = field(default_factory=dict)  # what the fit saw: users, items, interactions, held-out users
    config: dict = field(default_factory=dict)  # the FitConfig it ran with
    fit_seconds: float = 0.0
    format_version: int = FORMAT_VERSION

    def __post_init__(self):
        if DEFAULT not in self.weights:
            raise ModelError(f"a shop manifest needs {DEFAULT!r} weights; it has {sorted(self.weights)}")

    def weights_for(self, rtype: str) -> TypeWeights:
        """The weights of `rtype`, else of the same request without demographics; with free text, else without
        the interests (the text's weights matter more), else without the text (shops fitted before free text had
        types of their own); a long history, else with 3 known items; else DEFAULT."""
        keys = [rtype, rtype.replace("+demographics", "")]
        if TEXT in rtype:
            keys += [k.replace("+interests", "") for k in keys]
            keys += [k.replace(TEXT, "") for k in keys]
        if rtype.startswith(LONG):  # shops fitted before long histories had a type of their own, or too few
            keys += ["k3" + k[len(LONG):] for k in keys]
        for key in keys:
            if key in self.weights:
                return self.weights[key]
        return self.weights[DEFAULT]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict, where: str = MANIFEST) -> ShopManifest:
        if not isinstance(d, dict):
            raise ModelError(f"{where}: expected a JSON object, got {type(d).__name__}")
        if d.get("format_version") != FORMAT_VERSION:
            raise ModelError(f"{where}: format version {d.get('format_version')!r}; this genrec reads "
                             f"{FORMAT_VERSION} (fit the shop again)")
        try:
            weights = {k: TypeWeights(float(v["model"]), PriorWeights(**v["prior"]),
                                      v.get("demographic_words", True), v.get("standardised", False))
                       for k, v in d["weights"].items()}
            return cls(weights, d.get("held_out", {}), d.get("catalog_fingerprint", ""), d.get("data", {}),
                       d.get("config", {}), float(d.get("fit_seconds", 0.0)))
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ModelError(f"{where}: malformed shop manifest ({e!r})") from None


@dataclass(frozen=True)
class Shop:
    manifest: ShopManifest
    signals: Signals


def save_shop(folder: str | Path, catalog: Catalog, shop: Shop, exist_ok: bool = False) -> Path:
    """Write `shop` into `folder`: a new folder atomically; into an existing one (an adapter being written)
    with `exist_ok`."""
    folder = Path(folder)

    def write(target: Path) -> None:
        save_signals(target, catalog, shop.signals)
        (target / MANIFEST).write_text(json.dumps(shop.manifest.to_dict(), indent=1))

    if exist_ok and folder.is_dir():
        write(folder)
    else:
        if folder.exists():
            raise ModelError(f"{folder} already exists; choose another --out or remove it")
        with atomic_folder(folder) as tmp:
            write(tmp)
    return folder


def load_shop(folder: str | Path, catalog: Catalog) -> Shop | None:
    """The shop fitted into `folder` over `catalog`, or None when the folder holds no manifest."""
    path = Path(folder) / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = ShopManifest.from_dict(json.loads(path.read_text(encoding="utf-8")), str(path))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"{path}: not valid JSON ({e})") from None
    signals = load_signals(folder, catalog)
    if signals is None:
        raise ModelError(f"{folder}: {MANIFEST} without its signals file shop_prior.npz")
    return Shop(manifest, signals)
