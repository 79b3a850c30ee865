"""Profiles are personal data: none reaches a log line or a file. One Recommender serves many threads: each
answer equals the same request answered alone."""

import logging
from concurrent.futures import ThreadPoolExecutor

from genrec import UserProfile

from .conftest import make_recommender

SECRET_TEXT, SECRET_AGE = "zebraquokka marmalade 7731", 97


def test_no_profile_value_reaches_logs_or_files(demo, tiny_model, tokenizer, encoder, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("GENREC_CACHE", str(tmp_path / "cache"))
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict) + [""]:
        logging.getLogger(name).setLevel(logging.DEBUG)
    rec = make_recommender(demo, tiny_model, tokenizer, encoder, cache_index=True)
    profile = UserProfile(age=SECRET_AGE, free_text=SECRET_TEXT, location="Quokkaville")
    recs = rec.recommend(profile, k=5)
    assert recs
    logged = caplog.text + " ".join(repr(r.args) for r in caplog.records)
    for secret in (SECRET_TEXT, "Quokkaville", "zebraquokka"):
        assert secret not in logged
    assert str(SECRET_AGE) not in " ".join(r.getMessage() for r in caplog.records if "age" in r.getMessage())
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written  # the index cache was written, so there was something to search
    for p in written:
        data = p.read_bytes()
        assert b"zebraquokka" not in data and b"Quokkaville" not in data, p
    assert "zebraquokka" not in repr(profile)


def test_eight_threads_get_what_each_request_gets_alone(tiny_rec, demo):
    ids = [it.item_id for it in demo]
    profiles = [UserProfile(age=18 + n % 60, interests=(["running", "coffee", "skincare", "camping"][n % 4],),
                            recent_items=tuple(ids[(7 * n + j) % len(ids)] for j in range(n % 3)),
                            budget=None if n % 2 else 20.0 + n)
                for n in range(200)]
    alone = [[(r.item_id, round(r.score, 5)) for r in tiny_rec.recommend(p, k=5, explain=False)] for p in profiles]

    def ask(n):
        return [(r.item_id, round(r.score, 5)) for r in tiny_rec.recommend(profiles[n], k=5, explain=False)]

    with ThreadPoolExecutor(8) as pool:  # 8 threads x 25 calls
        together = list(pool.map(ask, range(200)))
    assert together == alone
