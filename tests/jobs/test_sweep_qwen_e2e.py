"""A small Qwen2.5-VL sweep end to end (`ray job submit` on a real local Ray cluster, real MLflow store) with the
tiny alias, its pixel options given as in sweeps/configs/qwen25vl.yaml: the options travel in the model name to
the replica, which applies them, so every image has the N the pixel range fixes."""
from pathlib import Path

import pytest
import yaml

from sweeps.config import load_config
from sweeps.rows import ROW_KEY
from sweeps.store import read_results

REPO = Path(__file__).resolve().parents[2]
PIXELS = 36 * 28 * 28  # min = max: the 336 x 336 shapes images become 168 x 168 px = 6 x 6 = 36 merged tokens


@pytest.mark.slow
def test_tiny_qwen_sweep_runs_end_to_end(ray_cluster, tmp_path):
    cfg = {"name": "qwen-e2e", "models": [{"name": "tiny-qwen2.5-vl", "min_pixels": PIXELS, "max_pixels": PIXELS}],
           "benchmarks": [{"name": "shapes", "lite": 4}],
           "grid": [{"strategy": "vispruner", "budget": 16, "ratio": 0.5}, {"strategy": "fastv", "budget": 8, "layer": 2}],
           "controls": False, "shard_size": 2, "replicas": {"count": 1, "max_restarts": 1},
           "generation": {"max_new_tokens": 2, "batch_size": 2}, "mlflow": {"experiment": "qwen-e2e"}}
    path = tmp_path / "qwen.yaml"
    path.write_text("# python jobs/sweep.py --config qwen.yaml\n" + yaml.safe_dump(cfg, sort_keys=False))
    loaded = load_config(path)
    assert loaded.models == (f"tiny-qwen2.5-vl?max_pixels={PIXELS}&min_pixels={PIXELS}",)
    store, sid = str(tmp_path / "results"), loaded.default_sweep_id()
    out = ray_cluster.submit("--config", str(path), "--store", store)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    table = read_results(store, sid)
    assert table.num_rows == 4 * 2 and table["error"].null_count == table.num_rows
    assert len(set(zip(*[table[k].to_pylist() for k in ROW_KEY]))) == 8
    rows = table.to_pylist()
    assert {r["n_visual_in"] for r in rows} == {36}
    assert sorted({(r["strategy"], r["n_visual_kept"]) for r in rows}) == [("fastv", 8), ("vispruner", 16)]
