"""Run a pruning sweep: python jobs/sweep.py --config CONFIG.yaml [--store DIR_OR_URI] [--sweep-id ID]
                                            [--sync-mlflow] [--address auto|local|HOST:PORT]

On a cluster:  ray job submit --working-dir . -- python jobs/sweep.py --config sweeps/configs/demo.yaml --store /shared/results
Standalone:    python jobs/sweep.py --config sweeps/configs/demo.yaml     (starts a local Ray on 127.0.0.1)

The config is validated completely before Ray starts. The default sweep id is derived from the
config's content, so rerunning the same config resumes: committed units are skipped.
"""
from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from the repo root

from sweeps.config import ConfigError, load_config  # noqa: E402

log = logging.getLogger("vissweep.sweep")


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="jobs/sweep.py", description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True, help="sweep YAML (sweeps/configs/*.yaml)")
    p.add_argument("--store", help="results store: a local directory or a pyarrow URI (overrides the config)")
    p.add_argument("--sweep-id", help="default: <name>-<hash of the config content> (reruns resume)")
    p.add_argument("--sync-mlflow", action="store_true", help="only backfill MLflow from the store, run nothing")
    p.add_argument("--address", default=None,
                   help="Ray: 'auto' (a running cluster), 'local' (start one here), or HOST:PORT; "
                        "default: $RAY_ADDRESS or a running cluster if there is one, else local")
    return p.parse_args(argv)


def summary(store, sweep_id: str) -> str:
    from sweeps.point_metrics import keep_all_of, relative_pct, summarize

    points = summarize(store.read())
    base = keep_all_of(points)
    lines = [f"{'model':<14} {'benchmark':<10} {'point':<24} {'n':>4} {'err':>3} {'metric':>16} {'rel%':>6} "
             f"{'tokens':>6} {'GFLOPs':>8} {'p50 ms':>8}"]
    for p in points:
        rel = relative_pct(p, base.get((p.model, p.benchmark)))
        metric = f"{p.primary_metric}={p.primary:.3f}"
        lines.append(f"{p.model[-14:]:<14} {p.benchmark:<10} {p.point_id:<24} {p.n:>4} {p.n_errors:>3} {metric:>16} "
                     f"{'' if math.isnan(rel) else f'{rel:.1f}':>6} {p.n_visual_kept:>6.0f} "
                     f"{p.prefill_flops / 1e9:>8.2f} {p.latency_s * 1e3:>8.1f}")
    return "\n".join(lines)


def sync_only(cfg, store_uri: str, sweep_id: str) -> int:
    """--sync-mlflow: backfill MLflow from the store, run nothing."""
    from sweeps.controller import prepare
    from sweeps.store import SweepStore, local_path
    from sweeps.tracking import Tracker, sync, tracking_uri

    store = SweepStore.open(store_uri, sweep_id)
    store.write_config(cfg.text, cfg.content_hash())
    prep = prepare(cfg)
    uri = tracking_uri(cfg.mlflow.tracking_uri, store_uri)
    root = local_path(store_uri)
    t = Tracker(uri, cfg.mlflow.experiment, sweep_id, config_text=cfg.text, config_raw=cfg.raw,
                benchmarks=prep.benchmarks, totals=prep.totals, artifact_root=f"{root}/mlartifacts" if root else None,
                live=False, every_s=cfg.mlflow.stream_every_s)
    if not t.start():
        return 1
    n = sync(t, store)
    t.close()
    print(f"synced {n} committed units of {sweep_id} to MLflow at {uri}", file=sys.stderr)
    return 0 if t.down is None else 1


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        cfg = load_config(args.config)              # every problem at once, before any actor starts
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    store_uri = args.store or cfg.store
    sweep_id = args.sweep_id or cfg.default_sweep_id()
    if args.sync_mlflow:
        return sync_only(cfg, store_uri, sweep_id)
    from cluster.run import run_sweep

    run = run_sweep(cfg, store_uri, sweep_id, args.address)
    stats, store, uri = run.stats, run.store, run.tracking_uri
    print(f"\n{sweep_id}: committed {stats['committed']} units ({stats['rows']} rows), skipped {stats['skipped']} "
          f"already committed, {stats['failed_attempts']} failed attempts, {stats['quarantined']} quarantined\n",
          file=sys.stderr)
    print(summary(store, sweep_id))
    if uri.startswith("sqlite:///"):
        print(f"\nMLflow UI: mlflow ui --backend-store-uri {uri} --host 127.0.0.1")
    else:
        print(f"\nMLflow: {uri} (experiment {cfg.mlflow.experiment!r})")
    print(f"Results: python -c \"from sweeps.store import read_results; print(read_results({store_uri!r}, {sweep_id!r}))\"")
    return 1 if stats["quarantined"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
