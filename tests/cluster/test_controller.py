"""Controller on a real local Ray cluster: a unit that fails everywhere is retried on another replica, then quarantined."""
import dataclasses

import pytest
import ray

from cluster.pool import ReplicaPool
from sweeps.config import parse_config
from sweeps.controller import Controller, prepare
from sweeps.grid import GridPoint
from sweeps.store import SweepStore

pytestmark = pytest.mark.slow


def pool_factory(cfg, tag):
    def start(model):
        pool = ReplicaPool.start(model, cfg.replicas, tag=tag)
        pool.wait_ready()
        return pool
    return start


def test_failed_unit_retried_elsewhere_then_quarantined(ray_cluster, tmp_path):
    cfg = parse_config({"models": ["tiny-llava"], "benchmarks": [{"name": "shapes", "lite": 2}],
                        "grid": [{"strategy": "vispruner", "budget": 16, "ratio": 0.5}], "controls": False,
                        "shard_size": 1, "retries": 1, "replicas": {"count": 2},
                        "generation": {"max_new_tokens": 2, "batch_size": 2}})
    prep = prepare(cfg)
    good, bad = prep.units
    # T=0 is not a budget: PrunePlan refuses it inside Replica.run, so this unit fails on every replica
    prep.units[1] = dataclasses.replace(bad, points=(GridPoint("vispruner", 0, (("ratio", 0.5),)),))
    store = SweepStore.open(str(tmp_path), "sw")
    ray.init(address=ray_cluster.gcs)
    try:
        stats = Controller(cfg, "sw", store, prep).run(pool_factory(cfg, "ctl-test"))
        assert stats["committed"] == 1 and stats["quarantined"] == 1 and stats["failed_attempts"] == 2
        assert store.committed_units() == {good.unit_id}
        record = store.quarantined()[bad.unit_id]
        assert record["attempts"] == 2 and "PrunePlan.budget must be a positive integer" in record["error"]
        assert len(record["replicas"]) == 2            # the retry went to the other replica
        assert store.read().num_rows == 1
        # rerun: the committed unit is skipped, the quarantined one is tried again (and fails again)
        again = Controller(cfg, "sw", store, prep).run(pool_factory(cfg, "ctl-test2"))
        assert again["skipped"] == 1 and again["committed"] == 0 and again["quarantined"] == 1
        assert store.read().num_rows == 1
    finally:
        ray.shutdown()
