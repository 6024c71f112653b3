"""The results store's kept_per_frame column: a video's kept visual tokens per frame (Output.kept_per_frame)
go from the replica's measured row through scoring into the store; images and error rows leave it null; unit
files written before the column existed still read (as null)."""
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq

from pruning.plan import PrunePlan
from pruning.types import Output
from sweeps.rows import ROW_SCHEMA, Result
from sweeps.store import SweepStore, read_results

PLAN = PrunePlan("vispruner", 114, {"ratio": 0.5})


def scored(sample_id, out, error=None):
    measured = Result.measured(sample_id, out, error, "r0", "node")
    return Result.scored(measured, PLAN, sweep_id="sw", unit_id="u1", model="tiny-video-llava", benchmark="msvd_qa",
                         category="3", scores={}, score=None, error=measured["error"], created_at=datetime.now(timezone.utc))


def test_kept_per_frame_is_stored_per_row(tmp_path):
    video = Output(text="a dog", n_visual_in=2048, n_visual_kept=114, kept_per_frame=[20, 10, 14, 15, 15, 10, 20, 10])
    image = Output(text="yes", n_visual_in=576, n_visual_kept=114)
    failed = Output(text="", n_visual_in=2048, n_visual_kept=0, kept_per_frame=[0] * 8, error="boom")
    rows = [scored("v", video), scored("i", image), scored("f", failed), scored("m", None, "missing video file 'x'")]
    st = SweepStore.open(str(tmp_path), "sw")
    assert st.commit("u1", Result.to_table(rows))
    t = read_results(str(tmp_path), "sw")
    assert t.schema.field("kept_per_frame").type == pa.list_(pa.int64())
    got = dict(zip(t["sample_id"].to_pylist(), t["kept_per_frame"].to_pylist()))
    assert got == {"v": [20, 10, 14, 15, 15, 10, 20, 10], "i": None, "f": None, "m": None}
    assert sum(got["v"]) == dict(zip(t["sample_id"].to_pylist(), t["n_visual_kept"].to_pylist()))["v"]
    assert Result.from_table(t)[0].kept_per_frame == [20, 10, 14, 15, 15, 10, 20, 10]


def test_unit_files_from_before_the_column_still_read(tmp_path):
    st = SweepStore.open(str(tmp_path), "sw")
    old_schema = pa.schema([f for f in ROW_SCHEMA if f.name != "kept_per_frame"])
    old = pa.Table.from_pylist([{"sweep_id": "sw", "unit_id": "u0", "model": "tiny-llava", "benchmark": "shapes",
                                 "point_id": "keep_all/Tall", "strategy": "keep_all", "sample_id": "a",
                                 "n_visual_kept": 576}], schema=old_schema)
    pq.write_table(old, st.unit_path("u0"))
    t = read_results(str(tmp_path), "sw")
    assert t.schema == ROW_SCHEMA and t["kept_per_frame"].to_pylist() == [None] and t["n_visual_kept"].to_pylist() == [576]
