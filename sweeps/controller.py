"""Controller: drives work units through the replica pool, scores on the driver, commits, streams to MLflow.

    python jobs/sweep.py --config sweeps/configs/demo.yaml

Backpressure: at most `replicas.max_in_flight` units queued per replica, `ray.wait` on the refs in
flight (one result at a time, never a blocking get over a list). A unit whose call fails (actor
died, exception) goes back to the front of the queue for another replica; after `retries` extra
attempts it is quarantined with its error in the store. Rows are scored here (bench.score; judge
calls in a bounded thread pool), committed atomically, and only then handed to tracking.
"""
from __future__ import annotations

import json
import logging
import math
import time
from collections import Counter, defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from sweeps.config import SweepConfig
from sweeps.grid import Unit, make_units
from sweeps.progress import Progress
from sweeps.rows import ROW_SCHEMA
from sweeps.store import SweepStore

log = logging.getLogger("vissweep.controller")
RETIRE_AFTER = 3          # consecutive failed units before a replica is given up on


@dataclass
class Prepared:
    """Everything the driver knows before any actor starts: benchmarks, samples, prompts, units."""

    benchmarks: dict[str, Any]                     # spec name -> benchmark object
    samples: dict[str, dict[str, Any]]             # spec name -> sample id -> Sample
    prompts: dict[str, dict[str, str]]             # spec name -> sample id -> prompt
    units: list[Unit]
    totals: dict[tuple[str, str], int] = field(default_factory=dict)   # (model, benchmark) -> samples


def build_benchmark(spec, rules: tuple[str, ...] = ()):
    """The benchmark as configured; under several scoring rules a WithRules (first rule primary)."""
    from sweeps.benchmarks.rules import with_rules

    params = dict(spec.params)
    if spec.judge is not None:
        from sweeps.judge import Judge

        params["judge"] = Judge(**spec.judge)
    return with_rules(spec.name, rules or [params.get("rule", "llava")], **params)


def prepare(cfg: SweepConfig) -> Prepared:
    """Load every benchmark (lite subsets as configured), build prompts on the driver, split into units."""
    benches, samples, prompts, mnt = {}, {}, {}, {}
    for spec in cfg.benchmarks:
        b = build_benchmark(spec, cfg.scoring_rules)
        loaded = b.load(spec.source, split=spec.split, limit=spec.lite)
        benches[spec.name] = b
        samples[spec.name] = {s.id: s for s in loaded}
        if len(samples[spec.name]) != len(loaded):     # rows are keyed by sample id: never merge two questions
            dup = [i for i, n in Counter(s.id for s in loaded).items() if n > 1]
            raise ValueError(f"benchmark {spec.name!r}: {len(dup)} sample id(s) occur more than once "
                             f"(e.g. {dup[:3]}); sample ids must be unique")
        prompts[spec.name] = {s.id: b.prompt(s) for s in loaded}
        mnt[spec.name] = cfg.generation.max_new_tokens or b.max_new_tokens
    units = make_units(cfg, {k: list(v.values()) for k, v in samples.items()}, mnt)
    totals = {(m, spec.name): len(samples[spec.name]) for m in cfg.models for spec in cfg.benchmarks}
    return Prepared(benches, samples, prompts, units, totals)


def _describe(exc: BaseException) -> str:
    """'ValueError: message' of the root cause (a RayTaskError wraps the replica's exception), then its traceback."""
    cause = getattr(exc, "cause", None) or exc
    text = str(cause).strip()
    head = f"{type(cause).__name__}: {text.splitlines()[0]}" if text else type(cause).__name__
    return (head + "\n" + str(exc)[-1500:])[:2000]


def _numeric(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


class Controller:
    def __init__(self, cfg: SweepConfig, sweep_id: str, store: SweepStore, prep: Prepared, tracker=None,
                 progress: Progress | None = None):
        self.cfg, self.sweep_id, self.store, self.prep = cfg, sweep_id, store, prep
        self.tracker, self.progress = tracker, progress
        self.judges = ThreadPoolExecutor(max_workers=cfg.judge_workers, thread_name_prefix="judge")
        self.stats = Counter()

    # -- scoring ---------------------------------------------------------------------------------
    def score_rows(self, unit: Unit, raw: list[dict[str, Any]]) -> pa.Table:
        """Replica rows -> ROW_SCHEMA rows: bench.score per row, point keys, sweep/unit ids."""
        bench = self.prep.benchmarks[unit.benchmark]
        samples = self.prep.samples[unit.benchmark]

        def score(r):
            s = samples[r["sample_id"]]
            try:
                return bench.score(s, r["prediction"] if r["error"] is None else None)
            except Exception as exc:  # a scorer bug marks the row, it does not lose the unit
                return {"error": f"score: {type(exc).__name__}: {exc}"}

        if getattr(bench, "needs_judge", False):
            scores = list(self.judges.map(score, raw))   # bounded concurrency for judge API calls
        else:
            scores = [score(r) for r in raw]
        now = datetime.now(timezone.utc)
        rows = []
        for r, sc in zip(raw, scores):
            p = unit.points[r["point"]]
            s = samples[r["sample_id"]]
            cat = bench.category(s) if hasattr(bench, "category") else s.meta.get("category")
            rows.append({
                **{k: r.get(k) for k in ("sample_id", "n_visual_in", "n_visual_kept", "n_text", "prefill_flops",
                                         "kv_bytes", "t_vision", "t_select", "t_prefill", "t_decode",
                                         "peak_mem_bytes", "replica", "node", "prediction")},
                "sweep_id": self.sweep_id, "unit_id": unit.unit_id, "model": unit.model, "benchmark": unit.benchmark,
                "point_id": p.point_id, "strategy": p.strategy, "budget": p.budget, "ratio": p.ratio,
                "params": json.dumps(dict(p.params), sort_keys=True), "category": cat,
                "score": _numeric(sc.get("score")), "scores": json.dumps(sc, default=str),
                "error": r["error"] or s.error, "created_at": now,
            })
        table = pa.Table.from_pylist(rows, schema=ROW_SCHEMA)
        expected = unit.num_rows
        if table.num_rows != expected:
            raise RuntimeError(f"unit {unit.unit_id}: replica returned {table.num_rows} rows, expected {expected}")
        return table

    def payload(self, unit: Unit):
        from cluster.replica import Payload

        samples = [self.prep.samples[unit.benchmark][i] for i in unit.sample_ids]
        prompts = [self.prep.prompts[unit.benchmark][i] for i in unit.sample_ids]
        return Payload(unit.unit_id, samples, prompts, [p.to_dict() for p in unit.points], unit.max_new_tokens,
                       self.cfg.generation.batch_size)

    # -- driving ---------------------------------------------------------------------------------
    def run(self, pool_factory) -> Counter:
        """Run every uncommitted unit; `pool_factory(model)` returns a started cluster.pool.ReplicaPool."""
        committed = self.store.committed_units()
        todo = [u for u in self.prep.units if u.unit_id not in committed]
        self.stats["skipped"] = len(self.prep.units) - len(todo)
        if self.stats["skipped"]:
            log.warning("sweep %s: %d of %d units already committed, skipping them", self.sweep_id,
                        self.stats["skipped"], len(self.prep.units))
        for model in self.cfg.models:
            units = [u for u in todo if u.model == model]
            if not units:
                continue
            pool = pool_factory(model)
            if self.progress and not self.stats["committed"]:
                self.progress.restart_clock()             # rate/ETA from when replicas are ready, not model load
            try:
                self._drive(pool, units)
            finally:
                pool.stop()
        self.judges.shutdown(wait=False)
        return self.stats

    def _pick(self, pool, unit: Unit, failed_on: set[str]):
        free = [h for h in pool.replicas if h.in_flight < self.cfg.replicas.max_in_flight]
        if not free:
            return None
        fresh = [h for h in free if h.replica_id not in failed_on] or free   # retry elsewhere when possible
        return min(fresh, key=lambda h: h.in_flight)

    def _next_done(self, in_flight: dict, started: dict[Any, float], hung: set):
        """ray.wait for one finished unit; with unit_timeout_s, restart the replica of a unit running past it.

        A replica runs its queued units one after another, so a unit's clock starts when it reaches the
        front of its replica's queue, not when it was submitted (a restarted replica's model load counts).
        The killed replica is restarted by Ray (max_restarts); its calls fail with RayActorError and the
        controller retries those units like any other failure.
        """
        import ray

        limit = self.cfg.unit_timeout_s
        while True:
            now = time.monotonic()
            running = {id(h) for r, (_, h) in in_flight.items() if r in started}
            for ref, (_, handle) in in_flight.items():          # in submission order, as the actor runs them
                if ref not in started and id(handle) not in running:
                    started[ref] = now
                    running.add(id(handle))
            deadlines = [t0 + limit for r, t0 in started.items() if r not in hung] if limit is not None else []
            ready, _ = ray.wait(list(in_flight), num_returns=1,
                                timeout=max(0.0, min(deadlines) - now) if deadlines else None)
            if ready:
                return ready[0]
            now = time.monotonic()
            for ref, t0 in started.items():
                if ref not in hung and now - t0 >= limit:
                    unit, handle = in_flight[ref]
                    log.warning("unit %s: no result from %s after %.0f s (unit_timeout_s); restarting the replica",
                                unit.unit_id, handle.replica_id, now - t0)
                    hung.add(ref)
                    ray.kill(handle.actor, no_restart=False)

    def _drive(self, pool, units: list[Unit]) -> None:
        import ray
        from ray.exceptions import RayActorError

        queue = deque(units)
        in_flight: dict[Any, tuple[Unit, Any]] = {}
        attempts: Counter = Counter()
        failed_on: dict[str, set[str]] = defaultdict(set)
        started: dict[Any, float] = {}            # ref -> when its replica began it (after the one ahead of it)
        hung: set = set()                          # refs whose replica was restarted for unit_timeout_s
        while queue or in_flight:
            while queue:
                handle = self._pick(pool, queue[0], failed_on[queue[0].unit_id])
                if handle is None:
                    break
                unit = queue.popleft()
                ref = handle.actor.run.remote(self.payload(unit))
                in_flight[ref] = (unit, handle)
                handle.in_flight += 1
            if not in_flight:
                raise RuntimeError(f"no replicas left for {pool.model}; {len(queue)} units not run "
                                   "(rerun the sweep to resume)")
            ref = self._next_done(in_flight, started, hung)
            unit, handle = in_flight.pop(ref)
            started.pop(ref, None)
            was_hung = ref in hung
            hung.discard(ref)
            handle.in_flight -= 1
            try:
                raw = ray.get(ref)                    # ready: returns at once (or raises for a killed replica)
                table = self.score_rows(unit, raw)
            except Exception as exc:  # actor died, task raised, rows unusable: retry, then quarantine
                kind = "replica died" if isinstance(exc, RayActorError) else "unit failed"
                error = _describe(exc)
                if was_hung:
                    kind = "unit timed out"
                    error = (f"UnitTimeout: no result within unit_timeout_s={self.cfg.unit_timeout_s:g} s; "
                             f"replica {handle.replica_id} was restarted\n{error}")
                attempts[unit.unit_id] += 1
                failed_on[unit.unit_id].add(handle.replica_id)
                handle.failures += 1
                self.stats["failed_attempts"] += 1
                log.warning("unit %s: %s on %s (attempt %d): %s", unit.unit_id, kind, handle.replica_id,
                            attempts[unit.unit_id], error[:300])
                if attempts[unit.unit_id] > self.cfg.retries:
                    self.store.quarantine(unit.unit_id, error, attempts[unit.unit_id], sorted(failed_on[unit.unit_id]))
                    self.stats["quarantined"] += 1
                    if self.progress:
                        self.progress.quarantine(len(unit.sample_ids))
                else:
                    queue.appendleft(unit)
                if handle.failures >= RETIRE_AFTER and handle in pool.replicas:
                    log.warning("retiring replica %s after %d consecutive failures", handle.replica_id, handle.failures)
                    pool.retire(handle)
                continue
            handle.failures = 0
            if self.store.commit(unit.unit_id, table):
                self.stats["committed"] += 1
                self.stats["rows"] += table.num_rows
                if self.progress:
                    self.progress.commit(len(unit.sample_ids))
                if self.tracker is not None:
                    self.tracker.on_commit(table, units_done=self.stats["committed"] + self.stats["skipped"],
                                           units_quarantined=self.stats["quarantined"])

