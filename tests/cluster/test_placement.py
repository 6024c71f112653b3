"""Replica placement: GPUs per replica come from the cluster, not the driver; a 0-GPU replica never sees CUDA.

The cluster here is a real `ray start --head --num-gpus 1` on loopback: Ray accepts a declared GPU
without hardware, and this machine (the driver) has no CUDA. One node only: a second cannot be added
on one machine without leaving loopback.
"""
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray
import torch
import yaml
from mlflow.tracking import MlflowClient

from cluster.placement import placement_params, replica_gpus
from sweeps.config import ConfigError, parse_config
from tests.ray_cluster import start_cluster

RAY = str(Path(sys.executable).with_name("ray"))


def test_replica_gpus_prefers_the_config_then_the_cluster():
    assert replica_gpus(None, {"CPU": 8.0, "GPU": 4.0})[0] == 1.0        # unset + cluster GPUs: one per replica
    assert replica_gpus(None, {"CPU": 8.0})[0] == 0.0                    # unset + no GPU anywhere: CPU
    assert replica_gpus(None, {"CPU": 8.0, "GPU": 0.5})[0] == 0.0        # no whole GPU to pin a model on
    assert replica_gpus(0.0, {"CPU": 8.0, "GPU": 4.0})[0] == 0.0         # explicit 0 is honoured even with GPUs
    assert replica_gpus(2.0, {"CPU": 8.0})[0] == 2.0                     # explicit value is honoured as written
    assert "config" in replica_gpus(1.0, {})[1] and "cluster has 4 GPU" in replica_gpus(None, {"GPU": 4.0})[1]


def test_num_gpus_left_out_stays_undecided_until_the_cluster_is_joined():
    base = {"models": ["tiny-llava"], "benchmarks": ["shapes"], "grid": [{"strategy": "keep_all"}]}
    assert parse_config(base).replicas.num_gpus is None
    assert parse_config({**base, "replicas": {"num_gpus": 1}}).replicas.num_gpus == 1.0
    for bad in (-1, "one", True):
        with pytest.raises(ConfigError, match="replicas.num_gpus"):
            parse_config({**base, "replicas": {"num_gpus": bad}})


def test_placement_params_are_flat_strings_per_replica():
    infos = [{"replica": "tiny-llava-r0", "host": "h", "node_ip": "127.0.0.1", "node_id": "abcd1234",
              "device": "cuda:0", "gpu_name": "NVIDIA H200"}]
    assert placement_params(1.0, infos) == {"replica.tiny-llava-r0.node": "h (127.0.0.1, node abcd1234)",
                                            "replica.tiny-llava-r0.device": "cuda:0 NVIDIA H200",
                                            "replica.tiny-llava-r0.num_gpus": "1"}


@pytest.fixture(scope="module")
def gpu_cluster():
    cluster = start_cluster(num_cpus=4, num_gpus=1)
    try:
        yield cluster
    finally:
        cluster.stop()


@ray.remote
class Probe:
    """What a replica sees of CUDA: before and after cluster.placement.pin_devices()."""

    def look(self):
        import os

        from cluster.placement import pin_devices

        before = os.environ.get("CUDA_VISIBLE_DEVICES")
        ids = pin_devices()
        return {"before": before, "after": os.environ.get("CUDA_VISIBLE_DEVICES"), "ids": ids}


@pytest.mark.slow
def test_cuda_is_hidden_from_a_replica_without_a_gpu(gpu_cluster):
    ray.init(address=gpu_cluster.gcs, runtime_env={"working_dir": str(Path(__file__).resolve().parents[2]),
                                                   "excludes": [".venv", ".git", "results"]})
    try:
        assert ray.cluster_resources().get("GPU") == 1.0
        with_gpu = Probe.options(num_gpus=1).remote()
        seen = ray.get(with_gpu.look.remote(), timeout=120)
        assert seen["ids"] == ["0"] and seen["after"] == "0"           # Ray's own assignment is left alone
        ray.kill(with_gpu)
        without = Probe.options(num_gpus=0).remote()
        seen = ray.get(without.look.remote(), timeout=120)
        assert seen["ids"] == [] and seen["after"] == ""                # hidden, whatever Ray set before (Ray 2.60
        ray.kill(without)                                               # sets nothing for 0-GPU actors)
    finally:
        ray.shutdown()


def _config(tmp_path) -> Path:
    cfg = {"name": "place", "models": ["tiny-llava"], "benchmarks": [{"name": "shapes", "lite": 2}],
           "grid": [{"strategy": "keep_all"}], "controls": False, "shard_size": 2,
           "replicas": {"count": 1, "max_restarts": 0},                # no num_gpus: the cluster decides
           "generation": {"max_new_tokens": 2, "batch_size": 2}, "mlflow": {"experiment": "place"}}
    path = tmp_path / "place.yaml"
    path.write_text("# python jobs/sweep.py --config place.yaml\n" + yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.mark.slow
def test_sweep_without_num_gpus_asks_the_clusters_gpu(gpu_cluster, tmp_path):
    assert not torch.cuda.is_available()                 # the driver has no CUDA: 1 can only come from the cluster
    cfg, store = _config(tmp_path), tmp_path / "results"
    out = gpu_cluster.submit("--config", str(cfg), "--store", str(store))
    logs = out.stdout + out.stderr
    assert out.returncode == 0, logs[-3000:]
    assert "replicas of tiny-llava: num_gpus=1 each (the cluster has 1 GPU)" in logs, logs[-3000:]
    line = next(ln for ln in logs.splitlines() if "tiny-llava-r0: node" in ln)
    assert "127.0.0.1" in line and "device cpu" in line and "Ray GPU ids [0]" in line, line
    assert "torch sees no CUDA device" in line                          # declared GPU, no hardware: said so
    # the actor really asked Ray for the GPU
    from ray.util.state import list_actors

    actors = [a for a in list_actors(address=gpu_cluster.dashboard, filters=[("class_name", "=", "Replica")],
                                     detail=True, raise_on_missing_output=False)]
    assert actors and all(a.required_resources.get("GPU") == 1.0 for a in actors), actors
    # and the same placement is in the sweep's parent run
    client = MlflowClient(f"sqlite:///{store.resolve()}/mlflow.db")
    exp = client.get_experiment_by_name("place")
    parent = next(r for r in client.search_runs([exp.experiment_id]) if r.data.tags.get("vissweep.role") == "parent")
    params = parent.data.params
    assert params["replica.tiny-llava-r0.num_gpus"] == "1"
    assert params["replica.tiny-llava-r0.device"] == "cpu"
    assert params["replica.tiny-llava-r0.node"].startswith(line.split("node ")[1].split(" (")[0])
