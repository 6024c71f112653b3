"""The sweep's answer at a glance: per (model, benchmark, strategy), the smallest budget T that keeps
>= 95% and >= 99% of keep_all's score, with what it saves in prefill FLOPs and latency.

"Keeps" is Rel.% (sweeps.point_metrics.relative_pct) >= the level; where keep_all scores 0 there is no
answer (`undefined`), not a trivial one. Where a strategy has several ratios r
at that T, the one with the higher Rel.% is reported. Savings are relative to keep_all on the same
benchmark: 100 x (1 - point / keep_all), on the mean prefill FLOPs and the median latency per sample.
The budget is the smallest T that qualifies, as tables report it, even when a larger T of the same
strategy happens to fall short.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from sweeps.point_metrics import PointSummary, keep_all_of, relative_pct

LEVELS = (95.0, 99.0)                    # % of keep_all's score


@dataclass(frozen=True)
class Headline:
    model: str
    benchmark: str
    strategy: str
    level: float                         # 95.0 or 99.0
    metric: str                          # keep_all's primary metric key, e.g. "f1_mean" (POPE)
    budget: int | None                   # T; None when no budget of the strategy reaches the level
    ratio: float | None = None           # r of the reported point, where the strategy has one
    point_id: str | None = None
    rel_pct: float = float("nan")
    flops_saving_pct: float = float("nan")
    latency_saving_pct: float = float("nan")
    undefined: bool = False              # keep_all scored 0 (or nothing): no share of it is meaningful

    @property
    def reached(self) -> bool:
        return self.budget is not None


def _saving(value: float, base: float) -> float:
    return 100.0 * (1.0 - value / base) if base else float("nan")


def headlines(points: list[PointSummary], levels: tuple[float, ...] = LEVELS) -> list[Headline]:
    """One Headline per (model, benchmark, pruning strategy, level); keep_all itself gets none."""
    base = keep_all_of(points)
    out: list[Headline] = []
    groups: dict[tuple[str, str, str], list[PointSummary]] = {}
    for p in points:
        if p.strategy != "keep_all" and p.budget is not None and (p.model, p.benchmark) in base:
            groups.setdefault((p.model, p.benchmark, p.strategy), []).append(p)
    for (model, bench, strategy), pts in sorted(groups.items()):
        ref = base[(model, bench)]
        if not ref.primary or math.isnan(ref.primary):      # every T would "keep" a score of 0: no answer
            out += [Headline(model, bench, strategy, level, ref.primary_metric, None, undefined=True) for level in levels]
            continue
        for level in levels:
            ok = [(p.budget, -rel, p) for p in pts
                  if not math.isnan(rel := relative_pct(p, ref)) and rel >= level]
            if not ok:
                out.append(Headline(model, bench, strategy, level, ref.primary_metric, None))
                continue
            _, neg_rel, best = min(ok, key=lambda t: (t[0], t[1]))
            out.append(Headline(model, bench, strategy, level, ref.primary_metric, best.budget, best.ratio, best.point_id, -neg_rel,
                                _saving(best.prefill_flops, ref.prefill_flops), _saving(best.latency_s, ref.latency_s)))
    return out


def mlflow_metrics(items: list[Headline]) -> dict[str, float]:
    """Parent-run metrics: headline/<model>/<benchmark>/<strategy>/{T,flops_saving_pct,latency_saving_pct}_at_<level>.

    Only levels a strategy reaches are logged (a missing key means "not reached within the grid")."""
    out: dict[str, float] = {}
    for h in items:
        if not h.reached:
            continue
        head = f"headline/{h.model.split('/')[-1]}/{h.benchmark}/{h.strategy}"
        lv = f"{h.level:g}"
        out[f"{head}/T_at_{lv}"] = float(h.budget)
        out[f"{head}/flops_saving_pct_at_{lv}"] = h.flops_saving_pct
        out[f"{head}/latency_saving_pct_at_{lv}"] = h.latency_saving_pct
    return out


def describe(h: Headline) -> str:
    """'T=64 r=0.5 (-78% FLOPs, -41% latency)' (a cost that grew shows as +), 'not reached' or 'undefined'."""
    if h.undefined:
        return "undefined: keep_all scores 0"
    if not h.reached:
        return "not reached"
    r = "" if h.ratio is None else f" r={h.ratio:g}"
    return f"T={h.budget}{r} ({0.0 - h.flops_saving_pct:+.0f}% FLOPs, {0.0 - h.latency_saving_pct:+.0f}% latency)"
