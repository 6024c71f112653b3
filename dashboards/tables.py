"""Paper-style results table: rows strategy x budget T (x ratio r), columns per benchmark: its primary metric
(named: "pope F1 (%)", "mme Perception (sum)"), Rel.% of keep_all and, where loyalty is given, Loyalty %.

Like the VisPruner paper's Table 1: the unpruned model ("keep_all", 100%) first, then one block per
budget T (descending), strategies within it. Markdown and HTML renderings of the same cells. Scores use
the charts' scale (sweeps/metric_names.py).
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

from sweeps.loyalty import Loyalty
from sweeps.metric_names import metric_label, shown
from sweeps.point_metrics import PointSummary, keep_all_of, relative_pct


@dataclass
class Table:
    model: str
    benchmarks: list[str]
    rows: list[dict]          # {"strategy", "budget", "ratio", "cells": {bench: (score, rel)}, "loyalty": {bench: share}, "avg_rel"}
    metrics: dict[str, str] = field(default_factory=dict)     # benchmark -> primary metric key
    with_loyalty: bool = False


def _sort_key(p: PointSummary):
    keep = p.strategy == "keep_all"
    return (not keep, -(p.budget or 10**9), p.strategy, p.ratio if p.ratio is not None else -1.0)


def paper_table(points: list[PointSummary], model: str,
                loyalty: dict[tuple[str, str, str], Loyalty] | None = None) -> Table:
    """The table for one model: one row per (strategy, budget, ratio) seen in any benchmark."""
    pts = [p for p in points if p.model == model]
    benches = sorted({p.benchmark for p in pts})
    keep = keep_all_of(pts)
    rows: dict[tuple, dict] = {}
    for p in sorted(pts, key=_sort_key):
        row = rows.setdefault((p.strategy, p.budget, p.ratio), {"strategy": p.strategy, "budget": p.budget,
                                                                "ratio": p.ratio, "cells": {}, "loyalty": {}})
        row["cells"][p.benchmark] = (p.primary, relative_pct(p, keep.get((p.model, p.benchmark))))
        if loyalty is not None and p.key in loyalty:
            row["loyalty"][p.benchmark] = loyalty[p.key].share
    for row in rows.values():
        rels = [rel for _, rel in row["cells"].values() if not math.isnan(rel)]
        # the average is over every benchmark column; a missing cell makes it undefined, not optimistic
        row["avg_rel"] = sum(rels) / len(rels) if len(rels) == len(benches) and rels else float("nan")
    metrics = {p.benchmark: p.primary_metric for p in pts}
    return Table(model, benches, list(rows.values()), metrics, loyalty is not None)


def _num(v: float | None, digits: int = 1) -> str:
    return "–" if v is None or math.isnan(v) else f"{v:.{digits}f}"


def _header(t: Table) -> list[str]:
    head = ["Method", "T", "r"]
    for b in t.benchmarks:
        head += [f"{b} {metric_label(t.metrics.get(b, 'accuracy'))}", f"{b} Rel.%"]
        if t.with_loyalty:
            head.append(f"{b} Loyalty %")
    return head + ["Avg Rel.%"]


def _cells(t: Table, row: dict) -> list[str]:
    out = [row["strategy"], "all" if row["budget"] is None else str(row["budget"]),
           "" if row["ratio"] is None else f"{row['ratio']:g}"]
    for b in t.benchmarks:
        value, rel = row["cells"].get(b, (float("nan"), float("nan")))
        out += [_num(shown(t.metrics.get(b, "accuracy"), value)), _num(rel)]
        if t.with_loyalty:
            share = row["loyalty"].get(b)
            out.append(_num(None if share is None else 100.0 * share))
    return out + [_num(row["avg_rel"])]


def to_markdown(t: Table) -> str:
    head = _header(t)
    lines = [f"### {t.model}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cells(t, r)) + " |" for r in t.rows]
    return "\n".join(lines) + "\n"


def to_html(t: Table) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in _header(t))
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in _cells(t, r)) + "</tr>" for r in t.rows)
    return f'<h3>{e(t.model)}</h3>\n<table class="results"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n'
