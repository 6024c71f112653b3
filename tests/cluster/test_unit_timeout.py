"""unit_timeout_s on a real local Ray cluster: a unit that hangs on one replica gets that replica restarted
and the unit retried on the other; every unit commits exactly once, and nothing waits forever."""
import logging
import sys
import time

import pytest
import ray

from cluster.pool import Handle, ReplicaPool
from cluster.replica import Replica
from sweeps.config import parse_config
from sweeps.controller import Controller, prepare
from sweeps.store import SweepStore

pytestmark = pytest.mark.slow


class StallingReplica(Replica):
    """The real replica, except that replica `stall_on` never answers for unit `stall_unit` (a hung GPU call)."""

    def __init__(self, model, replica_id, threads, stall_unit, stall_on):
        super().__init__(model, replica_id, threads)
        self.stall_unit, self.stall_on = stall_unit, stall_on

    def run(self, p):
        if p.unit_id == self.stall_unit and self.replica_id == self.stall_on:
            time.sleep(3600)
        return super().run(p)


@pytest.mark.timeout(360)          # without the feature this unit would hang for an hour
def test_hung_unit_restarts_its_replica_and_is_retried_elsewhere(ray_cluster, tmp_path, caplog):
    cfg = parse_config({"models": ["tiny-llava"], "benchmarks": [{"name": "shapes", "lite": 3}],
                        "grid": [{"strategy": "vispruner", "budget": 16, "ratio": 0.5}], "controls": False,
                        "shard_size": 1, "retries": 1, "unit_timeout_s": 20, "replicas": {"count": 2},
                        "generation": {"max_new_tokens": 2, "batch_size": 1}})
    prep = prepare(cfg)
    stall = prep.units[0].unit_id
    store = SweepStore.open(str(tmp_path), "sw")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])   # workers cannot import tests/
    ray.init(address=ray_cluster.gcs)
    try:
        actor = ray.remote(StallingReplica)

        def pool_factory(model):
            pool = ReplicaPool(model)
            for rid in ("r0", "r1"):
                pool.replicas.append(Handle(rid, actor.options(num_cpus=1, max_restarts=2, max_task_retries=0)
                                            .remote(model, rid, 1, stall, "r0")))
            pool.wait_ready()
            return pool

        t0 = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="vissweep.controller"):
            stats = Controller(cfg, "sw", store, prep).run(pool_factory)
        assert time.monotonic() - t0 < 240
        assert stats["committed"] == 3 and stats["quarantined"] == 0 and stats["failed_attempts"] >= 1
        assert store.committed_units() == {u.unit_id for u in prep.units}
        rows = store.read()
        assert rows.num_rows == 3 and len(set(rows.column("sample_id").to_pylist())) == 3
        stalled_rows = [r for r in rows.to_pylist() if r["unit_id"] == stall]
        assert [r["replica"] for r in stalled_rows] == ["r1"]          # the retry ran on the other replica
        assert any("restarting the replica" in m for m in caplog.messages)
        assert any("unit timed out" in m and stall in m for m in caplog.messages)
    finally:
        ray.shutdown()


def test_unit_timeout_must_be_positive():
    from sweeps.config import ConfigError

    with pytest.raises(ConfigError, match=r"unit_timeout_s: must be a number of seconds > 0"):
        parse_config({"models": ["tiny-llava"], "benchmarks": ["shapes"], "grid": [{"strategy": "keep_all"}],
                      "unit_timeout_s": 0})
