"""Static HTML report of one sweep: headline, paper table (with loyalty), Pareto plots, budget and loyalty curves, positional bias.

    python -m dashboards.report <sweep_id> [--store DIR] [--out DIR] [--mlflow] [--tracking-uri URI]

Reads the results store (the source of truth), writes <out>/index.html (images embedded as base64,
also saved next to it as PNG), table.md / table.html, points.json and headline.json; with --mlflow, logs that folder
as artifacts (under "dashboards/") of the sweep's parent MLflow run, found by its tag sweep_id.
Never loads a model.
"""
from __future__ import annotations

import argparse
import base64
import html
import json
import sys
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa

from dashboards import bias, pareto, tables
from sweeps.benchmarks.rules import rules_of
from sweeps.headline import Headline, headlines
from sweeps.loyalty import loyalty_by_point
from sweeps.metric_names import metric_name
from sweeps.point_metrics import PointSummary, summarize


def _slug(*parts: str) -> str:
    return "_".join(p.replace("/", "-").replace(" ", "") for p in parts)


def headline_html(items: list[Headline]) -> str:
    """The sweep's answer at a glance: per benchmark and strategy, the smallest T keeping >= 95% / >= 99%."""
    e = html.escape
    by_row: dict[tuple[str, str, str], dict[float, Headline]] = {}
    for h in items:
        by_row.setdefault((h.model, h.benchmark, h.strategy), {})[h.level] = h
    levels = sorted({h.level for h in items})
    head = "".join(f"<th>&ge; {lv:g}% of keep_all: T</th><th>FLOPs saved</th><th>latency saved</th>" for lv in levels)
    body = []
    for (model, bench, strategy), per in sorted(by_row.items()):
        cells = [model, f"{bench} ({metric_name(next(iter(per.values())).metric)})", strategy]
        for lv in levels:
            h = per.get(lv)
            if h is None or not h.reached:
                cells += ["undefined: keep_all scores 0" if h is not None and h.undefined else "not reached", "", ""]
            else:
                r = "" if h.ratio is None else f" (r={h.ratio:g})"
                cells += [f"{h.budget}{r}", f"{h.flops_saving_pct:.0f}%", f"{h.latency_saving_pct:.0f}%"]
        body.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in cells) + "</tr>")
    return (f'<table class="results headline"><thead><tr><th>model</th><th>benchmark</th><th>strategy</th>{head}'
            f"</tr></thead><tbody>{''.join(body)}</tbody></table>")


def _charts(out: Path, by_mb: dict[tuple[str, str], list[PointSummary]], loyal: dict) -> list[tuple[str, str, str]]:
    """Draw every chart as a PNG in out; returns [(kind, caption, file name)]."""
    figures: list[tuple[str, str, str]] = []
    for (model, bench), pts in sorted(by_mb.items()):
        drawn = [("tflops", pareto.pareto_figure(pts, "tflops")), ("latency", pareto.pareto_figure(pts, "latency")),
                 ("budget", pareto.budget_figure(pts))]
        if any(p.key in loyal for p in pts):
            drawn.append(("loyalty", pareto.loyalty_figure(pts, loyal)))
        if any(bias.quadrant_accuracy(p) for p in pts):
            drawn.append(("bias", bias.bias_figure(pts)))
        for kind, fig in drawn:
            fname = f"{_slug(model, bench, kind)}.png"
            pareto.save(fig, out / fname)
            figures.append((kind, f"{bench} / {model}: {CAPTIONS[kind]}", fname))
    return figures


CAPTIONS = {"tflops": "score vs prefill TFLOPs", "latency": "score vs latency", "budget": "score vs budget T",
            "loyalty": "loyalty to keep_all vs budget T", "bias": "positional bias"}
WIDE = {"bias"}                                      # several panels: drawn across the page


def build_report(rows: pa.Table, out_dir: str | Path, title: str) -> Path:
    """Render every chart and table for `rows` into out_dir; returns the index.html path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    points = summarize(rows)
    loyal = loyalty_by_point(rows)
    heads = headlines(points)
    rules = rules_of(json.loads(s) for s in rows["scores"].to_pylist() if s)
    by_mb: dict[tuple[str, str], list[PointSummary]] = {}
    for p in points:
        by_mb.setdefault((p.model, p.benchmark), []).append(p)

    sections: list[str] = []
    md_tables: list[str] = []
    for model in sorted({p.model for p in points}):
        t = tables.paper_table(points, model, loyal)
        md_tables.append(tables.to_markdown(t))
        sections.append(tables.to_html(t))
        if len(rules) > 1:      # scored under several rules: the same cells under each, side by side
            t = tables.rules_table(rows, model, rules)
            md_tables.append(tables.to_markdown(t))
            sections.append(tables.to_html(t))
    figures = _charts(out, by_mb, loyal)

    (out / "table.md").write_text("\n".join(md_tables))
    (out / "table.html").write_text("\n".join(sections))
    (out / "points.json").write_text(json.dumps([{**asdict(p), "loyalty": asdict(loyal[p.key]) if p.key in loyal else None}
                                                 for p in points], indent=1, default=str))
    (out / "headline.json").write_text(json.dumps([asdict(h) for h in heads], indent=1, default=str))

    imgs = []
    for kind, caption, fname in figures:
        b64 = base64.b64encode((out / fname).read_bytes()).decode()
        cls = ' class="wide"' if kind in WIDE else ""
        imgs.append(f'<figure{cls} data-chart="{kind}"><img alt="{html.escape(caption)}" '
                    f'src="data:image/png;base64,{b64}"><figcaption>{html.escape(caption)}</figcaption></figure>')
    n_err = sum(p.n_errors for p in points)
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table.results {{ border-collapse: collapse; font-size: 13px; margin-bottom: 1em; }}
table.results td, table.results th {{ border: 1px solid #bbb; padding: 3px 7px; text-align: right; }}
table.headline td:nth-child(-n+3) {{ text-align: left; }}
figure {{ display: inline-block; margin: 0.5em; vertical-align: top; }} figure img {{ max-width: 640px; }}
figure.wide {{ display: block; margin: 0.5em 0; }} figure.wide img {{ width: 100%; max-width: none; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{len(points)} grid points, {sum(p.n for p in points)} answers, {n_err} errors.
Scores are each benchmark's own metric (shares in %, MME sums as they are), the same in the table and the charts;
Rel.% is relative to keep_all; Loyalty % is the share of samples answered as keep_all answers them (EffiVLM-Bench).</p>
<h2 id="headline">The sweep's answer at a glance</h2>
<p>Per benchmark and strategy: the smallest budget T that keeps at least 95% / 99% of keep_all's score,
and what it saves against keep_all in prefill FLOPs and median latency per sample.</p>
{headline_html(heads)}
<h2 id="results">Results table</h2>
{''.join(sections)}
<h2 id="charts">Charts</h2>
{''.join(imgs)}
</body></html>
"""
    index = out / "index.html"
    index.write_text(page)
    return index


def log_to_mlflow(out_dir: str | Path, sweep_id: str, tracking_uri: str | None = None,
                  experiment: str | None = None, artifact_path: str = "dashboards") -> str:
    """Log out_dir as artifacts of the sweep's parent run; returns the run id."""
    from mlflow.tracking import MlflowClient

    from sweeps.baselines import find_parent_run

    client = MlflowClient(tracking_uri=tracking_uri)
    run = find_parent_run(client, sweep_id, experiment)
    client.log_artifacts(run.info.run_id, str(out_dir), artifact_path)
    return run.info.run_id


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dashboards.report", description=__doc__.splitlines()[0])
    ap.add_argument("sweep_id")
    ap.add_argument("--store", default="results", help="results store root (default: results)")
    ap.add_argument("--rows", help="render a rows file (Parquet/JSON) instead of reading the store")
    ap.add_argument("--out", help="output folder (default: <store>/<sweep_id>/report)")
    ap.add_argument("--mlflow", action="store_true", help="log the report to the sweep's parent MLflow run")
    ap.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI or ./mlruns)")
    ap.add_argument("--experiment", help="restrict the parent-run search to this MLflow experiment")
    args = ap.parse_args(argv)

    if args.rows:
        from sweeps.regression import load_rows

        rows = load_rows(args.rows)
    else:
        from sweeps.store import read_results

        rows = read_results(args.store, args.sweep_id)
    if rows.num_rows == 0:
        print(f"sweep {args.sweep_id!r}: no rows in {args.rows or args.store}", file=sys.stderr)
        return 2
    out = Path(args.out or Path(args.store) / args.sweep_id / "report")
    index = build_report(rows, out, f"VisSweep report: {args.sweep_id}")
    print(f"report: {index}")
    if args.mlflow:
        run_id = log_to_mlflow(out, args.sweep_id, args.tracking_uri, args.experiment)
        print(f"logged to MLflow run {run_id} (artifacts/dashboards)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
