"""MLflow tracking against a real SQLite MLflow store: runs, params, metric history with steps, backfill, idempotent sync."""
import json
from datetime import datetime, timezone

import pyarrow as pa
import pytest
from mlflow.tracking import MlflowClient

from sweeps.benchmarks import get_benchmark
from sweeps.benchmarks.base import Sample
from sweeps.rows import ROW_SCHEMA
from sweeps.store import SweepStore
from sweeps.tracking import Tracker, flatten, sync
from tests.ray_cluster import free_port

pytestmark = pytest.mark.slow
POPE = get_benchmark("pope")
ANSWERS = ["yes", "no", "yes", "no"]
PRED = {"keep_all/Tall": ["yes", "no", "yes", "no"], "vispruner/T64/r0.5": ["Yes", "Yes", "yes", "No"]}
POINTS = {"keep_all/Tall": ("keep_all", None, {}), "vispruner/T64/r0.5": ("vispruner", 64, {"ratio": 0.5})}
CONFIG = {"models": ["tiny-llava"], "benchmarks": ["pope"], "grid": [{"strategy": "vispruner", "budget": [64]}]}


def unit_rows(unit_id, idx):
    rows = []
    for pid, (strategy, budget, params) in POINTS.items():
        for i in idx:
            s = Sample(id=f"q{i}", question="?", answer=ANSWERS[i], meta={"category": "random"})
            sc = POPE.score(s, PRED[pid][i])
            rows.append({"sweep_id": "sw", "unit_id": unit_id, "model": "tiny-llava", "benchmark": "pope",
                         "point_id": pid, "strategy": strategy, "budget": budget, "ratio": params.get("ratio"),
                         "params": json.dumps(params), "sample_id": s.id, "category": "random",
                         "prediction": PRED[pid][i], "score": sc["score"], "scores": json.dumps(sc),
                         "n_visual_in": 576, "n_visual_kept": 576 if budget is None else budget, "n_text": 10,
                         "prefill_flops": (i + 1) * 1e12, "kv_bytes": (1 + i // 2) * 2**20,
                         "t_vision": 0.001, "t_select": 0.0, "t_prefill": (i + 1) * 0.01, "t_decode": 0.005,
                         "replica": "r0", "node": "n", "created_at": datetime.now(timezone.utc)})
    return pa.Table.from_pylist(rows, schema=ROW_SCHEMA)


def tracker(uri, tmp_path, live=True):
    return Tracker(uri, "test-exp", "sw", config_text="models: [tiny-llava]\n", config_raw=CONFIG,
                   benchmarks={"pope": POPE}, totals={("tiny-llava", "pope"): 4},
                   artifact_root=str(tmp_path / "artifacts"), live=live)


def history(client, run_id, key):
    return [(m.step, round(m.value, 6)) for m in sorted(client.get_metric_history(run_id, key), key=lambda m: m.step)]


def runs_by_name(client):
    exp = client.get_experiment_by_name("test-exp")
    return {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}


def check_logged(client):
    runs = runs_by_name(client)
    assert set(runs) == {"sw", "tiny-llava/pope/keep_all/Tall", "tiny-llava/pope/vispruner/T64-r0.5"}
    parent, vis = runs["sw"], runs["tiny-llava/pope/vispruner/T64-r0.5"]
    assert parent.data.tags["sweep_id"] == "sw" and "git_commit" in parent.data.tags
    assert "version.mlflow" in parent.data.tags
    assert parent.data.params["grid.0.strategy"] == "vispruner" and parent.data.params["grid.0.budget.0"] == "64"
    assert [a.path for a in client.list_artifacts(parent.info.run_id)] == ["config.yaml"]
    assert vis.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert vis.data.params["budget"] == "64" and vis.data.params["ratio"] == "0.5"
    assert vis.data.params["strategy"] == "vispruner" and vis.data.params["scoring_rules"] == "llava"
    rid = vis.info.run_id
    # POPE f1 over (pred, gt): step 2 -> tp=1 fp=1 fn=0 -> f1=2/3; step 4 -> tp=2 fp=1 -> f1=0.8
    assert history(client, rid, "running_f1_mean") == [(2, round(2 / 3, 6)), (4, 0.8)]
    assert history(client, rid, "rel_pct") == [(2, round(200 / 3, 6)), (4, 80.0)]   # keep_all f1 = 1
    assert history(client, rid, "score_mean") == [(2, 0.5), (4, 0.75)]
    # parsed answers yes,yes | yes,no vs keep_all's yes,no | yes,no: loyal on q0 (step 2), then q2, q3
    assert history(client, rid, "loyalty") == [(2, 0.5), (4, 0.75)]
    # prefill latency 10, 20, 30, 40 ms: p50 = 25, p95 = 30 + 0.85*10 (linear interpolation)
    assert history(client, rid, "latency_p50_prefill_ms")[-1] == (4, 25.0)
    assert history(client, rid, "latency_p95_prefill_ms")[-1] == (4, 38.5)
    assert history(client, rid, "tflops")[-1] == (4, 2.5)
    assert history(client, rid, "kv_mb")[-1] == (4, 1.5)
    assert history(client, rid, "final_f1_mean") == [(4, 0.8)]
    assert [a.path for a in client.list_artifacts(rid)] == ["predictions.parquet"]
    assert client.get_run(rid).info.status == "FINISHED"
    assert history(client, parent.info.run_id, "samples_done") == [(2, 2.0), (4, 4.0)]
    return {name: {k: len(client.get_metric_history(r.info.run_id, k)) for k in r.data.metrics} for name, r in runs.items()}


def make_store(tmp_path):
    store = SweepStore.open(str(tmp_path / "res"), "sw")
    store.commit("u1", unit_rows("u1", [0, 1]))
    store.commit("u2", unit_rows("u2", [2, 3]))
    return store


def test_streaming_then_resync_is_idempotent(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    store = make_store(tmp_path)
    t = tracker(uri, tmp_path)
    assert t.start() is True
    t.on_commit(store.read_unit("u1"), units_done=1)
    t.on_commit(store.read_unit("u2"), units_done=2)
    t.close()
    assert t.down is None
    client = MlflowClient(uri)
    counts = check_logged(client)
    # a second sync over the same store: no new runs, no new metric points
    again = tracker(uri, tmp_path, live=False)
    assert again.start() is True
    assert sync(again, store) == 2
    assert check_logged(client) == counts


def test_partial_stream_is_completed_by_sync_without_duplicates(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    store = make_store(tmp_path)
    t = tracker(uri, tmp_path)
    t.start()
    t.on_commit(store.read_unit("u1"), units_done=1)          # the driver died after the first unit
    later = tracker(uri, tmp_path, live=False)
    later.start()
    sync(later, store)
    check_logged(MlflowClient(uri))


def test_mlflow_down_loses_nothing_and_backfills(tmp_path, caplog):
    port = free_port()                                        # closed: nothing listens there
    store = make_store(tmp_path)
    down = tracker(f"http://127.0.0.1:{port}", tmp_path)
    with caplog.at_level("WARNING", logger="vissweep.tracking"):
        assert down.start() is False
        down.on_commit(store.read_unit("u1"))
        down.on_commit(store.read_unit("u2"))
    assert down.down and sum("unavailable" in r.message for r in caplog.records) == 1   # warned once
    assert store.read().num_rows == 8                          # 4 samples x 2 points, all in the store
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    up = tracker(uri, tmp_path, live=False)
    assert up.start() is True and sync(up, store) == 2
    check_logged(MlflowClient(uri))


def test_flatten_truncates_and_names_paths():
    flat = flatten({"a": {"b": [1, {"c": "x" * 2000}]}, "k": True})
    assert flat["a.b.0"] == "1" and flat["k"] == "True"
    assert len(flat["a.b.1.c"]) == 500 and flat["a.b.1.c"].endswith("...")


def test_throttled_stream_still_logs_the_final_step(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    store = make_store(tmp_path)
    t = Tracker(uri, "test-exp", "sw", config_raw=CONFIG, benchmarks={"pope": POPE},
                totals={("tiny-llava", "pope"): 4}, every_s=3600)
    assert t.start()
    t.on_commit(store.read_unit("u1"))        # first commit of the benchmark: logged
    t.on_commit(store.read_unit("u2"))        # within the interval, but it completes the benchmark: logged
    client = MlflowClient(uri)
    vis = runs_by_name(client)["tiny-llava/pope/vispruner/T64-r0.5"]
    assert history(client, vis.info.run_id, "running_f1_mean") == [(2, round(2 / 3, 6)), (4, 0.8)]
    store.commit("u3", unit_rows("u3", [0]).set_column(ROW_SCHEMA.get_field_index("sample_id"), "sample_id", pa.array(["q9"] * 2)))
    t.totals[("tiny-llava", "pope")] = 6
    t.on_commit(store.read_unit("u3"))        # incomplete and inside the interval: not streamed
    assert [s for s, _ in history(client, vis.info.run_id, "samples")] == [2, 4]
