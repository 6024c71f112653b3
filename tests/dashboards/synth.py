"""Synthetic result rows in ROW_SCHEMA for dashboard/regression tests (the real sweep is exercised elsewhere)."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa

from sweeps.grid import GridPoint
from sweeps.rows import ROW_SCHEMA

LLAMA7B_FLOPS_PER_TOKEN = 2 * 6.7e9       # ~2 x params per token, good enough for a synthetic cost axis


def point_id(strategy: str, budget: int | None, ratio: float | None) -> str:
    """The grid's own key (sweeps.grid.GridPoint.point_id), so tracker child runs and rows agree."""
    return GridPoint(strategy, budget, (("ratio", ratio),) if ratio is not None else ()).point_id


def rows_for_point(*, strategy, budget=None, ratio=None, correct, benchmark="toy", model="tiny-llava",
                   sweep_id="s1", category=None, scores=None, latency=0.01, flops=None, errors=None,
                   sample_ids=None) -> list[dict]:
    """One row per entry of `correct` (0/1 or a float score); `scores` overrides the per-sample JSON."""
    n_kept = 576 if budget is None else budget
    flops = LLAMA7B_FLOPS_PER_TOKEN * (n_kept + 29) if flops is None else flops
    out = []
    for i, c in enumerate(correct):
        sid = sample_ids[i] if sample_ids else f"q{i:04d}"
        out.append({
            "sweep_id": sweep_id, "unit_id": f"u{i // 16}", "model": model, "benchmark": benchmark,
            "point_id": point_id(strategy, budget, ratio), "strategy": strategy, "budget": budget, "ratio": ratio,
            "params": json.dumps({"ratio": ratio} if ratio is not None else {}), "sample_id": sid,
            "category": category(i) if callable(category) else category, "prediction": "x",
            "score": float(c), "scores": json.dumps(scores[i] if scores else {"score": float(c)}),
            "n_visual_in": 576, "n_visual_kept": n_kept, "n_text": 29, "prefill_flops": float(flops),
            "kv_bytes": int(n_kept * 32 * 2 * 4096 * 2), "t_vision": latency * 0.2, "t_select": latency * 0.05,
            "t_prefill": latency * 0.5, "t_decode": latency * 0.25, "peak_mem_bytes": 1 << 30,
            "replica": "r0", "node": "n0", "error": (errors[i] if errors else None),
            "created_at": datetime(2026, 1, 1, tzinfo=timezone.utc),
        })
    return out


def table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=ROW_SCHEMA)


def bernoulli(n: int, p: float, seed: int) -> list[int]:
    return list((np.random.default_rng(seed).random(n) < p).astype(int))
