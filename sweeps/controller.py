"""The sweep's run policy on the driver (no Ray): prepare, score, retry/quarantine, commit, track.

    python jobs/sweep.py --config sweeps/configs/demo.yaml

`prepare(cfg)` loads every benchmark, builds prompts and splits the work into units. A Controller then
runs the uncommitted units model by model through a replica pool that `pool_factory(model)` returns
(cluster.pool.ReplicaPool); the pool's scheduling loop (cluster/scheduler.py: ray.wait, in-flight
accounting, unit timeouts, retiring replicas) calls back here: `payload` for what to send, `score_rows`
when rows come back (bench.score per row; judge calls in a bounded thread pool), `commit` (atomic store
write, then tracking), and `failed` (retry on another replica, or quarantine after `retries` extra attempts).
"""
from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from sweeps.config import SweepConfig
from sweeps.grid import Payload, Unit, make_units
from sweeps.progress import Progress
from sweeps.rows import Result
from sweeps.store import SweepStore

log = logging.getLogger("vissweep.controller")


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


def _numeric(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


class Controller:
    """Run policy for one sweep id. Holds the stats; talks to the store and tracker; never to Ray."""

    def __init__(self, cfg: SweepConfig, sweep_id: str, store: SweepStore, prep: Prepared, tracker=None,
                 progress: Progress | None = None):
        self.cfg, self.sweep_id, self.store, self.prep = cfg, sweep_id, store, prep
        self.tracker, self.progress = tracker, progress
        self.judges = ThreadPoolExecutor(max_workers=cfg.judge_workers, thread_name_prefix="judge")
        self.stats = Counter()
        self.attempts: Counter = Counter()
        self.failed_on: dict[str, set[str]] = defaultdict(set)   # unit id -> replicas it failed on

    # -- what the scheduler reads ----------------------------------------------------------------
    @property
    def max_in_flight(self) -> int:
        return self.cfg.replicas.max_in_flight

    @property
    def unit_timeout_s(self) -> float | None:
        return self.cfg.unit_timeout_s

    def payload(self, unit: Unit) -> Payload:
        samples = [self.prep.samples[unit.benchmark][i] for i in unit.sample_ids]
        prompts = [self.prep.prompts[unit.benchmark][i] for i in unit.sample_ids]
        return Payload(unit.unit_id, samples, prompts, list(unit.points), unit.max_new_tokens,
                       self.cfg.generation.batch_size)

    # -- scoring ---------------------------------------------------------------------------------
    def score_rows(self, unit: Unit, raw: list[dict[str, Any]]) -> pa.Table:
        """Replica rows -> Result rows (ROW_SCHEMA): bench.score per row, point keys, sweep/unit ids."""
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
            s = samples[r["sample_id"]]
            cat = bench.category(s) if hasattr(bench, "category") else s.meta.get("category")
            rows.append(Result.scored(r, unit.points[r["point"]], sweep_id=self.sweep_id, unit_id=unit.unit_id,
                                      model=unit.model, benchmark=unit.benchmark, category=cat, scores=sc,
                                      score=_numeric(sc.get("score")), error=r["error"] or s.error, created_at=now))
        table = Result.to_table(rows)
        if table.num_rows != unit.num_rows:
            raise RuntimeError(f"unit {unit.unit_id}: replica returned {table.num_rows} rows, expected {unit.num_rows}")
        return table

    # -- outcomes --------------------------------------------------------------------------------
    def commit(self, unit: Unit, table: pa.Table) -> None:
        """Atomic store write first; only a committed unit reaches progress and tracking."""
        if self.store.commit(unit.unit_id, table):
            self.stats["committed"] += 1
            self.stats["rows"] += table.num_rows
            if self.progress:
                self.progress.commit(len(unit.sample_ids))
            if self.tracker is not None:
                self.tracker.on_commit(table, units_done=self.stats["committed"] + self.stats["skipped"],
                                       units_quarantined=self.stats["quarantined"])

    def failed(self, unit: Unit, kind: str, error: str, replica_id: str, elsewhere: bool = False) -> bool:
        """Record a failed attempt; True: run the unit again (elsewhere when possible), False: quarantined.

        A unit is quarantined once it has used its `retries` AND failed on two replicas, or on the only one
        left (`elsewhere`: the pool still holds a replica it has not failed on): a dying replica costs a retry,
        never the unit."""
        self.attempts[unit.unit_id] += 1
        self.failed_on[unit.unit_id].add(replica_id)
        self.stats["failed_attempts"] += 1
        log.warning("unit %s: %s on %s (attempt %d): %s", unit.unit_id, kind, replica_id,
                    self.attempts[unit.unit_id], error[:300])
        if self.attempts[unit.unit_id] <= self.cfg.retries or (elsewhere and len(self.failed_on[unit.unit_id]) < 2):
            return True
        self.store.quarantine(unit.unit_id, error, self.attempts[unit.unit_id], sorted(self.failed_on[unit.unit_id]))
        self.stats["quarantined"] += 1
        if self.progress:
            self.progress.quarantine(len(unit.sample_ids))
        return False

    # -- driving ---------------------------------------------------------------------------------
    def run(self, pool_factory) -> Counter:
        """Run every uncommitted unit; `pool_factory(model)` returns a started pool with `drive(units, policy)`
        and `stop()` (cluster.pool.ReplicaPool)."""
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
                pool.drive(units, self)
            finally:
                pool.stop()
        self.judges.shutdown(wait=False)
        return self.stats
