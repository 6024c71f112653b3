"""The results-row schema: one row per (sweep, model, benchmark, grid point, sample). Store, tracking and dashboards share it."""
from __future__ import annotations

import pyarrow as pa

ROW_SCHEMA = pa.schema([
    ("sweep_id", pa.string()),
    ("unit_id", pa.string()),
    ("model", pa.string()),
    ("benchmark", pa.string()),
    ("point_id", pa.string()),          # stable grid-point key, e.g. "vispruner/T64/r0.75"
    ("strategy", pa.string()),
    ("budget", pa.int64()),             # T; null for keep_all
    ("ratio", pa.float64()),            # r; null where the strategy has none
    ("params", pa.string()),            # JSON of the full strategy params
    ("sample_id", pa.string()),
    ("category", pa.string()),          # benchmark sub-split (POPE category, MME subtask, shapes question type)
    ("prediction", pa.string()),
    ("score", pa.float64()),            # per-sample primary score in [0, 1] where one exists, else null
    ("scores", pa.string()),            # JSON of bench.score(sample, prediction)
    ("n_visual_in", pa.int64()),
    ("n_visual_kept", pa.int64()),
    ("n_text", pa.int64()),
    ("prefill_flops", pa.float64()),
    ("kv_bytes", pa.int64()),
    ("t_vision", pa.float64()),         # seconds, per phase
    ("t_select", pa.float64()),
    ("t_prefill", pa.float64()),
    ("t_decode", pa.float64()),
    ("peak_mem_bytes", pa.int64()),
    ("replica", pa.string()),
    ("node", pa.string()),
    ("error", pa.string()),
    ("created_at", pa.timestamp("us", tz="UTC")),
])

ROW_KEY = ("sweep_id", "model", "benchmark", "point_id", "sample_id")
