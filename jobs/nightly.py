"""Nightly regression run: the pinned lite sweep, compared point by point with a baseline.

    python jobs/nightly.py --config sweeps/configs/nightly_lite.yaml [--store DIR] [--baseline FILE]
                           [--thresholds FILE.yaml] [--report-dir DIR] [--sweep-id ID] [--skip-sweep]

Baseline: --baseline FILE (Parquet / JSON rows), else the newest passing nightly in the config's
MLflow experiment (tag nightly_status=pass). Writes regression.md / regression.json, tags the MLflow
runs nightly_status=pass|fail, logs the report and rows on the parent run, and exits 1 on regression.
The sweep runs in this process through cluster.run.run_sweep (the runner jobs/sweep.py uses); the comparison
logic lives in sweeps/regression.py and sweeps/baselines.py; see docs/DEPLOY.md for scheduling.
"""
from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # runnable as a script from any cwd

import yaml  # noqa: E402

from sweeps import baselines, regression  # noqa: E402
from sweeps.config import load_config  # noqa: E402
from sweeps.store import read_results  # noqa: E402

def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="jobs/nightly.py", description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="sweeps/configs/nightly_lite.yaml")
    ap.add_argument("--store", help="results store (default: the config's)")
    ap.add_argument("--sweep-id", help="default: nightly-<UTC timestamp>")
    ap.add_argument("--skip-sweep", action="store_true", help="compare an existing --sweep-id without running it")
    ap.add_argument("--baseline", help="pinned baseline rows (Parquet/JSON); default: last passing nightly in MLflow")
    ap.add_argument("--thresholds", help="YAML mapping of sweeps.regression.Thresholds fields")
    ap.add_argument("--report-dir", default="results/nightly", help="reports go to <report-dir>/<sweep-id>/")
    ap.add_argument("--ray-address", help="Ray to run the sweep on (auto | local | HOST:PORT), as jobs/sweep.py --address")
    ap.add_argument("--no-mlflow", action="store_true", help="no MLflow lookups or tags (needs --baseline)")
    return ap


def _thresholds(path: str | None) -> regression.Thresholds:
    return regression.Thresholds.from_dict(yaml.safe_load(Path(path).read_text()) if path else None)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cfg = load_config(args.config)
    store = args.store or cfg.store
    sweep_id = args.sweep_id or f"nightly-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"
    th = _thresholds(args.thresholds)
    if args.no_mlflow and not args.baseline:
        raise SystemExit("--no-mlflow needs --baseline FILE")

    if not args.skip_sweep:
        from cluster.run import run_sweep

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        run = run_sweep(cfg, store, sweep_id, args.ray_address)     # the same runner as jobs/sweep.py, in-process
        if run.stats["quarantined"]:
            print(f"nightly: sweep {sweep_id} failed: {run.stats['quarantined']} unit(s) quarantined", file=sys.stderr)
            return 1
    new = read_results(store, sweep_id)

    client = parent = None
    if not args.no_mlflow:
        from mlflow.tracking import MlflowClient

        from sweeps.tracking import tracking_uri

        client = MlflowClient(tracking_uri=tracking_uri(cfg.mlflow.tracking_uri, store))
        parent = baselines.find_parent_run(client, sweep_id, cfg.mlflow.experiment)

    if args.baseline:
        base, label = regression.load_rows(args.baseline), args.baseline
    else:
        prev = baselines.last_passing_run(client, parent.info.experiment_id, exclude_sweep=sweep_id)
        base = baselines.rows_of_run(client, prev, store) if prev else None
        label = f"mlflow run {prev.info.run_id} (sweep {prev.data.tags.get('sweep_id')})" if prev else ""

    if base is None:
        report = regression.Report([], th, "none", sweep_id, ["no passing nightly yet: this run becomes the baseline"])
    else:
        report = regression.compare(base, new, th, base_label=label, new_label=sweep_id)
    out = Path(args.report_dir) / sweep_id
    md, js = regression.write_report(report, out)

    if client is not None:
        failed = {f"{f.model}|{f.benchmark}|{f.point_id}" for f in report.regressions}
        baselines.tag_verdict(client, parent, report.status, failed)
        client.log_artifacts(parent.info.run_id, str(out), "nightly")
        baselines.log_rows(client, parent.info.run_id, new)

    print(f"nightly {sweep_id}: {report.status.upper()} - {len(report.regressions)} regression(s) in "
          f"{len(report.findings)} checks against {report.base_label}; report {md}")
    for f in report.regressions:
        print(f"  REGRESSION {f.model} {f.benchmark} {f.point_id} {f.check}: {f.reason}")
    return 1 if report.status == "fail" else 0


if __name__ == "__main__":
    sys.exit(main())
