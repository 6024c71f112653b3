"""Paper-style results table: rows strategy x budget T (x ratio r), columns per benchmark: its primary metric
(named: "pope F1 (%)", "mme Perception (sum)"), Rel.% of keep_all and, where loyalty is given, Loyalty %.

Like the VisPruner paper's Table 1: the unpruned model ("keep_all", 100%) first, then one block per
budget T (descending), strategies within it. Markdown and HTML renderings of the same cells. Scores use
the charts' scale (sweeps/metric_names.py).
`rules_table` puts each benchmark under every scoring rule the rows carry side by side ("pope [llava]",
"pope [lmms_eval]"), each against keep_all under the same rule, with one Avg Rel.% per rule: how much a
number depends on the harness that scored it.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field, replace

from sweeps.loyalty import Loyalty
from sweeps.metric_names import metric_label, shown
from sweeps.point_metrics import PointSummary, keep_all_of, relative_pct, summarize

AVG = "Avg Rel.%"


@dataclass
class Table:
    model: str
    benchmarks: list[str]
    rows: list[dict]          # {"strategy", "budget", "ratio", "cells": {bench: (score, rel)}, "loyalty": {bench: share}, "avg_rel"}
    metrics: dict[str, str] = field(default_factory=dict)     # benchmark -> primary metric key
    with_loyalty: bool = False
    avg_groups: dict[str, list[str]] = field(default_factory=dict)   # Avg column label -> the benchmark columns it averages


def _sort_key(p: PointSummary):
    keep = p.strategy == "keep_all"
    return (not keep, -(p.budget or 10**9), p.strategy, p.ratio if p.ratio is not None else -1.0)


def paper_table(points: list[PointSummary], model: str,
                loyalty: dict[tuple[str, str, str], Loyalty] | None = None,
                avg_groups: dict[str, list[str]] | None = None) -> Table:
    """The table for one model: one row per (strategy, budget, ratio) seen in any benchmark."""
    pts = [p for p in points if p.model == model]
    benches = sorted({p.benchmark for p in pts})
    avg_groups = avg_groups or {AVG: benches}
    keep = keep_all_of(pts)
    rows: dict[tuple, dict] = {}
    for p in sorted(pts, key=_sort_key):
        row = rows.setdefault((p.strategy, p.budget, p.ratio), {"strategy": p.strategy, "budget": p.budget,
                                                                "ratio": p.ratio, "cells": {}, "loyalty": {}})
        row["cells"][p.benchmark] = (p.primary, relative_pct(p, keep.get((p.model, p.benchmark))))
        if loyalty is not None and p.key in loyalty:
            row["loyalty"][p.benchmark] = loyalty[p.key].share
    for row in rows.values():
        row["avgs"] = {}
        for label, cols in avg_groups.items():
            rels = [row["cells"][b][1] for b in cols if b in row["cells"] and not math.isnan(row["cells"][b][1])]
            # the average is over every benchmark column; a missing cell makes it undefined, not optimistic
            row["avgs"][label] = sum(rels) / len(rels) if len(rels) == len(cols) and rels else float("nan")
        row["avg_rel"] = next(iter(row["avgs"].values()))
    metrics = {p.benchmark: p.primary_metric for p in pts}
    return Table(model, benches, list(rows.values()), metrics, loyalty is not None, avg_groups)


def rules_table(rows, model: str, rules: list[str] | None = None) -> Table:
    """The paper table with every benchmark once per scoring rule (`rules`, default: those the rows carry)."""
    import json

    from sweeps.benchmarks.rules import for_rule, rules_of

    rules = rules or rules_of(json.loads(s) for s in rows["scores"].to_pylist() if s)
    points, groups = [], {}
    for rule in rules:
        ps = [replace(p, benchmark=f"{p.benchmark} [{rule}]") for p in summarize(for_rule(rows, rule))]
        points += ps
        groups[f"{AVG} [{rule}]"] = sorted({p.benchmark for p in ps if p.model == model})
    return paper_table(points, model, None, groups)


def _num(v: float | None, digits: int = 1) -> str:
    return "–" if v is None or math.isnan(v) else f"{v:.{digits}f}"


def _header(t: Table) -> list[str]:
    head = ["Method", "T", "r"]
    for b in t.benchmarks:
        head += [f"{b} {metric_label(t.metrics.get(b, 'accuracy'))}", f"{b} Rel.%"]
        if t.with_loyalty:
            head.append(f"{b} Loyalty %")
    return head + list(t.avg_groups or [AVG])


def _cells(t: Table, row: dict) -> list[str]:
    out = [row["strategy"], "all" if row["budget"] is None else str(row["budget"]),
           "" if row["ratio"] is None else f"{row['ratio']:g}"]
    for b in t.benchmarks:
        value, rel = row["cells"].get(b, (float("nan"), float("nan")))
        out += [_num(shown(t.metrics.get(b, "accuracy"), value)), _num(rel)]
        if t.with_loyalty:
            share = row["loyalty"].get(b)
            out.append(_num(None if share is None else 100.0 * share))
    return out + [_num(v) for v in row.get("avgs", {AVG: row["avg_rel"]}).values()]


def _title(t: Table) -> str:
    return f"{t.model} (by scoring rule)" if len(t.avg_groups) > 1 else t.model


def to_markdown(t: Table) -> str:
    head = _header(t)
    lines = [f"### {_title(t)}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cells(t, r)) + " |" for r in t.rows]
    return "\n".join(lines) + "\n"


def to_html(t: Table) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in _header(t))
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in _cells(t, r)) + "</tr>" for r in t.rows)
    return f'<h3>{e(_title(t))}</h3>\n<table class="results"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n'
