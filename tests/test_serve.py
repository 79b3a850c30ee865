"""The service: live catalog changes, the journal, micro-batching, every endpoint and its 4xx answers, and a
journal that survives kill -9 of `genrec serve`."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import replace

import pytest

from genrec import Filters, Item, UserProfile
from genrec.errors import GenrecError
from genrec.ranking.diversity import NO_DIVERSITY

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from genrec.serving.app import ServeConfig, create_app  # noqa: E402
from genrec.serving.batcher import BatchConfig, Batcher, QueueFull  # noqa: E402
from genrec.serving.journal import Change, Journal  # noqa: E402
from genrec.serving.live import Conflict, LiveCatalog, UnknownItem  # noqa: E402

from .conftest import _prompt_files, make_tiny_model, make_tokenizer  # noqa: E402

NEW = Item(item_id="NEW-1", title="Zephyr trail running shoe", description="light trail running shoe",
           category=("Sports", "Running"), brand="Zephyr", price=89.0)


def ids(recs):
    return [r.item_id for r in recs]


def key(recs):
    return [(r.item_id, r.explanation) for r in recs]


def same(batched, alone) -> bool:
    """Same items, order and explanations; scores equal up to float32 sums over padded vs unpadded inputs."""
    return key(batched) == key(alone) and [r.score for r in batched] == pytest.approx([r.score for r in alone],
                                                                                     abs=1e-4)


# ---- Recommender.with_items ---------------------------------------------------------------------------------

def test_with_items_makes_a_new_item_recommendable_and_a_retired_one_never_returned(tiny_rec):
    profile = UserProfile(interests=("running",))
    top = ids(tiny_rec.recommend(profile, k=5, explain=False))
    grown = tiny_rec.with_items([NEW], retired={top[0]})
    assert NEW.item_id in grown.catalog and NEW.item_id not in tiny_rec.catalog  # the old one is unchanged
    assert ids(grown.recommend(profile, k=1, explain=False, candidates=[NEW.item_id])) == [NEW.item_id]
    again = ids(grown.recommend(profile, k=len(grown.catalog), explain=False, diversity=NO_DIVERSITY))
    assert top[0] not in again and NEW.item_id in again and len(again) == len(grown.catalog) - 1
    assert grown.recommend(profile, k=3, explain=False, candidates=[top[0]]) == []
    # A retired item stays a valid recent item (a user may have bought it last week).
    assert grown.recommend(replace(profile, recent_items=(top[0],)), k=3, explain=False)
    assert ids(tiny_rec.recommend(profile, k=5, explain=False)) == top
    with pytest.raises(GenrecError, match="not in the catalog"):
        tiny_rec.with_items(retired={"NO-SUCH-ITEM"})


# ---- the journal --------------------------------------------------------------------------------------------

def test_journal_replays_changes_cuts_a_torn_last_line_and_names_a_damaged_one(tmp_path):
    path = tmp_path / "j.jsonl"
    j = Journal(path, "fp")
    assert j.replay() == []
    with j.locked():
        j.record(Change(added=(NEW,)))
        j.record(Change(retired=("A",)))
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"op": "change", "added": [{"item_')  # kill -9 in the middle of a write
    assert Journal(path, "fp").replay() == [Change(added=(NEW,)), Change(retired=("A",))]
    assert path.read_bytes() == whole  # the torn line is cut, the file ends with a whole line again
    with pytest.raises(GenrecError, match="another catalog"):
        Journal(path, "other").replay()
    lines = whole.decode().splitlines()
    path.write_text("\n".join([lines[0], '{"op": "change", "added": 5}', lines[2]]) + "\n")
    with pytest.raises(GenrecError, match=r"j.jsonl:2: damaged journal line"):
        Journal(path, "fp").replay()


def test_live_catalog_survives_a_restart_and_processes_sharing_a_journal_agree(tiny_rec, tmp_path):
    path = tmp_path / "j.jsonl"
    a = LiveCatalog(tiny_rec, Journal(path, tiny_rec.catalog.fingerprint()))
    b = LiveCatalog(tiny_rec, Journal(path, tiny_rec.catalog.fingerprint()))  # a second worker
    old = tiny_rec.catalog[0].item_id
    assert a.add([NEW]) == {"added": ["NEW-1"], "restored": [], "unchanged": []}
    assert a.add([NEW])["unchanged"] == ["NEW-1"]  # a retried request changes nothing
    assert NEW.item_id in b.snapshot().catalog  # picked up before b's next request
    with pytest.raises(Conflict, match="other fields"):
        b.add([replace(NEW, price=1.0)])
    assert b.retire([old]) == {"retired": [old], "already_retired": []}
    with pytest.raises(UnknownItem):
        a.retire(["NO-SUCH-ITEM"])
    assert old in a.snapshot().retired
    restarted = LiveCatalog(tiny_rec, Journal(path, tiny_rec.catalog.fingerprint()))
    assert restarted.current.retired == {old} and NEW.item_id in restarted.current.catalog
    assert restarted.add([tiny_rec.catalog[0]])["restored"] == [old]  # the same item again: back on sale
    assert old not in a.snapshot().retired
    again = LiveCatalog(tiny_rec, Journal(path, tiny_rec.catalog.fingerprint()))
    assert again.stats()["version"] == 3  # add, retire, restore


# ---- micro-batching -----------------------------------------------------------------------------------------

def test_batched_answers_equal_each_request_alone(tiny_rec, demo):
    item_ids = [it.item_id for it in demo]
    profiles = [UserProfile(age=20 + n, interests=(["running", "coffee", "camping"][n % 3],),
                            recent_items=tuple(item_ids[7 * n + j] for j in range(n % 3))) for n in range(12)]
    filters = [Filters(max_price=60.0) if n % 4 == 0 else Filters() for n in range(12)]
    ks = [3 + n % 4 for n in range(12)]
    sizes = []
    batcher = Batcher(lambda: tiny_rec, BatchConfig(max_batch=8, max_wait_ms=300), sizes.append)
    jobs = [batcher.submit(p, k, f, explain=n % 2 == 0) for n, (p, k, f) in enumerate(zip(profiles, ks, filters))]
    got = [j.explained.result(60) for j in jobs]
    batcher.close()
    assert max(sizes) > 1 and sum(sizes) == 12 and max(sizes) <= 8
    for n, (p, k, f) in enumerate(zip(profiles, ks, filters)):
        assert same(got[n], tiny_rec.recommend(p, k=k, explain=n % 2 == 0, filters=f)), n


class Slow:
    """A Recommender whose searches wait for `gate` (or fail): to fill the queue and reach timeouts."""

    def __init__(self, rec, gate: threading.Event, fail: Exception | None = None):
        self._rec, self.gate, self.fail = rec, gate, fail

    def __getattr__(self, name):
        return getattr(self._rec, name)

    def recommend_batch(self, *a, **kw):
        self.gate.wait(30)
        if self.fail is not None:
            raise self.fail
        return self._rec.recommend_batch(*a, **kw)


def test_a_full_queue_refuses_and_close_answers_what_was_queued(tiny_rec):
    gate = threading.Event()
    batcher = Batcher(lambda: Slow(tiny_rec, gate), BatchConfig(max_batch=1, max_wait_ms=0, max_queue=2))
    first = batcher.submit(UserProfile(), 2, Filters(), False)
    deadline = time.time() + 10
    while batcher.depth() and time.time() < deadline:  # the worker took the first one and waits on the gate
        time.sleep(0.01)
    queued = [batcher.submit(UserProfile(), 2, Filters(), False) for _ in range(2)]
    with pytest.raises(QueueFull):
        batcher.submit(UserProfile(), 2, Filters(), False)
    gate.set()
    batcher.close()
    assert all(len(j.ranked.result(0)) == 2 for j in [first, *queued])
    with pytest.raises(QueueFull, match="shutting down"):
        batcher.submit(UserProfile(), 2, Filters(), False)


# ---- the HTTP API -------------------------------------------------------------------------------------------

@pytest.fixture()
def client(tiny_rec, tmp_path):
    with TestClient(create_app(ServeConfig(journal=str(tmp_path / "j.jsonl")), tiny_rec)) as c:
        yield c


def test_recommend_endpoints_answer_what_the_python_api_does(client, tiny_rec):
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json()["ready"] is True
    profile = {"age": 30, "interests": ["running"], "budget": 80}
    body = client.post("/recommend", json={"profile": profile, "k": 4, "filters": {"category": "Running"}}).json()
    want = tiny_rec.recommend(profile, k=4, category="Running")
    assert len(want) == 4
    assert [(r["item_id"], r["explanation"]) for r in body["items"]] == [(r.item_id, r.explanation) for r in want]
    stream = client.post("/recommend", json={"profile": profile, "k": 4, "filters": {"category": "Running"},
                                             "stream": True})
    assert stream.headers["content-type"].startswith("application/x-ndjson")
    ranked, explained = (json.loads(line) for line in stream.text.splitlines())
    assert ranked["stage"] == "ranked" and ids_of(ranked) == ids(want) and ranked["items"][0]["explanation"] is None
    assert explained["stage"] == "explained" and explained["items"] == body["items"]
    batch = client.post("/recommend/batch", json={"requests": [{"profile": profile, "k": 4},
                                                               {"k": 2, "explain": False}]}).json()
    first, second = batch["results"]
    assert [(r["item_id"], r["explanation"]) for r in first["items"]] == [
        (r.item_id, r.explanation) for r in tiny_rec.recommend(profile, k=4)]
    assert ids_of(second) == ids(tiny_rec.recommend({}, k=2)) and second["items"][0]["explanation"] is None
    assert "/recommend" in client.get("/openapi.json").json()["paths"]


def ids_of(answer):
    return [r["item_id"] for r in answer["items"]]


def test_items_added_and_retired_while_serving(client):
    assert client.post("/items", json={"items": [json_item(NEW)]}).json()["added"] == ["NEW-1"]
    only_new = {"profile": {"interests": ["running"]}, "k": 3, "filters": {"candidates": ["NEW-1"]}}
    assert ids_of(client.post("/recommend", json=only_new).json()) == ["NEW-1"]
    assert client.get("/items/NEW-1").json()["retired"] is False
    assert client.delete("/items/NEW-1").json()["retired"] == ["NEW-1"]
    assert client.post("/recommend", json=only_new).json()["items"] == []
    assert client.get("/items/NEW-1").json()["retired"] is True
    everything = client.post("/recommend", json={"k": 2000, "diversity": {"one_per_family": False}}).json()["items"]
    assert "NEW-1" not in ids_of({"items": everything})
    assert client.post("/items", json={"items": [{**json_item(NEW), "price": 1}]}).status_code == 409
    assert client.delete("/items/NO-SUCH").status_code == 404
    assert client.get("/items/NO-SUCH").status_code == 404


def json_item(item: Item) -> dict:
    from genrec.data.catalog import item_to_dict

    return item_to_dict(item)


@pytest.mark.parametrize("body,field", [
    ({"profile": {"age": "old"}}, "profile"),
    ({"profile": {"recent_items": ["NO-SUCH"]}}, "profile"),
    ({"k": 0}, "k"),
    ({"k": True}, "k"),
    ({"k": "5"}, "k"),
    ({"filters": {"max_price": -1}}, "filters"),
    ({"filters": {"candidates": ["NO-SUCH"]}}, "filters"),
    ({"filters": {"colour": "red"}}, "filters"),
    ({"profile": [1, 2]}, "profile"),
    ({"unknown": 1}, "unknown"),
    ({"diversity": {"mmr": 2}}, "diversity"),
    ({"diversity": {"per_brand": 1}}, "diversity"),
])
def test_bad_requests_are_422_naming_the_field(client, body, field):
    r = client.post("/recommend", json=body)
    assert r.status_code == 422 and r.json()["field"] == field, r.json()
    assert "Traceback" not in r.text


def test_other_client_mistakes_are_4xx_json(client):
    assert client.post("/recommend", content=b'{"k": ', headers={"content-type": "application/json"}
                       ).status_code == 422
    big = client.post("/recommend", content=b" " * 1_000_001, headers={"content-type": "application/json"})
    assert big.status_code == 413 and "at most" in big.json()["error"]
    bad_item = client.post("/items", json={"items": [{"item_id": "X", "title": "t", "price": "lots"}]})
    assert bad_item.status_code == 422 and bad_item.json()["field"] == "items.0.price"
    many = client.post("/recommend/batch", json={"requests": [{}] * 257})
    assert many.status_code == 422 and many.json()["field"] == "requests"
    assert client.post("/recommend/batch", json={"requests": [{}, {"k": -1}]}).json()["field"] == "requests.1.k"
    assert client.post("/recommend/batch", json={"requests": [{"stream": True}]}).json()["field"] == "requests.0.stream"
    assert client.get("/nowhere").status_code == 404


def test_metrics_count_requests_batches_and_queue(client):
    client.post("/recommend", json={"k": 2})
    client.post("/recommend", json={"k": 0})
    text = client.get("/metrics").text
    assert 'genrec_requests_total{route="/recommend",status="200"} 1.0' in text
    assert 'genrec_requests_total{route="/recommend",status="422"} 1.0' in text
    assert "genrec_request_seconds_bucket" in text and "genrec_batch_size_count 1.0" in text
    assert "genrec_queue_depth 0.0" in text and "genrec_catalog_items" in text


def test_busy_slow_and_broken_answers_are_503_504_and_500_without_traceback(tiny_rec, tmp_path, caplog):
    gate = threading.Event()
    cfg = ServeConfig(journal="none", timeout_s=0.5, batch=BatchConfig(max_batch=1, max_wait_ms=0, max_queue=1))
    with TestClient(create_app(cfg, Slow(tiny_rec, gate))) as c:
        answers = []
        threads = [threading.Thread(target=lambda: answers.append(c.post("/recommend", json={"k": 2})))
                   for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = sorted(a.status_code for a in answers)
        assert 503 in codes and 504 in codes, codes
        busy = next(a for a in answers if a.status_code == 503)
        assert busy.headers["retry-after"] == "1"
        gate.set()
    caplog.set_level(logging.ERROR)
    with TestClient(create_app(ServeConfig(journal="none"), Slow(tiny_rec, gate, RuntimeError("boom"))),
                    raise_server_exceptions=False) as c:
        r = c.post("/recommend", json={"k": 2, "profile": {"free_text": "zebraquokka"}})
    assert r.status_code == 500 and "Traceback" not in r.text and "boom" not in r.text
    assert "zebraquokka" not in caplog.text


def test_workers_build_the_app_from_the_config_in_the_environment(tmp_path, monkeypatch):
    from dataclasses import asdict

    from genrec.serving.app import from_env

    cfg = ServeConfig(catalog=str(tmp_path / "c.jsonl"), timeout_s=5, batch=BatchConfig(max_batch=4))
    monkeypatch.setenv("GENREC_SERVE", json.dumps({**asdict(cfg), "batch": asdict(cfg.batch)}))
    assert from_env().state.service.config == cfg


def test_ready_is_503_until_loaded_and_says_why_loading_failed(tmp_path):
    with TestClient(create_app(ServeConfig(catalog=str(tmp_path / "missing.jsonl")))) as c:
        assert c.get("/health").status_code == 200
        deadline = time.time() + 30
        while "loading" in c.get("/ready").text and time.time() < deadline:
            time.sleep(0.05)
        r = c.get("/ready")
        assert r.status_code == 503 and "failed to load" in r.json()["error"] and "missing.jsonl" in r.json()["error"]
        assert c.post("/recommend", json={}).status_code == 503


# ---- kill -9 of `genrec serve` ------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _call(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _serve(args: list[str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "genrec.apps.cli", "serve", "--port", str(port), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while time.time() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        try:
            if _call(port, "GET", "/ready")[0] == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise AssertionError("genrec serve did not become ready")


def test_kill_9_of_the_server_keeps_every_answered_change(demo, tmp_path, monkeypatch):
    catalog = tmp_path / "shop.jsonl"
    catalog.write_text("".join(json.dumps(json_item(it)) + "\n" for it in list(demo)[:40]))
    # A tiny base model folder with enough reserved tokens for the default item codes.
    corpus = [it.text(10_000) for it in demo] + [p.read_text() for p in _prompt_files()]
    tok = make_tokenizer(corpus, n_reserved=800)
    make_tiny_model(len(tok)).save_pretrained(tmp_path / "base")
    tok.save_pretrained(tmp_path / "base")
    journal = tmp_path / "shop.journal.jsonl"
    args = ["--catalog", str(catalog), "--base-model", str(tmp_path / "base"), "--adapter", "none",
            "--journal", str(journal)]
    monkeypatch.setenv("GENREC_CACHE", str(tmp_path / "cache"))
    port = _free_port()
    proc = _serve(args, port)
    try:
        gone = demo[0].item_id
        assert _call(port, "POST", "/items", {"items": [json_item(NEW)]})[0] == 200
        assert _call(port, "DELETE", f"/items/{gone}")[0] == 200
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    with open(journal, "ab") as f:  # and a write the kill cut in half
        f.write(b'{"op": "change", "retired": ["P')
    port = _free_port()
    proc = _serve(args + ["--max-wait-ms", "1500"], port)  # each request waits 1.5 s for company
    try:
        assert _call(port, "GET", "/items/NEW-1") == (200, {**json_item(NEW), "retired": False})
        assert _call(port, "GET", f"/items/{gone}")[1]["retired"] is True
        answers = []
        every = {"k": 100, "diversity": {"one_per_family": False}}
        asking = threading.Thread(target=lambda: answers.append(_call(port, "POST", "/recommend", every)))
        asking.start()
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)  # graceful: the request waiting in the batcher is still answered
        asking.join(60)
        status, body = answers[0]
        assert status == 200 and gone not in ids_of(body) and "NEW-1" in ids_of(body) and len(body["items"]) == 40
        assert proc.wait(60) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down
    finally:
        if proc.poll() is None:
            proc.kill()


# ---- bulk scoring -------------------------------------------------------------------------------------------

def test_bulk_scoring_a_parquet_file_block_by_block_equals_recommend(tiny_rec, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from genrec.serving.bulk import score_parquet

    rows = [{"user_id": f"u{n}", "age": 20 + n, "interests": [["running"], ["coffee"], []][n % 3],
             "recent_items": [tiny_rec.catalog[n].item_id] if n % 2 else []} for n in range(7)]
    rows[3]["age"] = 300  # one bad profile: reported in its row, the others still scored
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "profiles.parquet")
    assert score_parquet(tiny_rec, tmp_path / "profiles.parquet", tmp_path / "out.parquet", k=3, block_rows=2,
                         progress=False) == 7
    out = pq.read_table(tmp_path / "out.parquet").to_pylist()
    for row in rows:
        got = [r for r in out if r["user_id"] == row["user_id"]]
        if row["user_id"] == "u3":
            assert len(got) == 1 and "age" in got[0]["error"] and got[0]["item_id"] is None
            continue
        profile = {k: v for k, v in row.items() if k != "user_id"}
        want = tiny_rec.recommend(profile, k=3, explain=False)
        assert [r["item_id"] for r in got] == ids(want) and [r["rank"] for r in got] == [1, 2, 3]
    assert not list(tmp_path.glob(".*partial"))
    with pytest.raises(GenrecError, match="not a readable Parquet"):
        (tmp_path / "bad.parquet").write_text("nope")
        score_parquet(tiny_rec, tmp_path / "bad.parquet", tmp_path / "o.parquet", progress=False)
