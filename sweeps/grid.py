"""Grid points and work units: SweepConfig -> points with stable ids -> (model, benchmark shard, all points) units.

A unit carries every grid point of its model so the replica encodes each image once per sweep
(DESIGN.md "Vision once, many plans"). Ids are content hashes, so a rerun of the same config
produces the same unit ids and the results store can skip what is already committed.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pruning.types import PrunePlan
from sweeps.config import GridEntry, SweepConfig, freeze


def _fmt(v: Any) -> str:
    if isinstance(v, tuple):                 # e.g. SparseVLM layers=(1, 3, 5) -> "1,3,5"
        return ",".join(_fmt(x) for x in v)
    return repr(v) if isinstance(v, str) else str(v)


@dataclass(frozen=True)
class GridPoint:
    strategy: str
    budget: int | None                     # T; None = keep all
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def from_entry(cls, e: GridEntry) -> "GridPoint":
        return cls(e.strategy, e.budget, e.params)

    @property
    def ratio(self) -> float | None:       # r, where the strategy has one
        r = dict(self.params).get("ratio")
        return None if r is None else float(r)

    @property
    def plan(self) -> PrunePlan:
        return PrunePlan(self.strategy, budget=self.budget, params=dict(self.params))

    @property
    def point_id(self) -> str:
        """Stable key, e.g. "vispruner/T64/r0.75", "keep_all/Tall", "fastv/T64/layer=2"."""
        parts = [self.strategy, "Tall" if self.budget is None else f"T{self.budget}"]
        parts += [f"r{v}" if k == "ratio" else f"{k}={_fmt(v)}" for k, v in self.params]
        return "/".join(parts)

    def run_name(self, model: str, benchmark: str) -> str:
        """MLflow child-run name {model}/{benchmark}/{strategy}/T{budget}-r{ratio} (STYLE.md)."""
        tail = "Tall" if self.budget is None else f"T{self.budget}"
        if self.ratio is not None:
            tail += f"-r{self.ratio}"
        extra = [f"{k}={_fmt(v)}" for k, v in self.params if k != "ratio"]
        return "/".join([model.split("/")[-1], benchmark, self.strategy, tail] + extra)

    def to_dict(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "budget": self.budget, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "GridPoint":
        return cls(d["strategy"], d["budget"], tuple(sorted((k, freeze(v)) for k, v in d["params"].items())))


def grid_points(cfg: SweepConfig) -> list[GridPoint]:
    return [GridPoint.from_entry(e) for e in cfg.grid]


@dataclass(frozen=True)
class Unit:
    """One piece of work: a shard of one benchmark, for one model, with every grid point."""

    unit_id: str
    model: str
    benchmark: str                         # benchmark spec name
    shard: int
    sample_ids: tuple[str, ...]
    points: tuple[GridPoint, ...]
    max_new_tokens: int

    @property
    def num_rows(self) -> int:
        return len(self.sample_ids) * len(self.points)


def unit_id(model: str, bench_key: dict[str, Any], shard: int, sample_ids, points, max_new_tokens: int) -> str:
    content = {"model": model, "benchmark": bench_key, "shard": shard, "samples": list(sample_ids),
               "points": [p.point_id for p in points], "max_new_tokens": max_new_tokens}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]
    return f"{bench_key['name']}-s{shard:05d}-{digest}"


def shard(ids: list[str], shard_size: int) -> list[list[str]]:
    return [ids[i:i + shard_size] for i in range(0, len(ids), shard_size)]


def make_units(cfg: SweepConfig, samples_by_benchmark: dict[str, list], max_new_tokens: dict[str, int]) -> list[Unit]:
    """Units for every (model, benchmark, shard), in a deterministic order (model, benchmark, shard).

    samples_by_benchmark: benchmark name -> loaded samples (anything with `.id`), in load order.
    max_new_tokens: benchmark name -> tokens to generate (config override or the benchmark's default).
    """
    points = tuple(grid_points(cfg))
    units = []
    for model in cfg.models:
        for spec in cfg.benchmarks:
            ids = [s.id for s in samples_by_benchmark[spec.name]]
            if len(set(ids)) != len(ids):
                raise ValueError(f"benchmark {spec.name!r}: sample ids are not unique")
            key = {"name": spec.name, "source": spec.source, "split": spec.split, "params": dict(spec.params)}
            for k, chunk in enumerate(shard(ids, cfg.shard_size)):
                mnt = max_new_tokens[spec.name]
                units.append(Unit(unit_id(model, key, k, chunk, points, mnt), model, spec.name, k,
                                  tuple(chunk), points, mnt))
    return units
