"""A small LLaVA-NeXT sweep end to end: `ray job submit -- python jobs/sweep.py` with tiny-llava-next on a real
local Ray cluster and MLflow store; every row carries the real packed counts (shapes images are 336 x 336:
base + a 1 x 2 grid unpadded to 24 x 24 tokens + 24 newlines = 1176 with nothing pruned)."""
import pytest
import yaml

from pruning.accounting import prefill_flops
from pruning.models import model_config
from sweeps.store import read_results
from tests.jobs.test_sweep_e2e import assert_exactly_once, sweep_id_of

KEEP_ALL = 576 + 24 * (24 + 1)  # 1176


@pytest.mark.slow
def test_tiny_llava_next_sweep_on_local_ray(ray_cluster, tmp_path):
    cfg = {"name": "next-e2e", "models": ["tiny-llava-next"], "benchmarks": [{"name": "shapes", "lite": 4}],
           "grid": [{"strategy": "keep_all"}, {"strategy": "vispruner", "budget": 32, "ratio": 0.5},
                    {"strategy": "fastv", "budget": 32, "layer": 2}],
           "controls": False, "shard_size": 2, "replicas": {"count": 1, "max_restarts": 1},
           "generation": {"max_new_tokens": 2, "batch_size": 2}, "mlflow": {"experiment": "next-e2e"}}
    path = tmp_path / "next-e2e.yaml"
    path.write_text("# python jobs/sweep.py --config next-e2e.yaml\n" + yaml.safe_dump(cfg, sort_keys=False))
    store, sid = str(tmp_path / "results"), sweep_id_of(path)
    out = ray_cluster.submit("--config", str(path), "--store", store)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    table = read_results(store, sid)
    assert_exactly_once(table, n_samples=4, n_points=3)
    text = model_config("tiny-llava-next").text_config
    for row in table.to_pylist():
        assert row["model"] == "tiny-llava-next" and row["n_visual_in"] == KEEP_ALL
        kept = {"keep_all": KEEP_ALL, "fastv": 32 * 3}.get(row["strategy"])
        if kept is not None:
            assert row["n_visual_kept"] == kept
        else:  # T per crop through the packing: 32 base + at most 64 grid picks inside the unpadded area + 24 rows
            assert 32 + 24 <= row["n_visual_kept"] <= 32 + 64 + 24
            assert row["prefill_flops"] == prefill_flops(text, row["n_visual_kept"], row["n_text"])
