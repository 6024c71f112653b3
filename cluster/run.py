"""The one function that runs a sweep: run_sweep(cfg, store, sweep_id, address) -> SweepRun.

    from cluster.run import run_sweep
    run = run_sweep(load_config("sweeps/configs/demo.yaml"), "results", "demo-1", address="local")

It opens the results store, prepares the work on the driver (sweeps.controller.prepare), replays what earlier
runs committed into MLflow, joins or starts Ray only when there is work left, starts one replica pool per
model and drives it (cluster/scheduler.py) under the sweep's policy (sweeps.controller.Controller), then
closes tracking (backfilling it if MLflow went away). jobs/sweep.py, jobs/nightly.py, jobs/bench.py and the
tests call it; rerunning the same sweep id resumes.
"""
from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable


@dataclass
class SweepRun:
    sweep_id: str
    store: Any                 # sweeps.store.SweepStore
    stats: Counter
    units: int
    tracking_uri: str | None
    ray_target: str | None     # None: nothing was left to run, Ray was not touched
    tracker: Any = None        # sweeps.tracking.Tracker (closed), None without MLflow
    published: Any = None      # sweeps.sweep_outputs.Published: samples files and headlines
    benchmarks: dict | None = None   # benchmark name -> the sweep's benchmark objects


class SweepIdError(ValueError):
    """The sweep id is already used by a different config in this store (store.write_config refused it)."""


def init_ray(target, log_to_driver: bool = True) -> str:
    """Start a local Ray on loopback (target.address None) or join the probed cluster; say which.
    `target`: cluster.ray_target.Target (choose / probe), or an address string chosen from here."""
    from cluster.ray_target import RayTargetError, choose, describe_joined, is_loopback, read_marker

    if not hasattr(target, "address"):
        target = choose(target)
    if target.address is None:
        os.environ.pop("RAY_ADDRESS", None)
    if target.address is None or is_loopback(target.address):
        # Ray advertises (and dials) the machine's routable IP even for 127.0.0.1 unless told the cluster is one
        # machine; it reads this once at import, so it is set before `import ray`
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray

    if ray.is_initialized():
        return f"already connected to Ray at {describe_joined()}"
    if target.address is None:
        ray.init(address="local", include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=log_to_driver)
        other = read_marker()
        note = f"; not joining the cluster recorded at {other} (--address auto would)" if other else ""
        return f"started a local Ray at {describe_joined()}{note}"
    try:
        ray.init(address=target.address, log_to_driver=log_to_driver)
    except ConnectionError as exc:
        raise RayTargetError(f"cannot join the Ray cluster at {target.address} (from {target.source}): "
                             f"{str(exc).splitlines()[0]}; use --address local for a local Ray") from None
    return f"joined the cluster at {describe_joined()} (from {target.source})"


def start_pool(cfg, tag: str, tracker=None) -> Callable[[str], Any]:
    """pool_factory(model) -> a started, ready ReplicaPool of the config's replicas; prints where each replica
    landed and records it on the tracker's parent run."""
    from cluster.placement import placement_lines, placement_params
    from cluster.pool import ReplicaPool

    def factory(model: str) -> ReplicaPool:
        pool = ReplicaPool.start(model, cfg.replicas, tag=tag)   # num_gpus unset: from the joined cluster
        infos = pool.wait_ready()
        print(placement_lines(model, pool.num_gpus, pool.why, infos), file=sys.stderr)
        if tracker is not None:
            tracker.log_placement(placement_params(pool.num_gpus, infos))
        return pool

    return factory


def run_sweep(cfg, store: str, sweep_id: str, address=None, *, mlflow: bool = True, progress: bool = True,
              log_to_driver: bool = True, pool_factory: Callable[[str], Any] | None = None, prep=None,
              state: dict | None = None) -> SweepRun:
    """Assemble and run the sweep `cfg` into `store` under `sweep_id` on the Ray at `address`: 'local', 'auto',
    HOST:PORT, None ($RAY_ADDRESS, else a local Ray on 127.0.0.1), or a probed cluster.ray_target.Target.
    `state` (optional) is filled with the store and unit counts as soon as they are known (Ctrl-C reporting)."""
    from sweeps.controller import Controller, prepare
    from sweeps.progress import Progress
    from sweeps.store import SweepStore, local_path
    from sweeps.sweep_outputs import publish
    from sweeps.tracking import Tracker, sync, tracking_uri

    from sweeps.secrets import redact_url

    st = SweepStore.open(store, sweep_id)
    try:
        st.write_config(cfg.text, cfg.content_hash())   # cfg.text is redacted (sweeps/secrets.py)
    except ValueError as exc:
        raise SweepIdError(str(exc)) from None
    prep = prep or prepare(cfg)
    if state is not None:
        state.update(store=st, before=len(st.committed_units()), total=len(prep.units))
    uri = tracking_uri(cfg.mlflow.tracking_uri, store) if mlflow else None
    root = local_path(store)

    def tracker(live: bool):
        return Tracker(uri, cfg.mlflow.experiment, sweep_id, config_text=cfg.text, config_raw=cfg.raw,
                       benchmarks=prep.benchmarks, totals=prep.totals,
                       artifact_root=f"{root}/mlartifacts" if root else None, live=live,
                       every_s=cfg.mlflow.stream_every_s)

    print(f"sweep {sweep_id}: {len(prep.units)} units, {len(cfg.grid)} grid points, store {store}, "
          f"MLflow {redact_url(uri) if uri else None}", file=sys.stderr)
    t = None
    if mlflow:
        t = tracker(live=False)
        if t.start():
            sync(t, st)                            # replay what earlier runs committed (logs only missing steps)
        t.live = True
    committed = st.committed_units()
    target = None
    if any(u.unit_id not in committed for u in prep.units):   # nothing left: no Ray needed
        target = init_ray(address, log_to_driver)
        print(f"Ray: {target}", file=sys.stderr)
    done = [u for u in prep.units if u.unit_id in committed]
    prog = Progress(sweep_id, len(prep.units), sum(len(u.sample_ids) for u in prep.units),
                    done_units=len(done), done_samples=sum(len(u.sample_ids) for u in done)) if progress else None
    factory = pool_factory or start_pool(cfg, sweep_id, t)
    stats = Controller(cfg, sweep_id, st, prep, tracker=t, progress=prog).run(factory)
    if t is not None and t.down is not None:       # MLflow went away during the run: try once more now
        again = tracker(live=False)
        if again.start():
            sync(again, st)
            t = again
    published = publish(st, prep.samples, t, prep.benchmarks)   # samples JSONL beside the results; headline
    if t is not None:                                           # on the parent run
        t.close("FINISHED" if not stats["quarantined"] else "FAILED")
    return SweepRun(sweep_id, st, stats, len(prep.units), uri, target, t, published, prep.benchmarks)
