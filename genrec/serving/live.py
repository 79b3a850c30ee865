"""The served Recommender, replaced whole on each catalog change: requests read one snapshot and never see a
half-applied change; the journal (genrec.serving.journal) makes every change survive a restart and reach every
process that serves from it."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext

from ..data.catalog import Item
from ..errors import GenrecError
from ..ranking.recommender import Recommender
from .journal import Change, Journal


class Conflict(GenrecError):
    """A change that contradicts the catalog: an ID already used for other fields (HTTP 409)."""


class UnknownItem(GenrecError):
    """An item ID the catalog never had (HTTP 404)."""


class LiveCatalog:
    def __init__(self, recommender: Recommender, journal: Journal | None = None):
        self._lock = threading.Lock()
        self.current = recommender
        self.journal = journal
        self.version = 0
        for change in journal.replay() if journal is not None else []:
            self.current = self._apply(self.current, change)
            self.version += 1

    def snapshot(self) -> Recommender:
        """The Recommender for the next request, with what other processes journalled since applied."""
        if self.journal is not None and self.journal.grown():
            with self._lock:
                for change in self.journal.read_new(writer=False):
                    self.current = self._apply(self.current, change)
                    self.version += 1
        return self.current

    @contextmanager
    def _writing(self) -> Iterator[Recommender]:
        """This process's lock, the journal's lock, and the catalog with every journalled change applied."""
        with self._lock, (self.journal.locked() if self.journal is not None else nullcontext()):
            if self.journal is not None:
                for change in self.journal.read_new(writer=True):
                    self.current = self._apply(self.current, change)
                    self.version += 1
            yield self.current

    def add(self, items: Sequence[Item]) -> dict:
        """Add `items` (a retired ID given again with the same fields comes back); idempotent for items already
        served as given, so a client may retry."""
        with self._writing() as rec:
            new, restored, same = [], [], []
            seen = set()
            for it in items:
                if it.item_id in seen:
                    raise Conflict(f"item {it.item_id!r} is given twice")
                seen.add(it.item_id)
                if it.item_id not in rec.catalog:
                    new.append(it)
                elif rec.catalog.get(it.item_id) != it:
                    raise Conflict(f"item {it.item_id!r} exists with other fields; give a changed item a new ID")
                elif it.item_id in rec.retired:
                    restored.append(it.item_id)
                else:
                    same.append(it.item_id)
            change = Change(tuple(new), (), tuple(restored))
            self._commit(change)
            return {"added": [it.item_id for it in new], "restored": restored, "unchanged": same}

    def retire(self, item_ids: Sequence[str]) -> dict:
        with self._writing() as rec:
            unknown = [i for i in item_ids if i not in rec.catalog]
            if unknown:
                raise UnknownItem(f"no item {unknown[0]!r} in the catalog")
            ids = list(dict.fromkeys(item_ids))
            fresh = [i for i in ids if i not in rec.retired]
            self._commit(Change((), tuple(fresh), ()))
            return {"retired": fresh, "already_retired": [i for i in ids if i not in fresh]}

    def _commit(self, change: Change) -> None:
        if not change:
            return
        # Build first (a change that cannot be applied is never journalled), then record, then swap.
        rec = self._apply(self.current, change)
        if self.journal is not None:
            self.journal.record(change)
        self.current = rec
        self.version += 1

    @staticmethod
    def _apply(rec: Recommender, change: Change) -> Recommender:
        retired = (rec.retired | set(change.retired)) - set(change.restored)
        return rec.with_items(change.added, retired)

    def stats(self) -> dict:
        rec = self.current
        return {"items": len(rec.catalog), "retired": len(rec.retired), "version": self.version}
