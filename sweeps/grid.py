"""Grid points and work units: SweepConfig -> PrunePlans (the grid points, keyed by PrunePlan.key) ->
(model, benchmark shard, all points) units.

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
from sweeps.config import SweepConfig


GridPoint = PrunePlan   # a grid point is its PrunePlan: one key format (PrunePlan.key) everywhere


def grid_points(cfg: SweepConfig) -> list[PrunePlan]:
    return list(cfg.grid)


@dataclass(frozen=True)
class Unit:
    """One piece of work: a shard of one benchmark, for one model, with every grid point."""

    unit_id: str
    model: str
    benchmark: str                         # benchmark spec name
    shard: int
    sample_ids: tuple[str, ...]
    points: tuple[PrunePlan, ...]
    max_new_tokens: int

    @property
    def num_rows(self) -> int:
        return len(self.sample_ids) * len(self.points)


@dataclass
class Payload:
    """What the driver sends a replica for one unit: samples with their media bytes, their prompts (built on the
    driver), every grid point (PrunePlans; their to_dict() form is accepted), generation settings."""

    unit_id: str
    samples: list                      # sweeps.benchmarks.base.Sample
    prompts: list[str]
    points: list[PrunePlan]
    max_new_tokens: int
    batch_size: int

    def __post_init__(self) -> None:
        self.points = [PrunePlan.of(p) for p in self.points]


def unit_id(model: str, bench_key: dict[str, Any], shard: int, sample_ids, points, max_new_tokens: int) -> str:
    content = {"model": model, "benchmark": bench_key, "shard": shard, "samples": list(sample_ids),
               "points": [p.key for p in points], "max_new_tokens": max_new_tokens}
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
