"""Samples JSONL beside the results (one line per model x point x sample, with the question and answer of the real
benchmark sample) and, on the sweep's MLflow parent run (real SQLite MLflow), those files and the headline metrics;
publishing again adds nothing. Also: streamed loyalty on the child runs, and the experiment opens on its runs."""
import json

import pytest
from mlflow.tracking import MlflowClient

from sweeps.benchmarks import get_benchmark
from sweeps.store import SweepStore
from sweeps.sweep_outputs import FIELDS, publish
from sweeps.tracking import KIND_RUNS, KIND_TAG, Tracker
from tests.dashboards.synth import rows_for_point, table

SHAPES = get_benchmark("shapes", seed=0, n=8)


def _store(tmp_path):
    samples = SHAPES.load()
    rows = []
    for strat, T, r, flip in (("keep_all", None, None, 0), ("vispruner", 64, 0.5, 2)):
        preds = [("purple" if i < flip else s.answer) for i, s in enumerate(samples)]
        sc = [SHAPES.score(s, p) for s, p in zip(samples, preds)]
        point_rows = rows_for_point(strategy=strat, budget=T, ratio=r, benchmark="shapes", correct=[x["score"] for x in sc],
                                    scores=sc, sample_ids=[s.id for s in samples], sweep_id="out-1",
                                    flops=1e12 if T is None else 2e11)
        for row, p in zip(point_rows, preds):
            row["prediction"], row["unit_id"] = p, "u0"
        rows += point_rows
    store = SweepStore.open(str(tmp_path / "res"), "out-1")
    store.commit("u0", table(rows))
    return store, {"shapes": {s.id: s for s in samples}}, samples


def test_samples_file_and_parent_run(tmp_path):
    store, by_bench, samples = _store(tmp_path)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    tr = Tracker(uri, "outputs", "out-1", benchmarks={"shapes": SHAPES}, totals={("tiny-llava", "shapes"): 8},
                 artifact_root=str(tmp_path / "art"))
    assert tr.start()
    tr.on_commit(store.read())
    pub = publish(store, by_bench, tr)
    tr.close()

    path = tmp_path / "res" / "out-1" / "samples" / "shapes.jsonl"
    assert pub.samples == {"shapes": str(path)} and pub.logged
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert len(lines) == 2 * 8 and all(list(x) == list(FIELDS) for x in lines)
    by_key = {(x["point_id"], x["sample_id"]): x for x in lines}
    s0 = samples[0]
    first = by_key[("vispruner/T64/r0.5", s0.id)]
    assert (first["question"], first["answer"], first["prediction"], first["score"]) == (s0.question, s0.answer, "purple", 0.0)
    assert first["n_visual_kept"] == 64 and first["error"] is None
    assert by_key[("keep_all/Tall", s0.id)]["score"] == 1.0

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("outputs")
    assert exp.tags[KIND_TAG] == KIND_RUNS
    parent = client.get_run(tr.parent_id)
    assert [a.path for a in client.list_artifacts(tr.parent_id, "samples")] == ["samples/shapes.jsonl"]
    local = client.download_artifacts(tr.parent_id, "samples/shapes.jsonl", str(tmp_path / "dl"))
    assert open(local).read() == path.read_text()
    # vispruner 6/8 = 75% of keep_all: reaches neither level -> no headline keys for it
    assert not [k for k in parent.data.metrics if k.startswith("headline/")]
    # streamed loyalty on the child run: 6 of 8 answers equal keep_all's
    child = next(r for r in client.search_runs([exp.experiment_id], "tags.point_id = 'vispruner/T64/r0.5'"))
    assert child.data.metrics["loyalty"] == pytest.approx(0.75)


def test_headline_metrics_logged_once(tmp_path):
    store, by_bench, samples = _store(tmp_path)
    # a third point that keeps 100%: T=16 spatial, 1/5 of keep_all's FLOPs
    right = [SHAPES.score(s, s.answer) for s in samples]
    extra = rows_for_point(strategy="spatial", budget=16, benchmark="shapes", correct=[1.0] * 8, scores=right,
                           sample_ids=[s.id for s in samples], sweep_id="out-1", flops=2e11)
    for row, s in zip(extra, samples):
        row["prediction"], row["unit_id"] = s.answer, "u1"
    store.commit("u1", table(extra))
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    tr = Tracker(uri, "outputs2", "out-1", artifact_root=str(tmp_path / "art"))
    assert tr.start()
    publish(store, by_bench, tr)
    publish(store, by_bench, tr)                                  # a resumed run / --sync-mlflow publishes again
    client = MlflowClient(uri)
    key = "headline/tiny-llava/shapes/spatial/T_at_99"
    assert client.get_run(tr.parent_id).data.metrics[key] == 16.0
    assert len(client.get_metric_history(tr.parent_id, key)) == 1
    assert client.get_run(tr.parent_id).data.metrics["headline/tiny-llava/shapes/spatial/flops_saving_pct_at_95"] == pytest.approx(80.0)


def test_mlflow_down_still_writes_the_samples_file(tmp_path):
    store, by_bench, _ = _store(tmp_path)
    from tests.ray_cluster import free_port

    tr = Tracker(f"http://127.0.0.1:{free_port()}", "x", "out-1")
    assert not tr.start()
    pub = publish(store, by_bench, tr)
    assert not pub.logged and (tmp_path / "res" / "out-1" / "samples" / "shapes.jsonl").exists()
