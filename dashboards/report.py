"""Static HTML report of one sweep: Pareto plots, budget curves, paper table, positional bias.

    python -m dashboards.report <sweep_id> [--store DIR] [--out DIR] [--mlflow] [--tracking-uri URI]

Reads the results store (the source of truth), writes <out>/index.html (images embedded as base64,
also saved next to it as PNG), table.md / table.html and points.json; with --mlflow, logs that folder
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
from sweeps.point_metrics import PointSummary, summarize


def _slug(*parts: str) -> str:
    return "_".join(p.replace("/", "-").replace(" ", "") for p in parts)


def build_report(rows: pa.Table, out_dir: str | Path, title: str) -> Path:
    """Render every chart and table for `rows` into out_dir; returns the index.html path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    points = summarize(rows)
    rules = rules_of(json.loads(s) for s in rows["scores"].to_pylist() if s)
    by_mb: dict[tuple[str, str], list[PointSummary]] = {}
    for p in points:
        by_mb.setdefault((p.model, p.benchmark), []).append(p)

    sections: list[str] = []
    md_tables: list[str] = []
    for model in sorted({p.model for p in points}):
        t = tables.paper_table(points, model)
        md_tables.append(tables.to_markdown(t))
        sections.append(tables.to_html(t))
        if len(rules) > 1:      # scored under several rules: the same cells under each, side by side
            t = tables.rules_table(rows, model, rules)
            md_tables.append(tables.to_markdown(t))
            sections.append(tables.to_html(t))

    figures: list[tuple[str, str]] = []             # (caption, file name)
    for (model, bench), pts in sorted(by_mb.items()):
        for name, fig in (("tflops", pareto.pareto_figure(pts, "tflops")),
                          ("latency", pareto.pareto_figure(pts, "latency")),
                          ("budget", pareto.budget_figure(pts))):
            fname = f"{_slug(model, bench, name)}.png"
            pareto.save(fig, out / fname)
            figures.append((f"{bench} / {model}: {name}", fname))
        if any(bias.quadrant_accuracy(p) for p in pts):
            fname = f"{_slug(model, bench, 'bias')}.png"
            pareto.save(bias.bias_figure(pts), out / fname)
            figures.append((f"{bench} / {model}: positional bias", fname))

    (out / "table.md").write_text("\n".join(md_tables))
    (out / "table.html").write_text("\n".join(sections))
    (out / "points.json").write_text(json.dumps([asdict(p) for p in points], indent=1, default=str))

    imgs = []
    for caption, fname in figures:
        b64 = base64.b64encode((out / fname).read_bytes()).decode()
        imgs.append(f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{b64}">'
                    f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    n_err = sum(p.n_errors for p in points)
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table.results {{ border-collapse: collapse; font-size: 13px; }}
table.results td, table.results th {{ border: 1px solid #bbb; padding: 3px 7px; text-align: right; }}
figure {{ display: inline-block; margin: 0.5em; }} img {{ max-width: 640px; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{len(points)} grid points, {sum(p.n for p in points)} answers, {n_err} errors.
Metrics from each benchmark's own aggregate; Rel.% is relative to keep_all.</p>
<h2>Results table</h2>
{''.join(sections)}
<h2>Charts</h2>
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
