"""One metrics path: the job's summary table, the dashboards' table, the nightly check and MLflow's metrics give
the same per-point numbers for a point with an errored row, checked against hand-worked values; errors have no cost."""
import json
import math
import statistics
from datetime import datetime, timezone

import pyarrow as pa
import pytest

from dashboards.tables import paper_table
from sweeps import regression
from sweeps.benchmarks import get_benchmark
from sweeps.benchmarks.base import Sample
from sweeps.point_metrics import relative_pct, summarize, summarize_rows
from sweeps.rows import ROW_SCHEMA
from sweeps.store import SweepStore
from sweeps.tracking import point_metrics

POPE = get_benchmark("pope")
ANSWERS = ["yes", "no", "yes", "no"]
# vispruner: sample 2 errors (a corrupt image: no prediction, no cost); the others answer yes, yes, no
POINTS = {
    "keep_all/Tall": ("keep_all", None, None, ["yes", "no", "yes", "no"], [None] * 4),
    "vispruner/T64/r0.5": ("vispruner", 64, 0.5, ["Yes", "Yes", None, "No"], [None, None, "image: cannot decode", None]),
}
FLOPS = [1e12, 2e12, 3e12, 4e12]
PREFILL_S = [0.010, 0.020, 0.030, 0.080]


def rows(sweep_id="sw"):
    out = []
    for pid, (strategy, budget, ratio, preds, errors) in POINTS.items():
        for i, (pred, err) in enumerate(zip(preds, errors)):
            s = Sample(id=f"q{i}", question="Is there a dog?", answer=ANSWERS[i], meta={"category": "random"})
            sc = POPE.score(s, pred)
            ok = err is None
            out.append({
                "sweep_id": sweep_id, "unit_id": "u1", "model": "tiny-llava", "benchmark": "pope", "point_id": pid,
                "strategy": strategy, "budget": budget, "ratio": ratio,
                "params": json.dumps({} if ratio is None else {"ratio": ratio}), "sample_id": s.id,
                "category": "random", "prediction": pred, "score": sc.get("score"), "scores": json.dumps(sc),
                "n_visual_in": 576, "n_visual_kept": (576 if budget is None else budget) if ok else None,
                "n_text": 10 if ok else None, "prefill_flops": FLOPS[i] if ok else None,
                "kv_bytes": (i + 1) * 2**20 if ok else None, "t_vision": 0.001 if ok else None,
                "t_select": 0.0 if ok else None, "t_prefill": PREFILL_S[i] if ok else None,
                "t_decode": 0.005 if ok else None, "replica": "r0", "node": "n", "error": err,
                "created_at": datetime(2026, 1, 1, tzinfo=timezone.utc)})
    return pa.Table.from_pylist(out, schema=ROW_SCHEMA)


# Hand-worked, vispruner over its 3 error-free samples 0, 1, 3: gt yes/no/no, pred yes/yes/no -> tp=1 fp=1 fn=0,
# P=1/2 R=1 F1=2/3; keep_all F1=1 -> Rel.% 66.67. Costs over samples 0, 1, 3 only.
F1, REL = 2 / 3, 200 / 3
FLOPS_MEAN = (1e12 + 2e12 + 4e12) / 3                    # errors as 0 would give 1.75e12
KV_MEAN = (1 + 2 + 4) / 3 * 2**20
LAT_MEDIAN = statistics.median(0.001 + p + 0.005 for p in (0.010, 0.020, 0.080))


def vispruner(points):
    return next(p for p in points if p.strategy == "vispruner")


def test_summary_with_errors_hand_worked():
    pts = summarize(rows())
    vis, keep = vispruner(pts), next(p for p in pts if p.strategy == "keep_all")
    assert (vis.n, vis.n_errors, keep.n_errors) == (4, 1, 0)
    assert vis.primary_metric == "f1_mean" and vis.primary == pytest.approx(F1)
    assert vis.metrics["n_errors"] == 1
    assert vis.prefill_flops == pytest.approx(FLOPS_MEAN) and vis.kv_bytes == pytest.approx(KV_MEAN)
    assert vis.latency_s == pytest.approx(LAT_MEDIAN) and vis.n_visual_kept == 64
    assert vis.latency_p50_s["prefill"] == pytest.approx(0.020)
    assert relative_pct(vis, keep) == pytest.approx(REL)
    # errors never lower cost: the same point without its errored row has the same costs
    ok_only = summarize_rows([r for r in rows().to_pylist() if r["point_id"] == vis.point_id and not r["error"]])
    assert (ok_only.prefill_flops, ok_only.kv_bytes, ok_only.latency_s) == (vis.prefill_flops, vis.kv_bytes, vis.latency_s)
    assert ok_only.primary == vis.primary


def test_all_errors_have_no_cost():
    errored = [dict(r, error="boom", prefill_flops=None, kv_bytes=None, n_visual_kept=None,
                    **{t: None for t in ("t_vision", "t_select", "t_prefill", "t_decode")})
               for r in rows().to_pylist() if r["strategy"] == "vispruner"]
    p = summarize_rows(errored)
    assert p.n_errors == 4 and all(math.isnan(v) for v in (p.prefill_flops, p.kv_bytes, p.latency_s, p.n_visual_kept))


def test_mlflow_metrics_are_the_summary():
    t = rows()
    m = point_metrics(t.filter(pa.compute.equal(t["point_id"], "vispruner/T64/r0.5")), POPE)
    assert m["running_f1_mean"] == pytest.approx(F1)
    assert m["tflops"] == pytest.approx(FLOPS_MEAN / 1e12) and m["kv_mb"] == pytest.approx(KV_MEAN / 2**20)
    assert (m["samples"], m["n_errors"], m["error_rate"]) == (4, 1, 0.25)
    assert m["latency_p50_prefill_ms"] == pytest.approx(20.0)
    assert m["visual_tokens"] == 64


def test_job_summary_table_is_the_summary(tmp_path):
    from jobs.end_of_run import summary

    store = SweepStore.open(str(tmp_path / "res"), "sw")
    store.commit("u1", rows())
    text = summary(store.read())
    assert "tiny-llava / pope: F1 (%)" in text                  # the block names the real metric and its scale
    line = next(ln for ln in text.splitlines() if ln.startswith("vispruner")).split()
    # point n err F1(%) Rel.% Loyal% tokens GFLOPs p50ms
    assert line[1:3] == ["4", "1"] and line[3] == f"{100 * F1:.1f}" and line[4] == f"{REL:.1f}"
    assert float(line[7]) == pytest.approx(FLOPS_MEAN / 1e9, abs=0.005)
    assert float(line[8]) == pytest.approx(LAT_MEDIAN * 1e3, abs=0.05)


def test_dashboard_table_is_the_summary():
    t = paper_table(summarize(rows()), "tiny-llava")
    row = next(r for r in t.rows if r["strategy"] == "vispruner")
    acc, rel = row["cells"]["pope"]
    assert acc == pytest.approx(F1) and rel == pytest.approx(REL)


def test_nightly_check_is_the_summary():
    base, new = rows("base"), rows("new")
    rep = regression.compare(base, new)
    f = {(x.point_id, x.check): x for x in rep.findings}
    assert f[("vispruner/T64/r0.5", "accuracy")].new == pytest.approx(F1)
    assert f[("vispruner/T64/r0.5", "relative")].new == pytest.approx(REL)
    assert f[("vispruner/T64/r0.5", "flops")].new == pytest.approx(FLOPS_MEAN)
    assert f[("vispruner/T64/r0.5", "latency")].new == pytest.approx(LAT_MEDIAN)
    assert not rep.regressions
    # one more errored sample in the new run: flagged, and it does not make FLOPs look cheaper
    worse = rows("new").to_pylist()
    for r in worse:
        if r["point_id"] == "vispruner/T64/r0.5" and r["sample_id"] == "q3":
            r.update(error="timeout", prediction=None, prefill_flops=None, kv_bytes=None, t_prefill=None,
                     scores=json.dumps({"error": "timeout", "category": "random"}), score=None)
    rep = regression.compare(base, pa.Table.from_pylist(worse, schema=ROW_SCHEMA))
    f = {(x.point_id, x.check): x for x in rep.findings}
    assert f[("vispruner/T64/r0.5", "errors")].regressed and (f[("vispruner/T64/r0.5", "errors")].new == 2)
    assert f[("vispruner/T64/r0.5", "flops")].new == pytest.approx((1e12 + 2e12) / 2)
