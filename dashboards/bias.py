"""Positional-bias chart for the `shapes` benchmark: accuracy by object quadrant, one bar per strategy.

Attention-ranked pruning tends to keep tokens from some image regions more than others (the
"attention shift" FastV/VisPruner discuss); `shapes` places its object in a known quadrant, so the
per-quadrant accuracy of each strategy shows where pruning goes blind. One panel per budget T,
keep_all repeated in each as the reference; one legend for the figure. Colours are the strategies'
colours in every other chart (dashboards/palette.py) and accuracy is in %, as in the table.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from dashboards.palette import bar_style  # noqa: E402
from sweeps.point_metrics import PointSummary  # noqa: E402

QUADRANT_PREFIX = "acc_by_quadrant/"


def quadrant_accuracy(point: PointSummary, prefix: str = QUADRANT_PREFIX) -> dict[str, float]:
    """{quadrant: accuracy} from the benchmark's aggregate metrics ("none": questions with no located object)."""
    return {k[len(prefix):]: v for k, v in point.metrics.items() if k.startswith(prefix) and k != prefix + "none"}


def _label(p: PointSummary) -> str:
    return p.strategy if p.ratio is None else f"{p.strategy} r={p.ratio:g}"


def bias_panels(points: list[PointSummary], prefix: str = QUADRANT_PREFIX) -> dict[int | None, dict[str, dict[str, float]]]:
    """{budget T: {strategy label: {quadrant: acc}}}; keep_all is added to every budget's panel."""
    with_q = [p for p in points if quadrant_accuracy(p, prefix)]
    keep = [p for p in with_q if p.strategy == "keep_all"]
    budgets = sorted({p.budget for p in with_q if p.budget is not None}, reverse=True) or [None]
    panels: dict[int | None, dict[str, dict[str, float]]] = {}
    for b in budgets:
        members = keep + [p for p in with_q if p.budget == b and p.strategy != "keep_all"]
        panels[b] = {_label(p): quadrant_accuracy(p, prefix) for p in members}
    return panels


def _styles(points: list[PointSummary]) -> dict[str, dict[str, str]]:
    ratios: dict[str, list[float]] = {}
    for p in points:
        if p.ratio is not None:
            ratios.setdefault(p.strategy, []).append(p.ratio)
    return {_label(p): bar_style(p.strategy, p.ratio, sorted(set(ratios.get(p.strategy, [])))) for p in points}


def bias_figure(points: list[PointSummary], prefix: str = QUADRANT_PREFIX) -> Figure:
    """Grouped bars: x = quadrant, one bar per strategy (accuracy in %); one panel per budget."""
    panels = bias_panels(points, prefix)
    styles = _styles(points)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.2), dpi=110, squeeze=False, sharey=True)
    handles: dict[str, object] = {}
    for ax, (budget, series) in zip(axes[0], panels.items()):
        quads = sorted({q for acc in series.values() for q in acc})
        width = 0.8 / max(len(series), 1)
        for i, (label, acc) in enumerate(series.items()):
            xs = np.arange(len(quads)) + (i - (len(series) - 1) / 2) * width
            bars = ax.bar(xs, [100.0 * acc.get(q, np.nan) for q in quads], width, label=label, **styles[label])
            handles.setdefault(label, bars)
        ax.set_xticks(np.arange(len(quads)), quads)
        ax.set_ylim(0, 100)
        ax.set_xlabel("object quadrant")
        ax.set_title("all tokens" if budget is None else f"T = {budget}")
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("Acc. (%)")
    p0 = points[0]
    fig.suptitle(f"{p0.benchmark} ({p0.model}): accuracy by object quadrant")
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=min(len(handles), 8), fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig
