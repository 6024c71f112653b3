"""A small LLaVA-OneVision sweep end to end: `ray job submit -- python jobs/sweep.py` with tiny-llava-onevision on a
real local Ray cluster and MLflow store; every row carries the real packed counts (shapes images are 336 x 336:
best resolution 384 x 384, base + a 1 x 1 grid of 27 x 27 tokens, no padding, + 27 newlines = 1485)."""
import pytest
import yaml

from pruning.accounting import kv_cache_bytes, prefill_flops
from pruning.models import model_config
from sweeps.store import read_results
from tests.jobs.test_sweep_e2e import assert_exactly_once, sweep_id_of

KEEP_ALL = 729 + 27 * (27 + 1)  # 1485


@pytest.mark.slow
def test_tiny_llava_onevision_sweep_on_local_ray(ray_cluster, tmp_path):
    cfg = {"name": "ov-e2e", "models": ["tiny-llava-onevision"], "benchmarks": [{"name": "shapes", "lite": 4}],
           "grid": [{"strategy": "keep_all"}, {"strategy": "vispruner", "budget": 32, "ratio": 0.5},
                    {"strategy": "fastv", "budget": 32, "layer": 2}],
           "controls": False, "shard_size": 2, "replicas": {"count": 1, "max_restarts": 1},
           "generation": {"max_new_tokens": 2, "batch_size": 2}, "mlflow": {"experiment": "ov-e2e"}}
    path = tmp_path / "ov-e2e.yaml"
    path.write_text("# python jobs/sweep.py --config ov-e2e.yaml\n" + yaml.safe_dump(cfg, sort_keys=False))
    store, sid = str(tmp_path / "results"), sweep_id_of(path)
    out = ray_cluster.submit("--config", str(path), "--store", store)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    table = read_results(store, sid)
    assert_exactly_once(table, n_samples=4, n_points=3)
    text = model_config("tiny-llava-onevision").text_config
    kept = {"keep_all": KEEP_ALL, "vispruner": 32 + 32 + 27, "fastv": 32 * 2}  # T base + T grid (no padding) + rows
    for row in table.to_pylist():
        assert row["model"] == "tiny-llava-onevision" and row["n_visual_in"] == KEEP_ALL
        assert row["n_visual_kept"] == kept[row["strategy"]]
        if row["strategy"] != "fastv":
            assert row["prefill_flops"] == prefill_flops(text, row["n_visual_kept"], row["n_text"])
            assert row["kv_bytes"] == kv_cache_bytes(text, row["n_visual_kept"], 4)  # fp32 on CPU, 2 KV heads
