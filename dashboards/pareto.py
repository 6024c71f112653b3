"""Accuracy vs cost (prefill TFLOPs, latency) Pareto plots and accuracy vs budget T curves, one line per strategy.

`python -m dashboards.report <sweep_id>` draws them for every benchmark; see docs/DASHBOARDS.md.
"""
from __future__ import annotations

from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from sweeps.point_metrics import PointSummary  # noqa: E402

AXES = {
    "tflops": ("Prefill TFLOPs per sample", lambda p: p.prefill_flops / 1e12),
    "latency": ("Latency per sample, median (s)", lambda p: p.latency_s),
    "budget": ("Visual tokens kept (budget T)", lambda p: p.n_visual_kept if p.budget is None else p.budget),
}


def pareto_front(xy: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Non-dominated points for (cost x: lower is better, accuracy y: higher is better), by increasing x."""
    front: list[tuple[float, float]] = []
    for x, y in sorted(xy, key=lambda t: (t[0], -t[1])):
        if not front or y > front[-1][1]:
            front.append((x, y))
    return front


def strategy_series(points: list[PointSummary], x: str, label_ratio: bool = True) -> dict[str, list[tuple[float, float]]]:
    """{line label: [(x, primary metric)] sorted by x}; one line per strategy (and ratio r, where set)."""
    xf = AXES[x][1]
    lines: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for p in points:
        label = p.strategy if (p.ratio is None or not label_ratio) else f"{p.strategy} r={p.ratio:g}"
        lines[label].append((float(xf(p)), float(p.primary)))
    return {k: sorted(v) for k, v in sorted(lines.items())}


def _plot(points: list[PointSummary], x: str, title: str, front: bool) -> Figure:
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    metric = points[0].primary_metric if points else "accuracy"
    for label, xy in strategy_series(points, x).items():
        xs, ys = zip(*xy)
        if label == "keep_all":
            ax.plot(xs, ys, linestyle="none", marker="*", markersize=13, color="black", label=label)
        else:
            ax.plot(xs, ys, marker="o", label=label)
    if front:
        all_xy = [xy for series in strategy_series(points, x).values() for xy in series]
        fx, fy = zip(*pareto_front(all_xy)) if all_xy else ((), ())
        ax.step(fx, fy, where="post", color="grey", linestyle=":", linewidth=1, label="Pareto front")
    ax.set_xlabel(AXES[x][0])
    ax.set_ylabel(metric)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def pareto_figure(points: list[PointSummary], cost: str = "tflops") -> Figure:
    """Accuracy vs `cost` ("tflops" or "latency") for one (model, benchmark)'s points."""
    p0 = points[0]
    return _plot(points, cost, f"{p0.benchmark} ({p0.model}): {p0.primary_metric} vs {cost}", front=True)


def budget_figure(points: list[PointSummary]) -> Figure:
    """Accuracy vs budget T; keep_all drawn at its full token count."""
    p0 = points[0]
    fig = _plot(points, "budget", f"{p0.benchmark} ({p0.model}): {p0.primary_metric} vs budget T", front=False)
    budgets = sorted({p.budget for p in points if p.budget})
    if budgets and all(b > 0 for b in budgets) and budgets[-1] / budgets[0] >= 8:
        fig.axes[0].set_xscale("log", base=2)
    return fig


def save(fig: Figure, path) -> None:
    fig.savefig(path, format="png")
    plt.close(fig)
