"""jobs/sweep.py end to end on a real local Ray cluster (`ray start --head` + `ray job submit`) and a real MLflow store.

- a bad config fails before Ray starts, listing every problem;
- a submitted sweep completes with exactly one row per (grid point, sample) although a replica is
  SIGKILLed mid-sweep, and its MLflow runs carry streamed metric histories;
- a driver SIGKILLed mid-sweep while MLflow is down, then rerun: committed units are not recomputed,
  nothing is duplicated, and MLflow is backfilled (re-syncing adds nothing).
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray
import yaml
from mlflow.tracking import MlflowClient

from sweeps.store import read_results
from sweeps.rows import ROW_KEY
from tests.ray_cluster import free_port

REPO = Path(__file__).resolve().parents[2]


def write_config(tmp_path, name, lite, shard_size, grid, max_new_tokens=2):
    cfg = {"name": name, "models": ["tiny-llava"], "benchmarks": [{"name": "shapes", "lite": lite}], "grid": grid,
           "controls": False, "shard_size": shard_size, "replicas": {"count": 2, "max_restarts": 2},
           "generation": {"max_new_tokens": max_new_tokens, "batch_size": 2}, "mlflow": {"experiment": name, "stream_every_s": 0}}
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"# python jobs/sweep.py --config {name}.yaml\n" + yaml.safe_dump(cfg, sort_keys=False))
    return path


def sweep_id_of(path):
    from sweeps.config import load_config

    return load_config(path).default_sweep_id()


def wait_until(pred, timeout, every=0.5):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(every)
    return False


def units_dir(store, sweep_id):
    return Path(store) / sweep_id / "units"


def committed(store, sweep_id):
    d = units_dir(store, sweep_id)
    return sorted(p.name for p in d.glob("*.parquet") if not p.name.startswith(".tmp")) if d.exists() else []


def assert_exactly_once(table, n_samples, n_points):
    assert table.num_rows == n_samples * n_points
    keys = list(zip(*[table[k].to_pylist() for k in ROW_KEY]))
    assert len(set(keys)) == len(keys)
    assert len(set(table["sample_id"].to_pylist())) == n_samples
    assert len(set(table["point_id"].to_pylist())) == n_points
    assert table["error"].null_count == table.num_rows            # no error rows


def test_bad_config_fails_before_ray_starts(tmp_path, capsys):
    sys.path.insert(0, str(REPO / "jobs"))
    import sweep as sweep_job

    bad = tmp_path / "bad.yaml"
    bad.write_text("# python jobs/sweep.py --config bad.yaml\nmodels: [tiny-llava, tiny-lava]\nbenchmarks: [shapse]\n"
                   "grid: [{strategy: vispruner, budget: 999, ratoi: 0.5}]\nreplicas: {cuont: 2}\n")
    assert sweep_job.main(["--config", str(bad), "--store", str(tmp_path / "res")]) == 2
    err = capsys.readouterr().err
    for key in ("models[1]:", "benchmarks[0].name:", "grid[0].ratoi:", "grid[0].budget:", "replicas.cuont:"):
        assert f"  - {key}" in err
    assert "'tiny-llava'" in err and "'shapes'" in err and "'ratio'" in err and "'count'" in err
    assert ray.is_initialized() is False
    assert not (tmp_path / "res").exists()                        # nothing written either


@pytest.mark.slow
def test_job_submit_survives_a_killed_replica(ray_cluster, tmp_path):
    # 12 units of 1 sample x 2 points; the replica is killed right after the first commit, while it holds
    # up to 2 queued units (max_in_flight), so the kill lands on work in flight
    cfg = write_config(tmp_path, "e2e", lite=12, shard_size=1, max_new_tokens=8,
                       grid=[{"strategy": "keep_all"}, {"strategy": "vispruner", "budget": 16, "ratio": 0.5}])
    store, sid = str(tmp_path / "results"), sweep_id_of(cfg)
    out = ray_cluster.submit("--config", str(cfg), "--store", store, wait=False)
    assert out.returncode == 0, out.stderr[-2000:]
    job_id = next(w for line in (out.stdout + out.stderr).splitlines() for w in line.replace("'", " ").split()
                  if w.startswith("raysubmit_"))
    try:
        # pids first (the state API is slow), then kill the moment the first unit commits
        assert wait_until(lambda: len(ray_cluster.actors("Replica")) == 2, 300), ray_cluster.job_logs(job_id)[-3000:]
        victim = ray_cluster.actors("Replica")[0]["pid"]
        assert wait_until(lambda: len(committed(store, sid)) >= 1, 300, every=0.02), ray_cluster.job_logs(job_id)[-3000:]
        os.kill(victim, signal.SIGKILL)                            # a replica of our cluster, by pid
        at_kill = len(committed(store, sid))
        assert wait_until(lambda: ray_cluster.job_status(job_id) in ("SUCCEEDED", "FAILED", "STOPPED"), 400, every=2)
        logs = ray_cluster.job_logs(job_id)
        assert ray_cluster.job_status(job_id) == "SUCCEEDED", logs[-3000:]
    finally:
        if ray_cluster.job_status(job_id) not in ("SUCCEEDED", "FAILED", "STOPPED"):
            subprocess.run([str(Path(sys.executable).with_name("ray")), "job", "stop", "--address",
                            ray_cluster.dashboard, job_id], capture_output=True, timeout=60)
    assert at_kill < 12, "the sweep finished before the kill; nothing was tested"
    assert "replica died" in logs                                  # the kill hit a unit in flight, which was retried
    assert len(committed(store, sid)) == 12 and not (Path(store) / sid / "quarantine").exists()
    assert_exactly_once(read_results(store, sid), n_samples=12, n_points=2)
    assert "MLflow UI: start it, then open http://127.0.0.1:5000/#/experiments/" in logs
    assert "/bin/mlflow ui --backend-store-uri sqlite:///" in logs
    # MLflow, in the store's SQLite file: a parent run and one child per grid point with streamed history
    client = MlflowClient(f"sqlite:///{Path(store).resolve()}/mlflow.db")
    exp = client.get_experiment_by_name("e2e")
    runs = {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}
    assert set(runs) == {sid, "tiny-llava/shapes/keep_all/Tall", "tiny-llava/shapes/vispruner/T16-r0.5"}
    vis = runs["tiny-llava/shapes/vispruner/T16-r0.5"]
    steps = [m.step for m in client.get_metric_history(vis.info.run_id, "samples")]
    assert sorted(steps) == list(range(1, 13))                     # one point per committed unit, step = samples done
    assert "running_accuracy" in vis.data.metrics and "final_accuracy" in vis.data.metrics
    assert vis.data.params["budget"] == "16" and vis.data.params["ratio"] == "0.5"


@pytest.mark.slow
def test_driver_killed_with_mlflow_down_then_rerun(ray_cluster, tmp_path):
    # 12 units of 1 sample; 8 new tokens so that the driver can be killed between the first and last commit
    cfg = write_config(tmp_path, "resume", lite=12, shard_size=1, max_new_tokens=8,
                       grid=[{"strategy": "vispruner", "budget": 16, "ratio": 0.5}, {"strategy": "random", "budget": 16}])
    store, sid = str(tmp_path / "results"), sweep_id_of(cfg)
    closed = free_port()                                      # nothing listens there
    cmd = [sys.executable, "jobs/sweep.py", "--config", str(cfg), "--store", store]
    down = ray_cluster.env(MLFLOW_TRACKING_URI=f"http://127.0.0.1:{closed}")
    log1 = tmp_path / "run1.log"
    with open(log1, "w") as f:
        driver = subprocess.Popen(cmd, cwd=REPO, env=down, stdout=f, stderr=subprocess.STDOUT)
    try:
        assert wait_until(lambda: len(committed(store, sid)) >= 1 or driver.poll() is not None, 300, every=0.05)
    finally:
        driver.kill()                                             # SIGKILL: no cleanup, no final sync
        driver.wait()
    first = {n: (os.stat(units_dir(store, sid) / n).st_ino, os.stat(units_dir(store, sid) / n).st_mtime_ns)
             for n in committed(store, sid)}
    assert 1 <= len(first) < 12, log1.read_text()[-2000:]
    assert "MLflow at http://127.0.0.1" in log1.read_text() and "unavailable" in log1.read_text()

    env = ray_cluster.env()                                       # MLflow back: the default SQLite in the store
    rerun = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=480)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"Ray: joined the cluster at {ray_cluster.gcs} (1 node, 4 CPUs, 0 GPUs) (from $RAY_ADDRESS)" in rerun.stderr
    assert f"{len(first)} of 12 units already committed, skipping them" in rerun.stderr
    assert f"committed {12 - len(first)} units" in rerun.stderr
    for n, ident in first.items():                                # earlier units untouched (not recomputed)
        p = units_dir(store, sid) / n
        assert (os.stat(p).st_ino, os.stat(p).st_mtime_ns) == ident
    assert len(committed(store, sid)) == 12
    assert_exactly_once(read_results(store, sid), n_samples=12, n_points=2)

    client = MlflowClient(f"sqlite:///{Path(store).resolve()}/mlflow.db")
    exp = client.get_experiment_by_name("resume")
    runs = {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}
    assert set(runs) == {sid, "tiny-llava/shapes/vispruner/T16-r0.5", "tiny-llava/shapes/random/T16"}

    def histories():
        return {name: sorted((m.step, m.value) for m in client.get_metric_history(r.info.run_id, "samples"))
                for name, r in runs.items() if name != sid}

    before = histories()
    for h in before.values():                                     # backfilled + live: every step once, 1..12
        assert [s for s, _ in h] == list(range(1, 13))
    sync = subprocess.run(cmd + ["--sync-mlflow"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert sync.returncode == 0, sync.stderr[-2000:]
    assert histories() == before                                  # idempotent: nothing logged twice
    assert len(client.search_runs([exp.experiment_id])) == 3
