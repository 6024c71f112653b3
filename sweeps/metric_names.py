"""What a benchmark's primary metric is called and on which scale it is shown: one rule for the job table,
the report's table and every chart, so they agree (POPE's number is an F1, not an accuracy).

Shares in [0, 1] (accuracy, F1, MM-Vet score) are shown as percentages, the papers' convention; MME's
perception / cognition / total are sums of per-subtask acc + acc+ (0-2000) and are shown as they are.
"""
from __future__ import annotations

import math

NAMES = {
    "accuracy": "Acc.",
    "f1_mean": "F1",             # POPE: mean F1 over its three categories (lmms-eval)
    "f1": "F1",
    "perception": "Perception",  # MME
    "cognition": "Cognition",
    "total": "Total",
    "score": "Score",            # MM-Vet (GPT-judged correctness)
    "mean_score": "Mean score",
}
SUMS = frozenset({"perception", "cognition", "total"})   # MME-style sums: not shares, shown unscaled


def metric_name(metric: str) -> str:
    """Short display name of a metric key: "f1_mean" -> "F1"."""
    return NAMES.get(metric, metric.replace("_", " "))


def is_share(metric: str) -> bool:
    return metric not in SUMS


def unit(metric: str) -> str:
    return "%" if is_share(metric) else "sum"


def metric_label(metric: str) -> str:
    """Heading / axis label with its scale: "F1 (%)", "Perception (sum)"."""
    return f"{metric_name(metric)} ({unit(metric)})"


def shown(metric: str, value: float | None) -> float:
    """The value on the display scale: x100 for shares, unchanged for sums; NaN stays NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return float("nan")
    return 100.0 * value if is_share(metric) else float(value)
