"""The one results-row type: Result, one row per (sweep, model, benchmark, grid point, sample).

The replica fills the measured fields (`Result.measured` from a pruning Output), the driver adds the keys
and the score (`Result.scored`), and the store, tracking and dashboards read the same rows back as Arrow
(`Result.to_table` / `Result.from_table`, schema ROW_SCHEMA).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

import pyarrow as pa

from pruning.plan import PrunePlan

ROW_SCHEMA = pa.schema([
    ("sweep_id", pa.string()),
    ("unit_id", pa.string()),
    ("model", pa.string()),
    ("benchmark", pa.string()),
    ("point_id", pa.string()),          # the grid point's PrunePlan.key, e.g. "vispruner/T64/r0.75"
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
    ("kept_per_frame", pa.list_(pa.int64())),   # video: kept tokens per frame (sum = n_visual_kept, but T - 1 for VisionZip; null: images, SparseVLM)
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
# what the replica measures for one (grid point, sample); the driver adds the rest
MEASURED = ("sample_id", "prediction", "n_visual_in", "n_visual_kept", "kept_per_frame", "n_text", "prefill_flops",
            "kv_bytes", "t_vision", "t_select", "t_prefill", "t_decode", "peak_mem_bytes", "replica", "node", "error")


@dataclass
class Result:
    sweep_id: str
    unit_id: str
    model: str
    benchmark: str
    point_id: str
    strategy: str
    budget: int | None
    ratio: float | None
    params: str
    sample_id: str
    category: str | None = None
    prediction: str | None = None
    score: float | None = None
    scores: str | None = None
    n_visual_in: int | None = None
    n_visual_kept: int | None = None
    kept_per_frame: list[int] | None = None
    n_text: int | None = None
    prefill_flops: float | None = None
    kv_bytes: int | None = None
    t_vision: float | None = None
    t_select: float | None = None
    t_prefill: float | None = None
    t_decode: float | None = None
    peak_mem_bytes: int | None = None
    replica: str | None = None
    node: str | None = None
    error: str | None = None
    created_at: datetime | None = None

    @staticmethod
    def measured(sample_id: str, out: Any, error: str | None, replica: str, node: str) -> dict[str, Any]:
        """The replica's part of a row (MEASURED fields) from a pruning Output (None when it never ran)."""
        if out is not None and out.error:
            error = out.error
        ok = out is not None and error is None
        t = (out.timings if ok else {}) or {}
        return {
            "sample_id": sample_id, "prediction": out.text if ok else None,
            "n_visual_in": out.n_visual_in if out is not None else None,
            "n_visual_kept": out.n_visual_kept if ok else None, "n_text": out.n_text if ok else None,
            "kept_per_frame": list(out.kept_per_frame) if ok and getattr(out, "kept_per_frame", None) is not None else None,
            "prefill_flops": out.flops if ok else None, "kv_bytes": out.kv_bytes if ok else None,
            "t_vision": t.get("vision"), "t_select": t.get("select"), "t_prefill": t.get("prefill"),
            "t_decode": t.get("decode"), "peak_mem_bytes": out.peak_mem_bytes if ok else None,
            "replica": replica, "node": node, "error": error,
        }

    @classmethod
    def scored(cls, measured: dict[str, Any], plan: PrunePlan, *, sweep_id: str, unit_id: str, model: str,
               benchmark: str, category: str | None, scores: dict[str, Any], score: float | None,
               error: str | None, created_at: datetime) -> "Result":
        """The full row: the replica's measurements, the grid point's keys, the driver's score."""
        return cls(**{k: measured.get(k) for k in MEASURED if k != "error"},
                   sweep_id=sweep_id, unit_id=unit_id, model=model, benchmark=benchmark, point_id=plan.key,
                   strategy=plan.strategy, budget=plan.budget, ratio=plan.ratio,
                   params=json.dumps(dict(plan.params), sort_keys=True), category=category, score=score,
                   scores=json.dumps(scores, default=str), error=error, created_at=created_at)

    @property
    def plan(self) -> PrunePlan:
        return PrunePlan(self.strategy, self.budget, json.loads(self.params or "{}"))

    @staticmethod
    def to_table(rows: list["Result"]) -> pa.Table:
        return pa.Table.from_pylist([asdict(r) for r in rows], schema=ROW_SCHEMA)

    @classmethod
    def from_table(cls, table: pa.Table) -> list["Result"]:
        names = {f.name for f in fields(cls)}
        return [cls(**{k: v for k, v in row.items() if k in names}) for row in table.to_pylist()]


assert [f.name for f in fields(Result)] == ROW_SCHEMA.names, "Result fields and ROW_SCHEMA must list the same columns"
