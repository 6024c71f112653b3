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


def init_ray(target) -> str:
    """Start a local Ray on loopback (target.address None) or join the probed cluster; say which."""
    from cluster.ray_target import RayTargetError, describe_joined, is_loopback, read_marker

    if target.address is None:
        os.environ.pop("RAY_ADDRESS", None)
    if target.address is None or is_loopback(target.address):
        # Ray advertises (and dials) the machine's routable IP even for 127.0.0.1 unless told the cluster is one
        # machine; it reads this once at import, so it is set before `import ray`
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray

    if target.address is None:
        ray.init(address="local", include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=True)
        other = read_marker()
        note = f"; not joining the cluster recorded at {other} (--address auto would)" if other else ""
        return f"started a local Ray at {describe_joined()}{note}"
    try:
        ray.init(address=target.address, log_to_driver=True)
    except ConnectionError as exc:
        raise RayTargetError(f"cannot join the Ray cluster at {target.address} (from {target.source}): "
                             f"{str(exc).splitlines()[0]}; use --address local for a local Ray") from None
    return f"joined the cluster at {describe_joined()} (from {target.source})"


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
    from sweeps.controller import Controller, prepare
    from sweeps.progress import Progress
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

    def tracker(live: bool) -> Tracker:
        return Tracker(uri, cfg.mlflow.experiment, sweep_id, config_text=cfg.text, config_raw=cfg.raw,
                       benchmarks=prep.benchmarks, totals=prep.totals,
                       artifact_root=f"{root}/mlartifacts" if root else None, live=live,
                       every_s=cfg.mlflow.stream_every_s)

    print(f"sweep {sweep_id}: {len(prep.units)} units, {len(cfg.grid)} grid points, store {store_uri}, MLflow {redact_url(uri)}",
          file=sys.stderr)
    if args.sync_mlflow:
        t = tracker(live=False)
        if not t.start():
            return 1
        n = sync(t, store)
        publish(store, prep.samples, t, prep.benchmarks)   # samples files and headline metrics on the parent run
        t.close()
        print(f"synced {n} committed units of {sweep_id} to MLflow at {redact_url(uri)}", file=sys.stderr)
        return 0 if t.down is None else 1

    t = tracker(live=False)
    if t.start():
        sync(t, store)                             # replay what earlier runs committed (logs only missing steps)
    t.live = True
    if any(u.unit_id not in store.committed_units() for u in prep.units):   # nothing left: no Ray needed
        print(f"Ray: {init_ray(target)}", file=sys.stderr)
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
