"""A small sweep with tiny-video-llava end to end: `ray job submit -- python jobs/sweep.py` on a real local Ray
cluster, results in the store. The benchmark is generated `shapes` (images: Video-LLaVA's image_tower, 256
tokens per image); the four video QA benchmarks run end to end with the judge in the video data tests."""
import pytest
import yaml

from sweeps.store import read_results


@pytest.mark.slow
def test_tiny_video_llava_sweep_on_local_ray(ray_cluster, tmp_path):
    name = "video-llava-e2e"
    cfg = {"name": name, "models": ["tiny-video-llava"], "benchmarks": [{"name": "shapes", "lite": 4}],
           "grid": [{"strategy": "keep_all"}, {"strategy": "vispruner", "budget": 64, "ratio": 0.5},
                    {"strategy": "fastv", "budget": 32, "layer": 2}],
           "controls": False, "shard_size": 2, "replicas": {"count": 1, "max_restarts": 1},
           "generation": {"max_new_tokens": 2, "batch_size": 2}, "mlflow": {"experiment": name, "stream_every_s": 0}}
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"# python jobs/sweep.py --config {name}.yaml\n" + yaml.safe_dump(cfg, sort_keys=False))
    from sweeps.config import load_config

    sid, store = load_config(path).default_sweep_id(), str(tmp_path / "results")
    out = ray_cluster.submit("--config", str(path), "--store", store)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    rows = read_results(store, sid).to_pylist()
    assert len(rows) == 4 * 3 and all(r["error"] is None for r in rows)
    kept = {}
    for r in rows:
        assert r["model"] == "tiny-video-llava" and r["n_visual_in"] == 256  # one image = 16 x 16 patches
        kept.setdefault(r["point_id"], set()).add(r["n_visual_kept"])
        assert r["prefill_flops"] > 0 and r["n_text"] > 0
    assert kept == {"keep_all/Tall": {256}, "vispruner/T64/r0.5": {64}, "fastv/T32/layer=2": {32}}
