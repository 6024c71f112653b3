"""Shared scoring bookkeeping: error rows, counts, means and per-group accuracies for aggregate()."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from sweeps.benchmarks.base import Sample


def error_score(sample: Sample, prediction: str | None, rule: str | None = None) -> dict[str, Any] | None:
    """The score dict for a sample that cannot be scored (load error or no prediction), else None."""
    named = {} if rule is None else {"rule": rule}
    category = sample.meta.get("category")
    if sample.error:
        return {"error": sample.error, "category": category, **named}
    if prediction is None:
        return {"error": "no prediction", "category": category, **named}
    return None


def split_errors(scores: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """(scores without errors, {"n": all, "n_errors": errored}): metrics are computed over the first."""
    ok = [s for s in scores if not s.get("error")]
    return ok, {"n": float(len(scores)), "n_errors": float(len(scores) - len(ok))}


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def mean_by(scores: list[dict[str, Any]], group: str, value: str = "score", prefix: str | None = None) -> dict[str, float]:
    """{f"{prefix}/{g}": mean of `value` over scores with score[group] == g} (None groups skipped)."""
    groups: dict[str, list[float]] = defaultdict(list)
    for s in scores:
        if s.get(group) is not None:
            groups[str(s[group])].append(float(s[value]))
    prefix = prefix or f"acc_by_{group}"
    return {f"{prefix}/{g}": mean(v) for g, v in sorted(groups.items())}
