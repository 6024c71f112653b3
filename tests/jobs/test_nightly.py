"""jobs/nightly.py end to end on real sweeps (tiny model, generated `shapes`, local Ray, SQLite MLflow):
first run passes and becomes the baseline; an unchanged rerun passes against it (found in MLflow by
nightly_status=pass); a pinned baseline with planted per-sample flips or lower FLOPs is caught (exit 1,
report, fail tags); a few random flips are not."""
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.compute as pc
import pytest

from sweeps import regression
from sweeps.store import read_results

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

CONFIG = """\
name: nightly-test
models: [tiny-llava]
benchmarks:
  - {name: shapes, lite: 8}
grid:
  - {strategy: keep_all}
  - {strategy: vispruner, budget: [64], ratio: [0.5]}
controls: false
shard_size: 8
replicas: {count: 1}
generation: {max_new_tokens: 2, batch_size: 8}
mlflow: {experiment: nightly-test}
"""
VIS = "vispruner/T64/r0.5"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("nightly")
    (d / "lite.yaml").write_text(CONFIG)
    # latency on a shared 2-core box swings several-fold; these runs test accuracy/FLOPs/plumbing, not timing
    (d / "thresholds.yaml").write_text("latency_ratio: 20.0\n")
    return d


def nightly(env, *args):
    cmd = [sys.executable, str(ROOT / "jobs/nightly.py"), "--config", str(env / "lite.yaml"), "--store", str(env / "store"),
           "--report-dir", str(env / "reports"), "--thresholds", str(env / "thresholds.yaml"), *args]
    import os
    e = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS")}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=400, cwd=ROOT, env=e)


def _client(env):
    from mlflow.tracking import MlflowClient

    return MlflowClient(f"sqlite:///{env}/store/mlflow.db")


def _parent(env, sweep_id):
    from sweeps.baselines import find_parent_run

    return find_parent_run(_client(env), sweep_id, "nightly-test")


@pytest.fixture(scope="module")
def two_runs(env):
    a = nightly(env, "--sweep-id", "nl-a", "--ray-address", "local")
    b = nightly(env, "--sweep-id", "nl-b", "--ray-address", "local")
    return a, b


def test_first_run_passes_and_becomes_baseline(env, two_runs):
    a, _ = two_runs
    assert a.returncode == 0, a.stdout[-3000:] + a.stderr[-3000:]
    assert "this run becomes the baseline" in (env / "reports/nl-a/regression.md").read_text()
    client = _client(env)
    parent = _parent(env, "nl-a")
    assert parent.data.tags["nightly_status"] == "pass"
    arts = {a.path for a in client.list_artifacts(parent.info.run_id, "nightly")}
    assert {"nightly/rows.parquet", "nightly/regression.md", "nightly/regression.json"} <= arts


def test_unchanged_rerun_passes_against_mlflow_baseline(env, two_runs):
    _, b = two_runs
    assert b.returncode == 0, b.stdout[-3000:] + b.stderr[-3000:]
    rep = json.loads((env / "reports/nl-b/regression.json").read_text())
    assert rep["status"] == "pass" and "nl-a" in rep["base"]                 # baseline found via MLflow tag
    checks = {(f["point_id"], f["check"]) for f in rep["findings"]}
    assert {(VIS, "accuracy"), (VIS, "flops"), ("keep_all/Tall", "accuracy")} <= checks
    acc = next(f for f in rep["findings"] if f["point_id"] == VIS and f["check"] == "accuracy")
    assert acc["base"] == acc["new"]                                          # greedy decoding: same answers
    assert _parent(env, "nl-b").data.tags["nightly_status"] == "pass"


def _baseline_from(env, sweep_id, name, edit):
    rows = read_results(str(env / "store"), sweep_id)
    out = []
    for r in rows.to_pylist():
        out.append(edit(r) if r["point_id"] == VIS else r)
    import pyarrow as pa

    from sweeps.rows import ROW_SCHEMA
    return regression.write_rows_json(pa.Table.from_pylist(out, schema=ROW_SCHEMA), env / name)


def test_planted_flips_in_pinned_baseline_are_caught_and_tagged(env, two_runs):
    rows = read_results(str(env / "store"), "nl-b")
    vis_scores = pc.filter(rows, pc.equal(rows["point_id"], VIS))["score"].to_pylist()
    assert len(vis_scores) == 8

    def better(r):                                   # the pinned baseline answered every question right
        r = dict(r)
        r["score"] = 1.0
        sc = json.loads(r["scores"])
        sc["score"] = 1.0
        r["scores"] = json.dumps(sc)
        return r

    n_wrong = sum(1 for s in vis_scores if s == 0.0)
    assert n_wrong >= 6, "tiny random model should get most shapes questions wrong"
    base = _baseline_from(env, "nl-b", "flipped.json", better)
    res = nightly(env, "--skip-sweep", "--sweep-id", "nl-b", "--baseline", str(base))
    assert res.returncode == 1, res.stdout + res.stderr
    assert f"REGRESSION tiny-llava shapes {VIS} accuracy" in res.stdout
    rep = json.loads((env / "reports/nl-b/regression.json").read_text())
    acc = next(f for f in rep["findings"] if f["point_id"] == VIS and f["check"] == "accuracy")
    assert acc["test"] == "mcnemar_exact" and acc["p_value"] == pytest.approx(regression.mcnemar_exact(n_wrong, 0))
    assert not any(f["regressed"] for f in rep["findings"] if f["point_id"] == "keep_all/Tall")
    client = _client(env)
    parent = _parent(env, "nl-b")
    assert parent.data.tags["nightly_status"] == "fail"
    from sweeps.baselines import child_runs
    kids = {c.data.tags["point_id"]: c.data.tags.get("nightly_status") for c in child_runs(client, parent)}
    assert kids == {VIS: "fail", "keep_all/Tall": "pass"}


def test_cheaper_pinned_baseline_is_a_flops_regression_and_noise_is_not(env, two_runs):
    def cheaper(r):                                  # baseline ran the point at 10% fewer FLOPs
        return {**r, "prefill_flops": r["prefill_flops"] * 0.9}

    base = _baseline_from(env, "nl-b", "cheaper.json", cheaper)
    res = nightly(env, "--skip-sweep", "--sweep-id", "nl-b", "--baseline", str(base), "--no-mlflow")
    assert res.returncode == 1 and f"{VIS} flops" in res.stdout, res.stdout + res.stderr

    flipped = {"n": 0}

    def one_flip(r):                                 # a single sample differs: noise, not a regression
        if flipped["n"] == 0 and r["score"] == 0.0:
            flipped["n"] += 1
            sc = json.loads(r["scores"])
            sc["score"] = 1.0
            return {**r, "score": 1.0, "scores": json.dumps(sc)}
        return r

    base = _baseline_from(env, "nl-b", "noise.json", one_flip)
    res = nightly(env, "--skip-sweep", "--sweep-id", "nl-b", "--baseline", str(base), "--no-mlflow")
    assert res.returncode == 0, res.stdout + res.stderr
    rep = json.loads((env / "reports/nl-b/regression.json").read_text())
    acc = next(f for f in rep["findings"] if f["point_id"] == VIS and f["check"] == "accuracy")
    assert acc["base"] - acc["new"] == pytest.approx(1 / 8) and not acc["regressed"]   # > 0.02 but p = 1.0


def test_dashboard_report_from_the_real_store_logged_to_mlflow(env, two_runs):
    out = env / "report-nl-b"
    import os
    e = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    res = subprocess.run([sys.executable, "-m", "dashboards.report", "nl-b", "--store", str(env / "store"), "--out", str(out),
                          "--mlflow", "--tracking-uri", f"sqlite:///{env}/store/mlflow.db"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT, env=e)
    assert res.returncode == 0, res.stdout + res.stderr
    page = (out / "index.html").read_text()
    assert page.count("data:image/png;base64,") == 5                 # tflops, latency, budget, loyalty, positional bias
    assert "vispruner" in (out / "table.md").read_text()
    arts = {a.path for a in _client(env).list_artifacts(_parent(env, "nl-b").info.run_id, "dashboards")}
    assert "dashboards/index.html" in arts
