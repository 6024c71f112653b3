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
import os
import shlex
import sys
import tempfile
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
                   help="Ray: 'auto' (a running cluster), 'local' (start one here), or HOST:PORT; "
                        "default: $RAY_ADDRESS or a running cluster if there is one, else local")
    return p.parse_args(argv)


def init_ray(address: str | None) -> str:
    """Join $RAY_ADDRESS / the given address / the machine's running cluster, else start a local Ray on loopback."""
    running = (Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster").exists()   # what address="auto" reads
    target = address or os.environ.get("RAY_ADDRESS") or ("auto" if running else "local")
    if target == "local":
        os.environ.pop("RAY_ADDRESS", None)
        # Ray advertises the machine's routable IP even for 127.0.0.1 unless told the cluster is one machine;
        # it reads this once at import, so it is set before `import ray`
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray

    if target == "local":
        ray.init(include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=True)
        return "local Ray (127.0.0.1)"
    try:
        ray.init(address=target, log_to_driver=True)
    except ConnectionError as exc:
        raise SystemExit(f"cannot join the Ray cluster at {target!r} ({exc}); use --address local for a local Ray")
    return f"cluster at {target}"


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        cfg = load_config(args.config, overrides=args.set, limit=args.limit,   # every problem at once,
                          command=command_line(argv))                          # before any actor starts
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    from sweeps.controller import Controller, prepare
    from sweeps.progress import Progress
    from sweeps.store import SweepStore, local_path
    from sweeps.sweep_outputs import publish
    from sweeps.tracking import Tracker, sync, tracking_uri

    store_uri = args.store or cfg.store
    sweep_id = args.sweep_id or cfg.default_sweep_id()
    store = SweepStore.open(store_uri, sweep_id)
    store.write_config(cfg.text, cfg.content_hash())
    prep = prepare(cfg)
    uri = tracking_uri(cfg.mlflow.tracking_uri, store_uri)
    root = local_path(store_uri)

    def tracker(live: bool) -> Tracker:
        return Tracker(uri, cfg.mlflow.experiment, sweep_id, config_text=cfg.text, config_raw=cfg.raw,
                       benchmarks=prep.benchmarks, totals=prep.totals,
                       artifact_root=f"{root}/mlartifacts" if root else None, live=live,
                       every_s=cfg.mlflow.stream_every_s)

    print(f"sweep {sweep_id}: {len(prep.units)} units, {len(cfg.grid)} grid points, store {store_uri}, MLflow {uri}",
          file=sys.stderr)
    if args.sync_mlflow:
        t = tracker(live=False)
        if not t.start():
            return 1
        n = sync(t, store)
        publish(store, prep.samples, t, prep.benchmarks)   # samples files and headline metrics on the parent run
        t.close()
        print(f"synced {n} committed units of {sweep_id} to MLflow at {uri}", file=sys.stderr)
        return 0 if t.down is None else 1

    t = tracker(live=False)
    if t.start():
        sync(t, store)                             # replay what earlier runs committed (logs only missing steps)
    t.live = True
    if any(u.unit_id not in store.committed_units() for u in prep.units):   # nothing left: no Ray needed
        print(f"Ray: {init_ray(args.address)}", file=sys.stderr)
    from cluster.placement import placement_lines, placement_params
    from cluster.pool import ReplicaPool

    def pool_factory(model: str) -> ReplicaPool:
        pool = ReplicaPool.start(model, cfg.replicas, tag=sweep_id)   # num_gpus unset: from the joined cluster
        infos = pool.wait_ready()
        print(placement_lines(model, pool.num_gpus, pool.why, infos), file=sys.stderr)
        t.log_placement(placement_params(pool.num_gpus, infos))
        return pool

    committed = store.committed_units()
    done = [u for u in prep.units if u.unit_id in committed]
    progress = Progress(sweep_id, len(prep.units), sum(len(u.sample_ids) for u in prep.units),
                        done_units=len(done), done_samples=sum(len(u.sample_ids) for u in done))
    stats = Controller(cfg, sweep_id, store, prep, tracker=t, progress=progress).run(pool_factory)
    if t.down is not None:                         # MLflow went away during the run: try once more now
        again = tracker(live=False)
        if again.start():
            sync(again, store)
            t = again
    published = publish(store, prep.samples, t, prep.benchmarks)   # samples JSONL beside the results; headline
    t.close("FINISHED" if not stats["quarantined"] else "FAILED")              # on the parent run
    print(f"\n{sweep_id}: committed {stats['committed']} units ({stats['rows']} rows), skipped {stats['skipped']} "
          f"already committed, {stats['failed_attempts']} failed attempts, {stats['quarantined']} quarantined\n",
          file=sys.stderr)
    print_end_of_run(store, published, t, uri, cfg.mlflow.experiment, args, store_uri, sweep_id, prep.benchmarks)
    return 1 if stats["quarantined"] else 0


def print_end_of_run(store, published, tracker, uri: str, experiment: str, args, store_uri: str, sweep_id: str,
                     benchmarks=None) -> None:
    """The closing note: results table, headline, and the commands to look at everything (jobs/end_of_run.py)."""
    from jobs import end_of_run as note

    table = store.read()
    print(note.summary(table, benchmarks))
    heads = note.headline_text(published.headlines)
    if heads:
        print("\n" + heads)
    print(f"\nNext steps (from {Path.cwd()}):")
    print("\n".join(note.mlflow_lines(tracker, uri, experiment, note.sync_command(args, store_uri, sweep_id))))
    print("\n".join(note.next_steps(store_uri, sweep_id, published.samples)))


if __name__ == "__main__":
    raise SystemExit(main())
