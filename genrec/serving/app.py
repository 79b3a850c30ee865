"""The HTTP service (`genrec serve`): FastAPI over a live catalog and a micro-batcher.

Errors a client causes are 4xx JSON bodies {"error", "field"} with the Python API's messages; nothing a client
sends reaches a log line (uvicorn's access log holds the method, path and status only).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..data.catalog import item_from_dict, item_to_dict
from ..data.filters import Filters
from ..errors import GenrecError
from ..ranking.contract import Recommendation, as_profile, check_request
from ..ranking.diversity import Diversity
from ..ranking.recommender import Recommender
from .batcher import BatchConfig, Batcher, QueueFull
from .journal import Journal
from .live import Conflict, LiveCatalog, UnknownItem
from .metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeConfig:
    catalog: str | None = None  # catalog file; None: the demo shop (its catalog, adapter and logs)
    adapter: str | None = None  # adapter or fitted shop folder; "none": zero-shot
    logs: str | None = None  # the shop's interactions file (popularity and collaborative parts)
    base_model: str | None = None
    quantization: str = "none"
    journal: str | None = None  # None: beside the catalog (demo: ~/.cache/genrec); "none": changes not kept
    batch: BatchConfig = field(default_factory=BatchConfig)
    timeout_s: float = 30.0  # per request, queueing included: past it, 504
    max_body_bytes: int = 1_000_000
    max_batch_requests: int = 256  # profiles per POST /recommend/batch

    def __post_init__(self):
        if self.quantization not in ("none", "nf4"):
            raise GenrecError(f"quantization must be 'none' or 'nf4', got {self.quantization!r}")
        if not self.timeout_s > 0 or self.max_body_bytes < 1 or self.max_batch_requests < 1:
            raise GenrecError("timeout_s, max_body_bytes and max_batch_requests must be positive")

    def journal_path(self) -> Path | None:
        if self.journal == "none":
            return None
        if self.journal:
            return Path(self.journal)
        if self.catalog:
            return Path(f"{self.catalog}.journal.jsonl")
        return Path.home() / ".cache" / "genrec" / "demo.journal.jsonl"


def load_recommender(config: ServeConfig) -> Recommender:
    from .. import api

    if config.logs is None:
        return api.get_recommender(config.catalog, config.adapter, config.base_model, config.quantization)
    from ..data.catalog import Catalog
    from ..data.dataset import load_interactions
    from ..model.base_model import BaseModelConfig
    from ..ranking.recommender import RecommenderConfig

    catalog = Catalog.load(config.catalog) if config.catalog else api.demo_catalog()
    adapter = None if config.adapter in (None, "none") else config.adapter
    cfg = RecommenderConfig(base=BaseModelConfig(path=config.base_model, quantization=config.quantization))
    return Recommender(catalog, adapter=adapter, config=cfg, logs=load_interactions(Path(config.logs), catalog))


# ---- request bodies (the OpenAPI page documents them) -------------------------------------------------------

class RecommendBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: dict[str, Any] = Field(default_factory=dict, description="user profile, as genrec.UserProfile "
                                    "(age, gender, location, occupation, interests, free_text, budget, "
                                    "recent_items, excluded_brands); {} is a pure cold start")
    k: StrictInt = Field(10, description="items to return")
    filters: dict[str, Any] | None = Field(None, description="categories/category, min_price, max_price, exclude, "
                                           "candidates, exclude_recent")
    explain: StrictBool = True
    stream: StrictBool = Field(False, description="NDJSON: the ranking first, then the same list explained")
    diversity: dict[str, Any] | None = Field(None, description="one_per_family (default true: one card per "
                                             "variant family), mmr (0..1, default 0), pool (default 3)")


class BatchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    requests: list[RecommendBody] = Field(description="each as for /recommend (without stream)")


class ItemsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[dict[str, Any]] = Field(description="catalog rows, as in a catalog file (item_id, title, ...)")


class FieldError(GenrecError):
    def __init__(self, message: str, field: str | None):
        super().__init__(message)
        self.field = field


def _at(field_name: str, fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except GenrecError as e:
        raise FieldError(str(e), getattr(e, "field", None) and f"{field_name}.{e.field}" or field_name) from None


def _diversity(d: dict) -> Diversity:
    unknown = sorted(set(d) - set(Diversity.__dataclass_fields__))
    if unknown:
        raise GenrecError(f"unknown diversity option(s) {unknown}; known: {sorted(Diversity.__dataclass_fields__)}")
    return Diversity(**d)


def _items(recs: list[Recommendation]) -> list[dict]:
    return [asdict(r) for r in recs]


def _error(status: int, message: str, field_name: str | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "field": field_name}, status_code=status, headers=headers)


class _TooLarge(HTTPException):
    pass


class BodyLimit:
    """ASGI middleware: a body past `limit` bytes is a 413, whether or not the client sent its length."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await _error(413, f"the body has {int(length)} bytes; at most {self.limit}")(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge(413, f"the body is over {self.limit} bytes")
            return message

        await self.app(scope, limited, send)


class Service:
    """What the endpoints share: the live catalog, the batcher, the metrics; loaded in the background."""

    def __init__(self, config: ServeConfig, recommender: Recommender | None = None):
        self.config = config
        self.metrics = Metrics()
        self.live: LiveCatalog | None = None
        self.batcher: Batcher | None = None
        self.load_error: str | None = None
        self._given = recommender

    def start(self) -> None:
        if self._given is not None:
            self._load()
        else:
            threading.Thread(target=self._load, name="genrec-load", daemon=True).start()

    def _load(self) -> None:
        try:
            rec = self._given or load_recommender(self.config)
            path = self.config.journal_path()
            live = LiveCatalog(rec, Journal(path, rec.catalog.fingerprint()) if path else None)
            self.batcher = Batcher(live.snapshot, self.config.batch, self.metrics.batch_size.observe)
            self.metrics.watch(self.batcher, live)
            self.live = live
            log.info("genrec serve: ready, %s", live.stats())
        except Exception as e:  # noqa: BLE001 - shown by /ready; the process stays up to say why
            self.load_error = str(e) if isinstance(e, GenrecError) else f"{type(e).__name__}: {e}"
            log.exception("genrec serve: loading failed")

    def stop(self) -> None:
        if self.batcher is not None:
            self.batcher.close()

    def ready(self) -> LiveCatalog:
        if self.live is None:
            msg = f"the model failed to load: {self.load_error}" if self.load_error else "the model is loading"
            raise HTTPException(503, msg, headers={"Retry-After": "5"})
        return self.live

    def parse(self, body: RecommendBody, where: str = ""):
        catalog_rec = self.ready().snapshot()
        profile = _at(f"{where}profile", as_profile, body.profile)
        filters = _at(f"{where}filters", Filters.from_kwargs, **(body.filters or {}))
        _at(f"{where}k", check_request, {}, body.k, catalog_rec.catalog)
        _at(f"{where}profile", check_request, profile, 1, catalog_rec.catalog)  # recent items must exist
        _at(f"{where}filters", catalog_rec.mask.check, filters)  # the batcher builds the mask itself
        diversity = None if body.diversity is None else _at(f"{where}diversity", _diversity, body.diversity)
        return profile, filters, diversity

    async def answer(self, job, explained: bool, deadline: float) -> list[Recommendation]:
        fut = job.explained if explained else job.ranked
        try:
            return await asyncio.wait_for(asyncio.wrap_future(fut), max(deadline - time.monotonic(), 0.001))
        except asyncio.TimeoutError:
            job.ranked.cancel()
            raise HTTPException(504, f"no answer within {self.config.timeout_s} s") from None


def create_app(config: ServeConfig = ServeConfig(), recommender: Recommender | None = None) -> FastAPI:
    """The app; `recommender` skips loading (tests, or a caller that built its own)."""
    svc = Service(config, recommender)

    async def lifespan(app):
        svc.start()
        yield
        await run_in_threadpool(svc.stop)  # answers what is queued before the process ends

    app = FastAPI(title="genrec", version="0.1.0", lifespan=lifespan,
                  description="Cold-start recommendations from a fine-tuned language model over a live catalog.")
    app.state.service = svc
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)

    @app.middleware("http")
    async def count(request: Request, call_next):
        t0 = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        svc.metrics.request(getattr(route, "path", "other"), response.status_code, time.perf_counter() - t0)
        return response

    @app.exception_handler(FieldError)
    async def field_error(request, e: FieldError):
        return _error(422, str(e), e.field)

    @app.exception_handler(GenrecError)
    async def genrec_error(request, e: GenrecError):
        status = 404 if isinstance(e, UnknownItem) else 409 if isinstance(e, Conflict) else 422
        return _error(status, str(e), getattr(e, "field", None))

    @app.exception_handler(QueueFull)
    async def queue_full(request, e: QueueFull):
        return _error(503, f"busy: {e}; retry shortly", headers={"Retry-After": "1"})

    @app.exception_handler(StarletteHTTPException)  # FastAPI's HTTPException and the router's 404/405
    async def http_error(request, e: StarletteHTTPException):
        return _error(e.status_code, str(e.detail), headers=getattr(e, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request, e: RequestValidationError):
        first = e.errors()[0] if e.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p != "body"]
        return _error(422, f"{first.get('msg', 'invalid request')}" + (f" ({'.'.join(loc)})" if loc else ""),
                      ".".join(loc) or None)

    @app.exception_handler(Exception)
    async def internal(request, e: Exception):  # logged here with its traceback; the client gets none
        log.error("genrec serve: internal error on %s (%s)", request.url.path, type(e).__name__, exc_info=e)
        return _error(500, "internal error; the server log has the details")

    @app.get("/health", summary="the process is alive")
    async def health():
        return {"status": "ok"}

    @app.get("/ready", summary="the model is loaded and requests are served")
    async def ready():
        live = svc.ready()
        return {"ready": True, **live.stats()}

    @app.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics():
        return PlainTextResponse(svc.metrics.render(), media_type=svc.metrics.content_type)

    @app.post("/recommend", summary="ranked items, with explanations, for one new user")
    async def recommend(body: RecommendBody):
        profile, filters, diversity = svc.parse(body)
        deadline = time.monotonic() + config.timeout_s
        job = svc.batcher.submit(profile, body.k, filters, body.explain, diversity)
        if not body.stream:
            return {"items": _items(await svc.answer(job, True, deadline))}
        ranked = await svc.answer(job, False, deadline)  # errors before the stream starts are plain 4xx/5xx

        async def lines():
            yield json.dumps({"stage": "ranked", "items": _items(ranked)}) + "\n"
            if body.explain:
                try:
                    yield json.dumps({"stage": "explained", "items": _items(await svc.answer(job, True, deadline))}
                                     ) + "\n"
                except HTTPException as e:
                    yield json.dumps({"stage": "error", "error": str(e.detail)}) + "\n"

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    @app.post("/recommend/batch", summary="many users in one call (they share model forwards)")
    async def recommend_batch(body: BatchBody):
        if len(body.requests) > config.max_batch_requests:
            raise FieldError(f"{len(body.requests)} requests; at most {config.max_batch_requests} per call",
                             "requests")
        streamed = [i for i, r in enumerate(body.requests) if r.stream]
        if streamed:
            raise FieldError("a batch answers as one JSON object; stream single requests",
                             f"requests.{streamed[0]}.stream")
        parsed = [svc.parse(r, f"requests.{i}.") for i, r in enumerate(body.requests)]
        deadline = time.monotonic() + config.timeout_s
        jobs = [svc.batcher.submit(p, r.k, f, r.explain, d) for (p, f, d), r in zip(parsed, body.requests)]
        results = [await svc.answer(j, True, deadline) for j in jobs]
        return {"results": [{"items": _items(r)} for r in results]}

    @app.post("/items", summary="add catalog items while serving (recommendable on the next request)")
    async def add_items(body: ItemsBody):
        live = svc.ready()
        items = [_at(f"items.{i}", item_from_dict, row) for i, row in enumerate(body.items)]
        result = await run_in_threadpool(live.add, items)
        return {**result, "catalog": live.stats()}

    @app.delete("/items/{item_id}", summary="retire an item: never recommended again")
    async def retire_item(item_id: str):
        live = svc.ready()
        result = await run_in_threadpool(live.retire, [item_id])
        return {**result, "catalog": live.stats()}

    @app.get("/items/{item_id}", summary="one catalog item, and whether it is retired")
    async def get_item(item_id: str):
        rec = svc.ready().snapshot()
        if item_id not in rec.catalog:
            raise UnknownItem(f"no item {item_id!r} in the catalog")
        return {**item_to_dict(rec.catalog.get(item_id)), "retired": item_id in rec.retired}

    return app


def from_env() -> FastAPI:
    """App factory for `uvicorn --factory` / several workers: the config travels in GENREC_SERVE (JSON)."""
    raw = json.loads(os.environ.get("GENREC_SERVE", "{}"))
    batch = BatchConfig(**raw.pop("batch", {}))
    return create_app(ServeConfig(**raw, batch=batch))
