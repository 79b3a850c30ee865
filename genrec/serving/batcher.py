"""Micro-batching: concurrent requests wait at most `max_wait_ms` to share one Recommender.recommend_batch call
of at most `max_batch` users (one model forward per search step for all); each answer is what that request alone
gets. The queue is bounded: past it, `submit` raises QueueFull instead of growing a backlog."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field

from ..data.filters import Filters
from ..data.profile import UserProfile
from ..errors import GenrecError
from ..ranking.diversity import Diversity
from ..ranking.recommender import Recommender

log = logging.getLogger(__name__)


class QueueFull(Exception):
    """The service is at its queue limit (HTTP 503 with Retry-After)."""


@dataclass(frozen=True)
class BatchConfig:
    max_batch: int = 16
    max_wait_ms: float = 10.0
    max_queue: int = 256

    def __post_init__(self):
        if self.max_batch < 1 or self.max_queue < 1 or self.max_wait_ms < 0:
            raise GenrecError(f"max_batch and max_queue must be >= 1 and max_wait_ms >= 0, got {self}")


@dataclass
class Job:
    profile: UserProfile
    k: int
    filters: Filters
    explain: bool
    diversity: Diversity | None = None
    ranked: Future = field(default_factory=Future)  # the ranking, as soon as the search ends
    explained: Future = field(default_factory=Future)  # the same list explained (only when explain)


class Batcher:
    def __init__(self, current: Callable[[], Recommender], config: BatchConfig = BatchConfig(),
                 on_batch: Callable[[int], None] | None = None):
        """`current`: the Recommender to use for the next batch (a live catalog's snapshot)."""
        self.current, self.config, self.on_batch = current, config, on_batch
        self._q: queue.Queue[Job | None] = queue.Queue(config.max_queue)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="genrec-batcher", daemon=True)
        self._thread.start()

    def depth(self) -> int:
        return self._q.qsize()

    def submit(self, profile: UserProfile, k: int, filters: Filters, explain: bool,
               diversity: Diversity | None = None) -> Job:
        if self._closed:
            raise QueueFull("the service is shutting down")
        job = Job(profile, k, filters, explain, diversity)
        try:
            self._q.put_nowait(job)
        except queue.Full:
            raise QueueFull(f"{self.config.max_queue} requests are waiting") from None
        return job

    def close(self, timeout: float = 60.0) -> None:
        """Stop taking requests; those already queued are answered first."""
        self._closed = True
        try:
            self._q.put(None, timeout=timeout)
        except queue.Full:
            log.warning("genrec serve: the queue did not drain within %s s", timeout)
            return
        self._thread.join(timeout)

    def _take(self) -> list[Job] | None:
        first = self._q.get()
        if first is None:
            return None
        jobs = [first]
        deadline = time.monotonic() + self.config.max_wait_ms / 1000
        while len(jobs) < self.config.max_batch:
            left = deadline - time.monotonic()
            try:
                job = self._q.get(timeout=left) if left > 0 else self._q.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._q.put(None)  # answer what was taken, then stop
                break
            jobs.append(job)
        return jobs

    def _run(self) -> None:
        while (jobs := self._take()) is not None:
            jobs = [j for j in jobs if j.ranked.set_running_or_notify_cancel()]  # drop requests that timed out
            if not jobs:
                continue
            try:
                rec = self.current()
                for div in dict.fromkeys(j.diversity for j in jobs):  # one search per diversity setting
                    self._serve(rec, [j for j in jobs if j.diversity == div])
            except Exception as e:  # noqa: BLE001 - the worker must outlive any one batch
                log.error("genrec serve: batch failed (%s)", type(e).__name__, exc_info=e)
                for j in jobs:
                    _settle(j.ranked, error=e)
                    _settle(j.explained, error=e)

    def _serve(self, rec: Recommender, jobs: list[Job]) -> None:
        if self.on_batch is not None:
            self.on_batch(len(jobs))
        try:
            lists = rec.recommend_batch([j.profile for j in jobs], [j.k for j in jobs], False,
                                        [j.filters for j in jobs], jobs[0].diversity)
        except Exception:  # one bad request must not fail the others: answer each alone
            lists = []
            for j in jobs:
                try:
                    lists.append(rec.recommend_batch([j.profile], j.k, False, [j.filters], j.diversity)[0])
                except Exception as e:  # noqa: BLE001 - handed to that request's caller
                    lists.append(e)
        for j, res in zip(jobs, lists):
            if isinstance(res, Exception):
                _settle(j.ranked, error=res)
                _settle(j.explained, error=res)
                continue
            _settle(j.ranked, res)
            if j.explain and not j.explained.done():  # done: the caller gave up (timeout) while it was ranked
                try:
                    _settle(j.explained, rec.explain(j.profile, res))
                except Exception as e:  # noqa: BLE001
                    _settle(j.explained, error=e)
            else:
                _settle(j.explained, res)


def _settle(fut: Future, value=None, error: BaseException | None = None) -> None:
    """Set a result unless the caller already cancelled the future (a request that timed out)."""
    if fut.done():
        return
    try:
        if error is not None:
            fut.set_exception(error)
        else:
            fut.set_result(value)
    except InvalidStateError:  # cancelled between the check and the set
        pass
