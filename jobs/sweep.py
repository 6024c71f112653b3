"""Run a pruning sweep: python jobs/sweep.py --config CONFIG.yaml [--store DIR_OR_URI] [--sweep-id ID]
                                            [--set KEY=VALUE ...] [--limit N]
                                            [--sync-mlflow] [--address auto|local|HOST:PORT]

On a cluster:  ray job submit --working-dir . -- python jobs/sweep.py --config sweeps/configs/demo.yaml --store /shared/results
Standalone:    python jobs/sweep.py --config sweeps/configs/demo.yaml     (starts a local Ray on 127.0.0.1)

The config is validated completely before Ray starts. The default sweep id is derived from the
config's content, so rerunning the same config resumes: committed units are skipped.
`--set replicas.count=1 --set 'grid[0].budget=[64]'` overrides config values and `--limit N` keeps each
benchmark's first N samples (sweeps/overrides.py); both are validated like the file and stored with it.
"""
from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from the repo root

from sweeps.config import ConfigError, load_config  # noqa: E402

log = logging.getLogger("vissweep.sweep")


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return int(text)


def command_line(argv=None) -> str:
    """The command as typed, for the head of a stored config that --set / --limit changed."""
    return shlex.join(["python", "jobs/sweep.py", *(sys.argv[1:] if argv is None else argv)])


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="jobs/sweep.py", description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True, help="sweep YAML (sweeps/configs/*.yaml)")
    p.add_argument("--store", help="results store: a local directory or a pyarrow URI (overrides the config)")
    p.add_argument("--sweep-id", help="default: <name>-<hash of the config content> (reruns resume)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                   help="override a config value, e.g. --set replicas.count=1 --set 'benchmarks[0].lite=8' "
                        "(value parsed as YAML; repeatable)")
    p.add_argument("--limit", type=_positive_int, metavar="N", help="keep only the first N samples of every benchmark")
    p.add_argument("--sync-mlflow", action="store_true", help="only backfill MLflow from the store, run nothing")
    p.add_argument("--address", default=None,
                   help="Ray: 'local' (start one on 127.0.0.1), HOST:PORT, or 'auto' (the cluster `ray start` "
                        "recorded in its marker file); default: $RAY_ADDRESS (set by ray job submit), else local")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        cfg = load_config(args.config, overrides=args.set, limit=args.limit,   # every problem at once,
                          command=command_line(argv))                          # before any actor starts
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    from cluster.ray_target import RayTargetError, choose, probe
    from sweeps.store_target import store_problem

    store_uri = args.store or cfg.store
    problem = store_problem(args.store, "--store") if args.store else store_problem(cfg.store, "store")
    if problem:                                    # a file, an unwritable place, a scheme pyarrow cannot open
        print(f"{args.config}: {problem}", file=sys.stderr)
        return 2
    try:
        target = choose(args.address)              # named, bounded failure here, before any work
        if target.address is not None and not args.sync_mlflow:   # --sync-mlflow needs no Ray
            probe(target)
    except RayTargetError as exc:
        print(f"{args.config}: {exc}", file=sys.stderr)
        return 2
    sweep_id = args.sweep_id or cfg.default_sweep_id()
    state = {"store": None, "before": 0, "total": 0}
    try:
        return run(args, cfg, store_uri, sweep_id, target, state)
    except KeyboardInterrupt:
        from sweeps.interrupt import interrupted_line, resume_command

        store = state["store"]
        done = len(store.committed_units()) if store is not None else 0
        changes = [w for item in args.set for w in ("--set", item)] + \
            ([] if args.limit is None else ["--limit", str(args.limit)])
        resume = resume_command(args.config, store_uri, sweep_id, args.address, changes)
        print(f"\n{interrupted_line(sweep_id, store_uri, done, state['total'], state['before'], resume)}",
              file=sys.stderr, flush=True)
        return 130
    except RayTargetError as exc:
        print(f"{args.config}: {exc}", file=sys.stderr)
        return 2


def run(args, cfg, store_uri: str, sweep_id: str, target, state: dict) -> int:
    if args.sync_mlflow:
        return sync_only(args, cfg, store_uri, sweep_id, state)
    from cluster.run import SweepIdError, run_sweep

    try:
        r = run_sweep(cfg, store_uri, sweep_id, target, state=state)   # the one runner (cluster/run.py)
    except SweepIdError as exc:
        print(f"{args.config}: --sweep-id: {exc}", file=sys.stderr)
        return 2
    stats = r.stats
    print(f"\n{sweep_id}: committed {stats['committed']} units ({stats['rows']} rows), skipped {stats['skipped']} "
          f"already committed, {stats['failed_attempts']} failed attempts, {stats['quarantined']} quarantined\n",
          file=sys.stderr)
    print_end_of_run(r.store, r.published, r.tracker, r.tracking_uri, cfg.mlflow.experiment, args, store_uri, sweep_id,
                     r.benchmarks)
    return 1 if stats["quarantined"] else 0


def sync_only(args, cfg, store_uri: str, sweep_id: str, state: dict) -> int:
    """--sync-mlflow: backfill MLflow from the store (and publish the samples files / headline), run nothing."""
    from sweeps.controller import prepare
    from sweeps.secrets import redact_url
    from sweeps.store import SweepStore, local_path
    from sweeps.sweep_outputs import publish
    from sweeps.tracking import Tracker, sync, tracking_uri

    store = SweepStore.open(store_uri, sweep_id)
    try:
        store.write_config(cfg.text, cfg.content_hash())   # cfg.text is redacted (sweeps/secrets.py)
    except ValueError as exc:
        print(f"{args.config}: --sweep-id: {exc}", file=sys.stderr)
        return 2
    prep = prepare(cfg)
    state.update(store=store, before=len(store.committed_units()), total=len(prep.units))
    uri = tracking_uri(cfg.mlflow.tracking_uri, store_uri)
    root = local_path(store_uri)
    print(f"sweep {sweep_id}: {len(prep.units)} units, {len(cfg.grid)} grid points, store {store_uri}, "
          f"MLflow {redact_url(uri)}", file=sys.stderr)
    t = Tracker(uri, cfg.mlflow.experiment, sweep_id, config_text=cfg.text, config_raw=cfg.raw,
                benchmarks=prep.benchmarks, totals=prep.totals, artifact_root=f"{root}/mlartifacts" if root else None,
                live=False, every_s=cfg.mlflow.stream_every_s)
    if not t.start():
        return 1
    n = sync(t, store)
    publish(store, prep.samples, t, prep.benchmarks)   # samples files and headline metrics on the parent run
    t.close()
    print(f"synced {n} committed units of {sweep_id} to MLflow at {redact_url(uri)}", file=sys.stderr)
    return 0 if t.down is None else 1


def print_end_of_run(store, published, tracker, uri: str, experiment: str, args, store_uri: str, sweep_id: str,
                     benchmarks=None) -> None:
    """The closing note: results table, headline, and the commands to look at everything (jobs/end_of_run.py)."""
    from jobs import end_of_run as note
    from sweeps.secrets import redact_url

    table = store.read()
    print(note.summary(table, benchmarks))
    heads = note.headline_text(published.headlines)
    if heads:
        print("\n" + heads)
    print(f"\nNext steps (from {Path.cwd()}):")
    print("\n".join(note.mlflow_lines(tracker, redact_url(uri), experiment, note.sync_command(args, store_uri, sweep_id))))
    print("\n".join(note.next_steps(store_uri, sweep_id, published.samples)))


if __name__ == "__main__":
    raise SystemExit(main())
