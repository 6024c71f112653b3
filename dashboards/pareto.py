"""Score vs cost (prefill TFLOPs, latency) Pareto plots, score vs budget T and loyalty vs budget T, one line per strategy.

`python -m dashboards.report <sweep_id>` draws them for every benchmark; see docs/DASHBOARDS.md. Scores are
on the table's scale (sweeps/metric_names.py: shares as %, MME sums as they are) and each strategy has its
colour from dashboards/palette.py in every chart.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from dashboards.palette import series_style  # noqa: E402
from sweeps.loyalty import Loyalty  # noqa: E402
from sweeps.metric_names import metric_label, metric_name, shown  # noqa: E402
from sweeps.point_metrics import PointSummary  # noqa: E402

AXES = {
    "tflops": ("Prefill TFLOPs per sample", lambda p: p.prefill_flops / 1e12),
    "latency": ("Latency per sample, median (s)", lambda p: p.latency_s),
    "budget": ("Visual tokens kept (budget T)", lambda p: p.n_visual_kept if p.budget is None else p.budget),
}


COST_TITLES = {"tflops": "prefill TFLOPs", "latency": "latency"}


def score(p: PointSummary) -> float:
    """The point's primary metric on the display scale (the table's)."""
    return shown(p.primary_metric, p.primary)


def series_label(strategy: str, ratio: float | None) -> str:
    return strategy if ratio is None else f"{strategy} r={ratio:g}"


def pareto_front(xy: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Non-dominated points for (cost x: lower is better, accuracy y: higher is better), by increasing x."""
    front: list[tuple[float, float]] = []
    for x, y in sorted(xy, key=lambda t: (t[0], -t[1])):
        if not front or y > front[-1][1]:
            front.append((x, y))
    return front


def strategy_series(points: list[PointSummary], x: str, y: Callable[[PointSummary], float] = score
                    ) -> dict[str, list[tuple[float, float]]]:
    """{line label: [(x, y)] sorted by x}; one line per strategy (and ratio r, where set)."""
    xf = AXES[x][1]
    lines: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for p in points:
        lines[series_label(p.strategy, p.ratio)].append((float(xf(p)), float(y(p))))
    return {k: sorted(v) for k, v in sorted(lines.items())}


def _styles(points: list[PointSummary]) -> dict[str, dict[str, str]]:
    ratios: dict[str, list[float]] = defaultdict(list)
    for p in points:
        if p.ratio is not None and p.ratio not in ratios[p.strategy]:
            ratios[p.strategy].append(p.ratio)
    return {series_label(p.strategy, p.ratio): series_style(p.strategy, p.ratio, ratios[p.strategy]) for p in points}


def _plot(points: list[PointSummary], x: str, title: str, front: bool, y=score, ylabel: str | None = None) -> Figure:
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    styles = _styles(points)
    series = strategy_series(points, x, y)
    for label, xy in series.items():
        xs, ys = zip(*xy)
        if label == "keep_all":
            ax.plot(xs, ys, linestyle="none", marker="*", markersize=13, color=styles[label]["color"], label=label)
        else:
            ax.plot(xs, ys, label=label, **styles[label])
    if front:
        all_xy = [xy for s in series.values() for xy in s]
        fx, fy = zip(*pareto_front(all_xy)) if all_xy else ((), ())
        ax.step(fx, fy, where="post", color="grey", linestyle=":", linewidth=1, label="Pareto front")
    ax.set_xlabel(AXES[x][0])
    ax.set_ylabel(ylabel or metric_label(points[0].primary_metric if points else "accuracy"))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def _head(p0: PointSummary) -> str:
    return f"{p0.benchmark} ({p0.model}): {metric_name(p0.primary_metric)}"


def pareto_figure(points: list[PointSummary], cost: str = "tflops") -> Figure:
    """Score vs `cost` ("tflops" or "latency") for one (model, benchmark)'s points."""
    return _plot(points, cost, f"{_head(points[0])} vs {COST_TITLES[cost]}", front=True)


def _log2_if_wide(fig: Figure, points: list[PointSummary]) -> Figure:
    budgets = sorted({p.budget for p in points if p.budget})
    if budgets and all(b > 0 for b in budgets) and budgets[-1] / budgets[0] >= 8:
        fig.axes[0].set_xscale("log", base=2)
    return fig


def budget_figure(points: list[PointSummary]) -> Figure:
    """Score vs budget T; keep_all drawn at its full token count."""
    return _log2_if_wide(_plot(points, "budget", f"{_head(points[0])} vs budget T", front=False), points)


def loyalty_figure(points: list[PointSummary], loyalty: dict[tuple[str, str, str], Loyalty]) -> Figure:
    """Loyalty (% of samples answered as keep_all answers them) vs budget T; keep_all is 100% by definition."""
    pts = [p for p in points if p.key in loyalty]
    p0 = pts[0]
    fig = _plot(pts, "budget", f"{p0.benchmark} ({p0.model}): loyalty to keep_all vs budget T", front=False,
                y=lambda p: 100.0 * loyalty[p.key].share, ylabel="Loyalty (%): same answer as keep_all")
    return _log2_if_wide(fig, pts)


def save(fig: Figure, path) -> None:
    fig.savefig(path, format="png")
    plt.close(fig)
