"""Chaos run: the demo sweep while a random replica worker is SIGKILLed every few seconds, against a calm run.

    .venv/bin/python jobs/bench.py chaos [--config sweeps/configs/demo.yaml] [--samples 192] [--shard-size 8] [--kills 3] [--every 2] [--out docs/PERF.md]

Both runs are cluster.run.run_sweep on a local Ray (loopback) into throwaway stores. During the chaos run a
thread waits for the pool, then every `--every` seconds asks a random replica for its pid (`info()`, once it
answers: a replica still restarting is not killed again) and kills that worker, `--kills` times at most.
Reported: rows expected (units x grid points x samples), rows committed, duplicated row keys, quarantined
units, replica deaths the scheduler saw and rejoins, and the wall time of each run.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import random
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from the repo root

from jobs.perf_doc import write_section  # noqa: E402

SECTION = "## Chaos run (replica kills)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="sweeps/configs/demo.yaml", help="sweep config to run")
    parser.add_argument("--samples", type=int, default=None,
                        help="generated samples per benchmark (params n and lite; default: the config's)")
    parser.add_argument("--shard-size", type=int, default=None, help="samples per unit (default: the config's)")
    parser.add_argument("--kills", type=int, default=3, help="replica workers killed at most")
    parser.add_argument("--every", type=float, default=4.0, help="seconds between kills")
    parser.add_argument("--seed", type=int, default=0, help="which replica is killed when")
    parser.add_argument("--out", default="docs/PERF.md", help="Markdown file to update ('-' = print only)")


def _config(args):
    import yaml

    from sweeps.config import parse_config

    text = Path(args.config).read_text()
    raw = yaml.safe_load(text)
    if args.samples is not None:                  # a longer sweep: more generated samples (shapes: params.n)
        raw["benchmarks"] = [{**b, "lite": args.samples, "params": {**(b.get("params") or {}), "n": args.samples}}
                             for b in ({"name": b} if isinstance(b, str) else b for b in raw["benchmarks"])]
    if args.shard_size is not None:
        raw["shard_size"] = args.shard_size
    return parse_config(raw, text=text, default_name=Path(args.config).stem, path=args.config)


class _Count(logging.Handler):
    """Counts the scheduler's 'died' and 'is back' warnings."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.died = self.back = self.retired = 0

    def emit(self, record):
        msg = record.getMessage()
        self.died += " died (death " in msg
        self.back += " is back " in msg
        self.retired += msg.startswith("retiring replica")


def run_once(cfg, kills: int, every: float, seed: int) -> dict:
    import ray

    from cluster.run import run_sweep, start_pool
    from sweeps.rows import ROW_KEY

    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    count = _Count()
    logging.getLogger("vissweep.controller").addHandler(count)
    pools, killed, stop = [], [], threading.Event()
    rng = random.Random(seed)

    def killer():
        while not pools and not stop.wait(0.1):
            pass
        while len(killed) < kills and not stop.wait(every):
            alive = list(pools[-1].replicas)
            if not alive:
                return
            h = rng.choice(alive)
            try:
                pid = ray.get(h.actor.info.remote(), timeout=60)["pid"]
            except Exception:  # restarting or gone: try another time
                continue
            if stop.is_set():
                return
            os.kill(pid, signal.SIGKILL)
            killed.append((h.replica_id, pid))

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-chaos-") as d:
        cfg = dataclasses.replace(cfg, mlflow=dataclasses.replace(cfg.mlflow, tracking_uri=f"sqlite:///{d}/mlflow.db",
                                                                  experiment="bench-chaos"))
        start = start_pool(cfg, "chaos")

        def factory(model):
            pool = start(model)
            pools.append(pool)
            return pool

        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        try:
            run = run_sweep(cfg, d, "chaos", "local", progress=False, log_to_driver=False, pool_factory=factory)
            wall = time.perf_counter() - t0
            stop.set()
            table = run.store.read()
        finally:
            stop.set()
            ray.shutdown()
            logging.getLogger("vissweep.controller").removeHandler(count)
        thread.join(timeout=5)
    from sweeps.controller import prepare

    expected = sum(u.num_rows for u in prepare(cfg).units)
    keys = list(zip(*(table.column(k).to_pylist() for k in ROW_KEY)))
    return {"wall_s": wall, "units": run.units, "expected": expected, "rows": table.num_rows, "distinct": len(set(keys)),
            "duplicates": len(keys) - len(set(keys)), "quarantined": run.stats["quarantined"],
            "failed_attempts": run.stats["failed_attempts"], "kills": len(killed), "died": count.died,
            "back": count.back, "retired": count.retired}


def render(cfg, calm: dict, chaos: dict, args, command: str) -> str:
    from jobs.machine import describe

    def row(name, r):
        return (f"| {name} | {r['kills']} | {r['expected']} | {r['rows']} | {r['expected'] - r['distinct']} | "
                f"{r['duplicates']} | {r['quarantined']} | {r['failed_attempts']} | {r['died']} / {r['back']} | "
                f"{r['retired']} | {r['wall_s']:.1f} |")

    return "\n".join([
        SECTION, "",
        f"Command: `{command}`  ",
        f"Machine: {describe()}; a shared box (other jobs ran alongside)  ",
        f"Date: {time.strftime('%Y-%m-%d')}", "",
        f"Config {args.config} ({calm['units']} units of {cfg.shard_size} samples): {cfg.replicas.count} replicas, max_restarts {cfg.replicas.max_restarts}, retries "
        f"{cfg.retries}; up to {args.kills} SIGKILLs of a random replica worker, one every {args.every:g} s "
        "(jobs/bench_chaos.py).", "",
        "| run | kills | rows expected | rows committed | lost | duplicates | quarantined units | failed attempts "
        "| deaths seen / rejoined | retired | wall s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        row("calm", calm), row("chaos", chaos), "",
        "A kill costs the units in flight on that replica one attempt each; they are retried on the other replica "
        "while Ray restarts the killed one, which rejoins once its `info()` probe answers (cluster/scheduler.py). "
        "A kill that finds no unit in flight is absorbed by Ray's restart alone (no death seen by the scheduler). "
        "The chaos wall time includes each restart (a new worker process and a model load, several seconds "
        "on this shared 2-core box), during which the other replica carries the sweep.", "",
    ])


def main(args) -> int:
    cfg = _config(args)
    calm = run_once(cfg, 0, args.every, args.seed)
    chaos = run_once(cfg, args.kills, args.every, args.seed)
    command = "python jobs/bench.py chaos " + " ".join(sys.argv[2:])
    text = render(cfg, calm, chaos, args, command.strip())
    print(text)
    if args.out != "-":
        write_section(Path(args.out), SECTION, text)
    ok = all(r["rows"] == r["expected"] == r["distinct"] and not r["quarantined"] for r in (calm, chaos))
    return 0 if ok else 1
