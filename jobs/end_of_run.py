"""What jobs/sweep.py prints when a sweep ends: the results table, the headline, and commands that work as
printed in a fresh shell (the project's .venv/bin/..., absolute or cwd-relative paths), including how to
backfill MLflow when it was unreachable. Plain functions of the store, the tracker and the arguments.
"""
from __future__ import annotations

import json
import math
import os
import shlex
import sys
from pathlib import Path

from sweeps.headline import Headline, describe
from sweeps.loyalty import loyalty_by_point
from sweeps.metric_names import metric_label, metric_name, shown
from sweeps.point_metrics import PointSummary, keep_all_of, relative_pct, summarize

REPO = Path(__file__).resolve().parents[1]
MLFLOW_PORT = 5000


def shown_path(path: str | os.PathLike) -> str:
    """A path as the user should type it: relative when under the cwd, else absolute (symlinks kept: the
    venv's bin/python is one, and its target is not the project's environment)."""
    p = Path(os.path.abspath(path))
    try:
        return str(p.relative_to(os.path.abspath(os.getcwd()))) or "."
    except ValueError:
        return str(p)


def venv_bin(name: str) -> str:
    """The project's own command (.venv/bin/NAME: the environment this sweep runs in), as typed from the cwd."""
    return shown_path(Path(sys.prefix) / "bin" / name)


def _order(p: PointSummary):
    return (p.model, p.benchmark, p.strategy != "keep_all", -(p.budget or 10**9), p.strategy, p.ratio or -1.0, p.point_id)


def summary(table, benchmarks=None) -> str:
    """The results table of a sweep's rows: one block per (model, benchmark), headed by its real metric; shares in %.
    `benchmarks`: name -> the sweep's benchmark objects (default: the registry's)."""
    points = sorted(summarize(table, benchmarks), key=_order)
    base = keep_all_of(points)
    loyal = loyalty_by_point(table)
    lines: list[str] = []
    for mb in dict.fromkeys((p.model, p.benchmark) for p in points):
        block = [p for p in points if (p.model, p.benchmark) == mb]
        metric = block[0].primary_metric
        lines += ["", f"{mb[0]} / {mb[1]}: {metric_label(metric)}, Rel.% of keep_all, "
                      "Loyalty % (same answer as keep_all)",
                  f"{'point':<26} {'n':>4} {'err':>3} {metric_name(metric)[:8]:>8} {'Rel.%':>6} {'Loyal%':>6} "
                  f"{'tokens':>6} {'GFLOPs':>8} {'p50 ms':>8}"]
        for p in block:
            rel = relative_pct(p, base.get(mb))
            lo = loyal.get(p.key)
            cells = [shown(metric, p.primary), rel, float("nan") if lo is None else 100.0 * lo.share]
            s = [f"{'–' if math.isnan(v) else f'{v:.1f}':>{w}}" for v, w in zip(cells, (8, 6, 6))]
            lines.append(f"{p.point_id:<26} {p.n:>4} {p.n_errors:>3} {s[0]} {s[1]} {s[2]} {p.n_visual_kept:>6.0f} "
                         f"{p.prefill_flops / 1e9:>8.2f} {p.latency_s * 1e3:>8.1f}")
    return "\n".join(lines).lstrip("\n")


def headline_text(items: list[Headline]) -> str:
    """'At a glance' lines: per benchmark and strategy, the smallest T keeping >= 95% / >= 99% of keep_all."""
    if not items:
        return ""
    lines = ["At a glance: the smallest budget T keeping >= 95% / >= 99% of keep_all's score "
             "(savings vs keep_all: prefill FLOPs, median latency)"]
    rows: dict[tuple[str, str, str], dict[float, Headline]] = {}
    for h in items:
        rows.setdefault((h.model, h.benchmark, h.strategy), {})[h.level] = h
    said: set[tuple[str, str]] = set()
    for (model, bench, strategy), per in rows.items():
        name = f"{bench} {metric_name(next(iter(per.values())).metric)}"
        if all(h.undefined for h in per.values()):       # keep_all scores 0: one line for the benchmark
            if (model, bench) not in said:
                said.add((model, bench))
                lines.append(f"  {model.split('/')[-1]:<12} {name:<14} {describe(next(iter(per.values())))}")
            continue
        parts = [f">= {lv:g}%: {describe(h)}" for lv, h in sorted(per.items())]
        lines.append(f"  {model.split('/')[-1]:<12} {name:<14} {strategy:<14} " + "   ".join(parts))
    return "\n".join(lines)


def sync_command(args, store_uri: str, sweep_id: str) -> str:
    """The --sync-mlflow command that backfills exactly this sweep (same config, overrides, store and id)."""
    cmd = [venv_bin("python"), shown_path(REPO / "jobs" / "sweep.py"), "--config", shown_path(args.config)]
    for item in args.set or ():
        cmd += ["--set", item]
    if args.limit is not None:
        cmd += ["--limit", str(args.limit)]
    store = shown_path(store_uri) if "://" not in store_uri else store_uri
    return shlex.join(cmd + ["--store", store, "--sweep-id", sweep_id, "--sync-mlflow"])


def mlflow_lines(tracker, uri: str, experiment: str, backfill: str) -> list[str]:
    """How to open the runs, or, when MLflow was unreachable, that (and what) was not logged and how to backfill."""
    if tracker is None or tracker.down is not None:
        reason = "unreachable" if tracker is None else tracker.down
        if tracker is None or tracker.parent_id is None:
            head = f"MLflow: nothing was logged: {uri} was unreachable ({reason})."
        else:
            head = f"MLflow: logging stopped partway: {uri} became unreachable ({reason}); later results are not logged."
        return [head, "  Every result is in the results store. Once MLflow is up, backfill it with:",
                f"  {backfill}"]
    from sweeps.tracking import runs_view

    runs = runs_view(tracker.exp_id)
    if uri.startswith("sqlite:///"):
        return [f"MLflow UI: start it, then open http://127.0.0.1:{MLFLOW_PORT}/{runs} (experiment {experiment!r})",
                f"  {venv_bin('mlflow')} ui --backend-store-uri {uri} --host 127.0.0.1 --port {MLFLOW_PORT}"]
    return [f"MLflow: {uri.rstrip('/')}/{runs} (experiment {experiment!r})"]


def next_steps(store_uri: str, sweep_id: str, samples: dict[str, str]) -> list[str]:
    """Report, rows and samples-file commands, runnable as printed from the cwd."""
    local = "://" not in store_uri
    store = shown_path(store_uri) if local else store_uri
    out = [] if local else ["--out", f"report-{sweep_id}"]
    report = shlex.join([venv_bin("python"), "-m", "dashboards.report", sweep_id, "--store", store, *out])
    where = shown_path(Path(store_uri) / sweep_id / "report" / "index.html") if local else f"report-{sweep_id}/index.html"
    code = f"from sweeps.store import read_results; print(read_results({json.dumps(store)}, {json.dumps(sweep_id)}))"
    lines = ["Report (writes " + where + "):", f"  {report}",
             "Rows as a pyarrow Table:", f"  {shlex.join([venv_bin('python'), '-c', code])}"]
    if samples:
        lines += ["Per-sample answers (JSONL: question, answer, prediction, score, kept tokens, error):"]
        lines += [f"  {shown_path(p) if local else p}" for _, p in sorted(samples.items())]
    return lines
