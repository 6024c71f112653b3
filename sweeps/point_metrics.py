"""Per-grid-point summaries of result rows: benchmark metrics via get_benchmark(name).aggregate, plus cost.

Shared by dashboards/ (plots, tables) and sweeps/regression.py (nightly comparison). A point is one
(model, benchmark, point_id); its metrics come from the benchmark's own aggregate over the rows'
`scores` JSON, so POPE F1 and MME sums are right (a mean of `score` would not be).
"""
from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

POINT_KEY = ("model", "benchmark", "point_id")
PHASES = ("t_vision", "t_select", "t_prefill", "t_decode")


@dataclass
class PointSummary:
    model: str
    benchmark: str
    point_id: str
    strategy: str
    budget: int | None           # T; None for keep_all
    ratio: float | None          # r
    n: int                       # samples
    n_errors: int
    metrics: dict[str, float]    # bench.aggregate(...) over the rows' scores
    primary_metric: str
    prefill_flops: float         # mean per sample
    kv_bytes: float              # mean per sample
    latency_s: float             # median per-sample t_vision + t_select + t_prefill + t_decode
    n_visual_kept: float         # mean
    metric_source: str = "aggregate"   # "mean_score" when the benchmark is not registered
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.model, self.benchmark, self.point_id)

    @property
    def primary(self) -> float:
        return self.metrics.get(self.primary_metric, float("nan"))


def _benchmark(name: str, rule: str = "llava"):
    """The registered benchmark under the rows' scoring rule, or None where the registry does not know it."""
    try:
        from sweeps.benchmarks import get_benchmark
    except ImportError:
        return None
    try:
        return get_benchmark(name, rule=rule)
    except (KeyError, ValueError):
        return None


def parse_scores(raw: str | None, score: float | None) -> dict[str, Any]:
    """The per-sample score dict; an errored row with no JSON falls back to its primary `score`."""
    if raw:
        return json.loads(raw)
    return {"score": 0.0 if score is None else float(score)}


def aggregate(benchmark: str, scores: list[dict[str, Any]], score_col: list[float | None]) -> tuple[dict[str, float], str, str]:
    """(metrics, primary_metric, source) for one point."""
    from sweeps.benchmarks.rules import rules_of

    bench = _benchmark(benchmark, rules_of(scores)[0])     # the primary rule the rows were scored under
    if bench is not None:
        return {k: float(v) for k, v in bench.aggregate(scores).items()}, bench.primary_metric, "aggregate"
    vals = [0.0 if s is None else float(s) for s in score_col]
    return {"accuracy": sum(vals) / max(len(vals), 1)}, "accuracy", "mean_score"


def _latency(row: dict[str, Any]) -> float:
    return sum(float(row[p] or 0.0) for p in PHASES)


def group_rows(table: pa.Table) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    """Rows grouped by point key, each list in sample_id order (pairing depends on it)."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in table.to_pylist():
        groups.setdefault(tuple(row[k] for k in POINT_KEY), []).append(row)
    for rows in groups.values():
        rows.sort(key=lambda r: r["sample_id"])
    return groups


def summarize_rows(rows: list[dict[str, Any]]) -> PointSummary:
    first = rows[0]
    scores = [parse_scores(r["scores"], r["score"]) for r in rows]
    metrics, primary, source = aggregate(first["benchmark"], scores, [r["score"] for r in rows])
    mean = lambda col: sum(float(r[col] or 0) for r in rows) / len(rows)  # noqa: E731
    return PointSummary(
        model=first["model"], benchmark=first["benchmark"], point_id=first["point_id"],
        strategy=first["strategy"], budget=first["budget"], ratio=first["ratio"],
        n=len(rows), n_errors=sum(1 for r in rows if r["error"]),
        metrics=metrics, primary_metric=primary,
        prefill_flops=mean("prefill_flops"), kv_bytes=mean("kv_bytes"),
        latency_s=statistics.median(_latency(r) for r in rows),
        n_visual_kept=mean("n_visual_kept"), metric_source=source,
    )


def summarize(table: pa.Table) -> list[PointSummary]:
    """One PointSummary per (model, benchmark, point_id), sorted by key."""
    return [summarize_rows(rows) for _, rows in sorted(group_rows(table).items())]


def keep_all_of(points: list[PointSummary]) -> dict[tuple[str, str], PointSummary]:
    """The keep_all (unpruned) point per (model, benchmark): the denominator of Rel.%."""
    return {(p.model, p.benchmark): p for p in points if p.strategy == "keep_all"}


def relative_pct(point: PointSummary, base: PointSummary | None) -> float:
    """Rel.% = point primary / keep_all primary x 100, as the papers' tables report it."""
    if base is None or not base.primary:
        return float("nan")
    return 100.0 * point.primary / base.primary
