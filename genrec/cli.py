"""`genrec` command line: demo, recommend and check-catalog over the same typed functions as the API."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict, replace

from .errors import GenrecError

COMMANDS = {
    "demo": "recommend for the bundled sample profiles on the bundled demo catalog",
    "recommend": "recommend catalog items for one user profile (JSON text or file)",
    "check-catalog": "validate a catalog file and print a summary (errors name file, line and field)",
}


def _ids(text: str | None) -> list[str] | None:
    return None if text is None else [s.strip() for s in text.split(",") if s.strip()]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="genrec", description="Cold-start recommendation with a fine-tuned LLM.")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress (never profile fields)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sp, with_profile: bool):
        sp.add_argument("--catalog", help="catalog file (.jsonl/.csv/.parquet); default: the demo catalog")
        sp.add_argument("--adapter", help="adapter folder; default: the bundled demo adapter if any, else none")
        sp.add_argument("--base-model", help="a .gguf file or local HF model folder; default: packaged Gemma 3 270M")
        sp.add_argument("--quantization", choices=["none", "nf4"], default="none", help="load the base in 4-bit")
        sp.add_argument("-k", type=int, default=10 if with_profile else 5, help="items per profile")
        sp.add_argument("--no-explain", action="store_true", help="skip explanations (faster)")
        sp.add_argument("--json", action="store_true", help="print JSON lines instead of a table")

    d = sub.add_parser("demo", help=COMMANDS["demo"], description=COMMANDS["demo"])
    common(d, with_profile=False)
    r = sub.add_parser("recommend", help=COMMANDS["recommend"], description=COMMANDS["recommend"])
    r.add_argument("--profile", required=True, help='JSON object or path to a .json file, e.g. \'{"age": 30}\'')
    common(r, with_profile=True)
    r.add_argument("--category", action="append", help="only items in this category (repeatable)")
    r.add_argument("--min-price", type=float)
    r.add_argument("--max-price", type=float)
    r.add_argument("--exclude", help="comma-separated item IDs to leave out (e.g. already bought)")
    r.add_argument("--candidates", help="comma-separated item IDs: rank only these")
    c = sub.add_parser("check-catalog", help=COMMANDS["check-catalog"], description=COMMANDS["check-catalog"])
    c.add_argument("path")
    return p


def _print(profile_label: str, recs, as_json: bool) -> None:
    if as_json:
        for rec in recs:
            print(json.dumps({"profile": profile_label, **asdict(rec)}, ensure_ascii=False))
        return
    print(f"\n== {profile_label}")
    if not recs:
        print("   (no items pass the filters)")
    for rec in recs:
        price = f"${rec.price:.2f}" if rec.price is not None else "-"
        print(f"{rec.rank:>3}. [{rec.item_id}] {rec.title}  {price}  (score {rec.score:.2f})")
        if rec.explanation:
            print(f"     why: {rec.explanation}")


def run(args: argparse.Namespace) -> int:
    from . import api
    from .catalog import Catalog
    from .profile import UserProfile

    if args.command == "check-catalog":
        cat = Catalog.load(args.path)
        priced = sum(it.price is not None for it in cat)
        print(f"{args.path}: {len(cat)} items, {len(cat.categories())} categories, {priced} priced, "
              f"fingerprint {cat.fingerprint()}")
        return 0
    if args.k < 1:
        raise GenrecError(f"-k must be >= 1, got {args.k}")
    common = {"catalog": args.catalog, "adapter": args.adapter, "base_model": args.base_model,
              "quantization": args.quantization}
    if args.command == "demo":
        rec = api.get_recommender(**common)
        lines = (api.DEMO_DIR / "profiles.jsonl").read_text().splitlines()
        for line in lines:
            profile = UserProfile.from_json(line)
            # The samples name demo items; with another catalog keep only the recent items it has.
            kept = tuple(r for r in profile.recent_items if r.item_id in rec.catalog)
            profile = replace(profile, recent_items=kept)
            label = ", ".join(f"{k}={v}" for k, v in profile.to_dict().items()) or "empty profile"
            _print(label, rec.recommend(profile, k=args.k, explain=not args.no_explain), args.json)
        return 0
    profile = UserProfile.from_json(args.profile)
    recs = api.recommend(profile, k=args.k, explain=not args.no_explain, categories=args.category,
                         min_price=args.min_price, max_price=args.max_price, exclude=_ids(args.exclude),
                         candidates=_ids(args.candidates), **common)
    _print("recommendations", recs, args.json)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="genrec: %(message)s")
    try:
        return run(args)
    except GenrecError as e:  # a user mistake: one clear line, no traceback
        print(f"genrec: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("genrec: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
