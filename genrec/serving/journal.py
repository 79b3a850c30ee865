"""The catalog journal: every live add or retire as one JSON line, fsynced before it is answered.

A restart replays the journal over the base catalog, so it serves what was served. Several processes may share
one journal (uvicorn workers, or replicas on one shared disk): writers take an exclusive file lock, catch up
with what others wrote, then append; readers pick up new whole lines before each request. A crash mid-write
leaves at most one torn last line: the next writer (holding the lock, so nobody else is writing) cuts it off
(that request was never answered); a damaged line anywhere else is an error naming it, never skipped.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..data.catalog import Item, item_from_dict, item_to_dict
from ..errors import GenrecError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    added: tuple[Item, ...] = ()
    retired: tuple[str, ...] = ()
    restored: tuple[str, ...] = ()  # retired IDs added again with the same fields

    def __bool__(self) -> bool:
        return bool(self.added or self.retired or self.restored)


class Journal:
    def __init__(self, path: str | Path, catalog_fingerprint: str):
        self.path = Path(path)
        self.fingerprint = catalog_fingerprint
        self.offset = 0  # bytes of the file already read
        self.lines = 0  # whole lines already read (for error messages)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive across processes while a writer catches up and appends (flock; released on close)."""
        if self.path.exists() and not self.path.is_file():
            raise GenrecError(f"{self.path}: the journal is not a regular file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def replay(self) -> list[Change]:
        """All changes recorded so far; starts a new journal (its header names the base catalog) if none."""
        with self.locked():
            if self.path.stat().st_size == 0:
                self._append({"op": "start", "catalog": self.fingerprint})
            return self.read_new(writer=True)

    def grown(self) -> bool:
        """Whether another process appended since the last read (one stat: cheap enough for every request)."""
        try:
            return self.path.stat().st_size != self.offset
        except OSError:
            return False

    def read_new(self, writer: bool) -> list[Change]:
        """The changes appended since the last read. A last line without its newline is being written by another
        process, or was torn by a crash: a `writer` (holding the lock) cuts it off, a reader leaves it for later."""
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        whole = data.rfind(b"\n") + 1
        if whole < len(data) and writer:
            log.warning("%s: dropping a torn last line (%d bytes) left by a crash mid-write", self.path,
                        len(data) - whole)
            with open(self.path, "r+b") as f:
                f.truncate(self.offset + whole)
                os.fsync(f.fileno())
        changes = []
        for line in data[:whole].decode("utf-8", "replace").splitlines():
            self.lines += 1
            change = self._parse(line, self.lines)
            if change is not None:
                changes.append(change)
        self.offset += whole
        return changes

    def _parse(self, line: str, n: int) -> Change | None:
        try:
            rec = json.loads(line)
            op = rec["op"]
            if n == 1:
                if op != "start" or rec.get("catalog") != self.fingerprint:
                    raise GenrecError(f"{self.path}: this journal belongs to another catalog (fingerprint "
                                      f"{rec.get('catalog')!r}, serving {self.fingerprint!r}); start a new journal "
                                      "or serve the catalog it was written for")
                return None
            if op != "change":
                raise ValueError(f"unknown op {op!r}")
            return Change(tuple(item_from_dict(d, str(self.path), n) for d in rec.get("added", [])),
                          tuple(map(str, rec.get("retired", []))), tuple(map(str, rec.get("restored", []))))
        except GenrecError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise GenrecError(f"{self.path}:{n}: damaged journal line ({type(e).__name__}: {e})") from None

    def record(self, change: Change) -> None:
        """Append one change (call inside `locked()`, after `read_new(writer=True)`)."""
        self._append({"op": "change", "added": [item_to_dict(it) for it in change.added],
                      "retired": list(change.retired), "restored": list(change.restored)})

    def _append(self, rec: dict) -> None:
        # One write of one line, then fsync: the line is either whole on disk or a torn tail the next writer cuts.
        line = (json.dumps(rec, ensure_ascii=False) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        if rec["op"] == "change":  # a header is read back by replay like any other line
            self.offset += len(line)
            self.lines += 1
