"""Replica pool: N Replica actors of one model, placed by the config (GPUs per replica, restarts).

    pool = ReplicaPool.start("tiny-llava", Replicas(count=2, num_gpus=0), tag="demo-1a2b")   # num_gpus=None: from the cluster
    pool.wait_ready()
    pool.drive(units, policy)          # cluster/scheduler.py: the ray.wait loop; policy = sweeps.controller.Controller
    pool.stop()

Actors are owned by the driver (not detached): if the driver dies, Ray reclaims them. Ray restarts a
crashed actor up to max_restarts times (reloading the model in __init__); calls in flight on it fail
and the controller retries their units elsewhere. Nothing here blocks on a collective.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field

import ray

from cluster.placement import resolve_replicas
from cluster.replica import ReplicaActor
from sweeps.config import Replicas

log = logging.getLogger("vissweep.pool")


@dataclass(eq=False)
class Handle:
    replica_id: str
    actor: ray.actor.ActorHandle


@dataclass
class ReplicaPool:
    model: str
    num_gpus: float = 0.0                 # per replica, as placed (resolved from the cluster when the config left it out)
    why: str = "replicas.num_gpus in the config"
    replicas: list[Handle] = field(default_factory=list)
    retired: list[Handle] = field(default_factory=list)

    @classmethod
    def start(cls, model: str, spec: Replicas, tag: str, threads: int | None = None) -> "ReplicaPool":
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", model)[-40:]
        why = "replicas.num_gpus in the config"
        if spec.num_gpus is None:                     # unset in the config: what the joined cluster has
            spec, why = resolve_replicas(spec)
        if threads is None and spec.num_gpus == 0:
            threads = max(1, (os.cpu_count() or 1) // spec.count)   # share the CPU box between replicas
        pool = cls(model, num_gpus=spec.num_gpus, why=why)
        for i in range(spec.count):
            rid = f"{slug}-r{i}"
            actor = ReplicaActor.options(
                name=f"vissweep-{tag}-{rid}", num_gpus=spec.num_gpus, num_cpus=1,
                max_restarts=spec.max_restarts, max_task_retries=0,   # the controller retries units, not Ray
            ).remote(model, rid, threads)
            pool.replicas.append(Handle(rid, actor))
        return pool

    def wait_ready(self, timeout: float = 600) -> list[dict]:
        """Block until every replica has loaded its model (one ray.get over all of them)."""
        infos = ray.get([h.actor.info.remote() for h in self.replicas], timeout=timeout)
        for info in infos:
            log.info("replica %s ready on %s (pid %s), device %s", info["replica"], info["node"], info["pid"],
                     info.get("device"))
        return infos

    def drive(self, units: list, policy) -> None:
        """Run the units on these replicas (cluster/scheduler.py) under the sweep's policy."""
        from cluster.scheduler import drive

        drive(self, units, policy)

    def retire(self, handle: Handle) -> None:
        self.replicas.remove(handle)
        self.retired.append(handle)
        ray.kill(handle.actor, no_restart=True)

    def stop(self) -> None:
        for h in self.replicas + self.retired:
            try:
                ray.kill(h.actor, no_restart=True)
            except Exception:  # already dead
                pass
        self.replicas, self.retired = [], []
