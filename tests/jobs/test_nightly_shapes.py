"""The nightly lite sweep (sweeps/configs/nightly_lite.yaml) on the trained tiny-llava-shapes catches a real
regression made only in the strategy config: no edited baseline, the accuracy drop is found by the paired
(McNemar) test against the last passing run in MLflow; an unchanged rerun passes."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
POINT = "fastv/T192/layer=1"
WEAKENED = "fastv/T8/layer=1"       # the regression: FastV's budget cut from 192 to 8 tokens, in the config only
pytestmark = pytest.mark.slow


def _config(env: Path, name: str, fastv_budget: int) -> Path:
    cfg = yaml.safe_load((ROOT / "sweeps/configs/nightly_lite.yaml").read_text())
    assert cfg["models"] == ["tiny-llava-shapes"]
    fastv = next(g for g in cfg["grid"] if g["strategy"] == "fastv")
    assert fastv["budget"] == [192] and fastv["layer"] == 1
    fastv["budget"] = [fastv_budget]                                # the only change: one strategy's config
    cfg["mlflow"] = {"experiment": "nightly-shapes-test"}
    path = env / name
    path.write_text(yaml.safe_dump(cfg))
    return path


def nightly(env, config, sweep_id):
    cmd = [sys.executable, str(ROOT / "jobs/nightly.py"), "--config", str(config), "--store", str(env / "store"),
           "--report-dir", str(env / "reports"), "--thresholds", str(env / "thresholds.yaml"), "--sweep-id", sweep_id,
           "--ray-address", "local"]
    e = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS")}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=ROOT, env=e)
    report = env / "reports" / sweep_id / "regression.json"
    return res, (json.loads(report.read_text()) if report.exists() else None)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    env = tmp_path_factory.mktemp("nightly-shapes")
    (env / "thresholds.yaml").write_text("latency_ratio: 20.0\n")   # timing on a shared 2-core box is noise here
    pinned = _config(env, "lite.yaml", 192)
    return {sid: nightly(env, cfg, sid) for sid, cfg in
            (("base", pinned), ("rerun", pinned), ("weakened", _config(env, "weakened.yaml", 8)))}


def _acc(report, point):
    return next(f for f in report["findings"] if f["check"] == "accuracy" and f["point_id"] == point)


@pytest.mark.timeout(3000)
def test_unchanged_rerun_passes(runs):
    base, _ = runs["base"]
    assert base.returncode == 0, base.stdout[-3000:] + base.stderr[-3000:]
    res, rep = runs["rerun"]
    assert res.returncode == 0 and rep["status"] == "pass", res.stdout[-3000:] + res.stderr[-3000:]
    acc = _acc(rep, POINT)
    assert acc["base"] == acc["new"] and acc["p_value"] == 1.0                 # greedy: the same answers


@pytest.mark.timeout(3000)
def test_cut_budget_regression_is_flagged_by_the_paired_test(runs):
    res, rep = runs["weakened"]
    assert res.returncode == 1 and rep["status"] == "fail", res.stdout[-3000:] + res.stderr[-3000:]
    acc = _acc(rep, WEAKENED)
    assert acc["regressed"] and acc["test"] == "mcnemar_exact" and acc["p_value"] < 0.05
    assert acc["base"] - acc["new"] > 0.02 and f"vs baseline point {POINT}" in acc["reason"]
    assert not any(f["regressed"] for f in rep["findings"] if f["point_id"] != WEAKENED)   # nothing else moved
    assert f"REGRESSION tiny-llava-shapes shapes {WEAKENED} accuracy" in res.stdout
