"""Bulk scoring: a Parquet file of profiles in, a Parquet file of rankings out, one recommend_batch per block.

`score_block` is the unit an engine distributes: Ray Data calls it per block on each GPU worker
(`ds.map_batches(Scorer, batch_format="pyarrow", ...)`, see README "Bulk scoring"); `score_parquet` is the
single-machine version over the same function, streaming blocks so memory stays flat for any file size.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from ..data.profile import UserProfile
from ..errors import GenrecError
from ..ranking.recommender import Recommender

SCHEMA = pa.schema([("user_id", pa.string()), ("rank", pa.int32()), ("item_id", pa.string()),
                    ("score", pa.float64()), ("error", pa.string())])


def score_block(rec: Recommender, block: pa.Table, k: int = 10) -> pa.Table:
    """Rankings for the profiles in `block` (a `user_id` column plus UserProfile fields as columns): k rows
    per user. A user whose profile is invalid gets one row holding the error instead: one bad row in a
    million must not stop the job, and must not be lost either."""
    if "user_id" not in block.column_names:
        raise GenrecError(f"the profiles need a user_id column; got {block.column_names}")
    users, profiles, errors = [], [], {}
    for n, row in enumerate(block.to_pylist()):
        uid = str(row.pop("user_id"))
        try:
            profiles.append(UserProfile.from_dict({f: v for f, v in row.items() if v is not None}))
            users.append(uid)
        except GenrecError as e:
            errors[n] = (uid, str(e))
    out = {name: [] for name in SCHEMA.names}

    def put(uid, rank, item_id, score, error):
        for name, v in zip(SCHEMA.names, (uid, rank, item_id, score, error)):
            out[name].append(v)

    for uid, recs in zip(users, rec.recommend_batch(profiles, k) if profiles else []):
        for r in recs:
            put(uid, r.rank, r.item_id, r.score, None)
    for uid, error in errors.values():
        put(uid, None, None, None, error)
    return pa.table(out, schema=SCHEMA)


def score_parquet(rec: Recommender, src: str | Path, dst: str | Path, k: int = 10, block_rows: int = 64,
                  progress: bool = True) -> int:
    """Score every profile of `src` into `dst`; returns the number of users. `block_rows` users share each
    model forward (on a GPU, a few hundred; on a CPU, tens)."""
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise GenrecError(f"{src}: file not found")
    try:
        reader = pq.ParquetFile(src)
    except (pa.ArrowInvalid, OSError) as e:
        raise GenrecError(f"{src}: not a readable Parquet file ({e})") from None
    tmp = dst.with_name(f".{dst.name}.partial")  # renamed into place when complete: never a half file at dst
    n = 0
    with pq.ParquetWriter(tmp, SCHEMA) as writer, tqdm(total=reader.metadata.num_rows, unit="user",
                                                       desc="genrec: scoring", disable=not progress) as bar:
        for batch in reader.iter_batches(batch_size=block_rows):
            block = pa.Table.from_batches([batch])
            writer.write_table(score_block(rec, block, k))
            n += block.num_rows
            bar.update(block.num_rows)
    tmp.replace(dst)
    return n
