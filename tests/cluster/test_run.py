"""cluster.run.run_sweep, the one runner, on a real local Ray cluster and a real MLflow SQLite store: rows for
every (grid point, sample) with the plans' keys; a rerun of the same sweep id commits nothing new and does not
touch Ray (resume)."""
import pytest
import ray

from cluster.run import run_sweep
from pruning import PrunePlan
from sweeps.config import parse_config
from sweeps.rows import Result

pytestmark = pytest.mark.slow


def test_run_sweep_runs_then_resumes_without_ray(ray_cluster, tmp_path):
    cfg = parse_config({"models": ["tiny-llava"], "benchmarks": [{"name": "shapes", "lite": 3}],
                        "grid": [{"strategy": "vispruner", "budget": 16, "ratio": 0.5}], "controls": False,
                        "shard_size": 2, "replicas": {"count": 1},
                        "mlflow": {"tracking_uri": f"sqlite:///{tmp_path}/mlflow.db", "experiment": "run-test"},
                        "generation": {"max_new_tokens": 2, "batch_size": 2}})
    try:
        run = run_sweep(cfg, str(tmp_path / "store"), "sw", address=ray_cluster.gcs, progress=False)
        assert run.ray_target and run.stats["committed"] == 2 and run.stats["quarantined"] == 0
        rows = Result.from_table(run.store.read())
        assert len(rows) == 3 and len({r.sample_id for r in rows}) == 3
        plan = PrunePlan("vispruner", 16, {"ratio": 0.5})
        assert {r.point_id for r in rows} == {plan.key} and all(r.plan == plan for r in rows)
        assert all(r.n_visual_kept == 16 and r.error is None for r in rows)
        assert Result.to_table(rows).equals(run.store.read())
    finally:
        ray.shutdown()
    again = run_sweep(cfg, str(tmp_path / "store"), "sw", address="127.0.0.1:1", progress=False)  # no Ray there
    assert again.ray_target is None and again.stats["skipped"] == 2 and again.stats["committed"] == 0
    assert again.store.read().num_rows == 3
