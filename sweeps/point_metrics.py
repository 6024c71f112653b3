"""Per-grid-point metrics of result rows: the ONE place they are computed.

The job's summary table (jobs/sweep.py), the dashboards, the nightly check (sweeps/regression.py) and
MLflow (sweeps/tracking.py) all call `summarize_rows` and `relative_pct`; they differ only in how they
print or name the numbers. A point is one (model, benchmark, point_id).

- Quality: the benchmark's own aggregate over the rows' `scores` JSON, so POPE F1 and MME sums are right
  (a mean of `score` would not be); aggregates report `n_errors` and score the rest.
- Cost (FLOPs, KV bytes, kept tokens, latencies): over error-free rows only. An errored row has no
  cost, not a zero cost, so it never pulls a mean down; all-error points have NaN costs.
- Rel.% = point primary / keep_all primary x 100 (`relative_pct`).
"""
from __future__ import annotations

import json
import math
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
    n: int                       # samples (rows), errors included
    n_errors: int                # rows with an error: no score, no cost
    metrics: dict[str, float]    # bench.aggregate(...) over the rows' scores
    primary_metric: str
    prefill_flops: float         # mean per error-free sample
    kv_bytes: float              # mean per error-free sample
    latency_s: float             # median per error-free sample of t_vision + t_select + t_prefill + t_decode
    n_visual_kept: float         # mean per error-free sample
    metric_source: str = "aggregate"   # "mean_score" when the benchmark is not registered
    score_mean: float = float("nan")   # mean per-sample `score` over the rows that have one
    latency_p50_s: dict[str, float] = field(default_factory=dict)  # per phase ("vision", ...), error-free rows
    latency_p95_s: dict[str, float] = field(default_factory=dict)
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


def parse_scores(raw: str | None, score: float | None, error: str | None = None) -> dict[str, Any]:
    """The per-sample score dict; a row without JSON falls back to its error, else its primary `score`."""
    if raw:
        return json.loads(raw)
    if error:
        return {"error": error}
    return {} if score is None else {"score": float(score)}


def aggregate(benchmark: str, scores: list[dict[str, Any]], score_col: list[float | None],
              bench: Any = None) -> tuple[dict[str, float], str, str]:
    """(metrics, primary_metric, source) for one point: `bench` (or the registered benchmark, under the primary
    rule the rows were scored with) aggregate, else the mean of the error-free rows' `score` (score_col holds
    None for errored rows)."""
    from sweeps.benchmarks.rules import rules_of

    bench = bench if bench is not None else _benchmark(benchmark, rules_of(scores)[0])
    if bench is not None:
        agg = bench.aggregate(scores)
        return ({k: float(v) for k, v in agg.items() if isinstance(v, (int, float))},
                bench.primary_metric, "aggregate")
    vals = [float(s) for s in score_col if s is not None]
    return ({"accuracy": sum(vals) / len(vals) if vals else float("nan"), "n": float(len(score_col)),
             "n_errors": float(len(score_col) - len(vals))}, "accuracy", "mean_score")


def _latency(row: dict[str, Any]) -> float:
    return sum(float(row[p] or 0.0) for p in PHASES)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _percentile(values: list[float], q: float) -> float:
    """numpy's default (linear) percentile, q in [0, 100]."""
    v = sorted(values)
    pos = (len(v) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def group_rows(table: pa.Table) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    """Rows grouped by point key, each list in sample_id order (pairing depends on it)."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in table.to_pylist():
        groups.setdefault(tuple(row[k] for k in POINT_KEY), []).append(row)
    for rows in groups.values():
        rows.sort(key=lambda r: r["sample_id"])
    return groups


def summarize_rows(rows: list[dict[str, Any]], bench: Any = None) -> PointSummary:
    """Every per-point metric of one point's rows (ROW_SCHEMA dicts). `bench`: the benchmark object to
    aggregate with (default: get_benchmark(rows' benchmark))."""
    first = rows[0]
    errored = [bool(r.get("error")) for r in rows]
    ok = [r for r, e in zip(rows, errored) if not e]
    scores = [parse_scores(r.get("scores"), r.get("score"), r.get("error")) for r in rows]
    score_col = [None if e else r.get("score") for r, e in zip(rows, errored)]
    metrics, primary, source = aggregate(first["benchmark"], scores, score_col, bench)
    cost = lambda col: _mean([float(r[col]) for r in ok if r.get(col) is not None])  # noqa: E731
    p50, p95 = {}, {}
    for phase in PHASES:
        vals = [float(r[phase]) for r in ok if r.get(phase) is not None]
        if vals:
            p50[phase[2:]], p95[phase[2:]] = _percentile(vals, 50), _percentile(vals, 95)
    scored = [float(r["score"]) for r in rows if r.get("score") is not None]
    return PointSummary(
        model=first["model"], benchmark=first["benchmark"], point_id=first["point_id"],
        strategy=first["strategy"], budget=first["budget"], ratio=first["ratio"],
        n=len(rows), n_errors=sum(errored),
        metrics=metrics, primary_metric=primary,
        prefill_flops=cost("prefill_flops"), kv_bytes=cost("kv_bytes"),
        latency_s=statistics.median(_latency(r) for r in ok) if ok else float("nan"),
        n_visual_kept=cost("n_visual_kept"), metric_source=source,
        score_mean=_mean(scored), latency_p50_s=p50, latency_p95_s=p95,
    )


def summarize(table: pa.Table, benchmarks: dict[str, Any] | None = None) -> list[PointSummary]:
    """One PointSummary per (model, benchmark, point_id), sorted by key. `benchmarks`: name -> benchmark
    object to aggregate with, where it is not the default get_benchmark(name)."""
    benchmarks = benchmarks or {}
    return [summarize_rows(rows, benchmarks.get(key[1])) for key, rows in sorted(group_rows(table).items())]


def keep_all_of(points: list[PointSummary]) -> dict[tuple[str, str], PointSummary]:
    """The keep_all (unpruned) point per (model, benchmark): the denominator of Rel.%."""
    return {(p.model, p.benchmark): p for p in points if p.strategy == "keep_all"}


def relative_pct(point: PointSummary, base: PointSummary | None) -> float:
    """Rel.% = point primary / keep_all primary x 100, as the papers' tables report it (NaN without a base)."""
    if base is None or not base.primary or math.isnan(base.primary) or math.isnan(point.primary):
        return float("nan")
    return 100.0 * point.primary / base.primary
