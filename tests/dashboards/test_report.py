"""dashboards.report: a self-contained HTML report (embedded PNGs identical to the files next to it), the
table, and --mlflow logging onto the sweep's parent run (real SQLite MLflow, parent created by sweeps.tracking)."""
import base64
import re

import pyarrow.parquet as pq

from dashboards import report
from sweeps.benchmarks import get_benchmark
from tests.dashboards.synth import bernoulli, rows_for_point, table


def _rows(sweep_id="rep-1"):
    shapes = get_benchmark("shapes", seed=0, n=16)
    samples = shapes.load()
    rows = []
    for strat, T, r, flip in (("keep_all", None, None, 0), ("vispruner", 64, 0.5, 3), ("fastv", 64, None, 6)):
        preds = [("wrong" if i < flip else s.answer) for i, s in enumerate(samples)]
        sc = [shapes.score(s, p) for s, p in zip(samples, preds)]
        rows += rows_for_point(strategy=strat, budget=T, ratio=r, benchmark="shapes", correct=[x["score"] for x in sc],
                               scores=sc, sample_ids=[s.id for s in samples], sweep_id=sweep_id)
    rows += rows_for_point(strategy="keep_all", correct=bernoulli(16, 0.8, 0), sweep_id=sweep_id)
    rows += rows_for_point(strategy="vispruner", budget=64, ratio=0.5, correct=bernoulli(16, 0.6, 1), sweep_id=sweep_id)
    return table(rows)


def test_report_is_self_contained(tmp_path):
    index = report.build_report(_rows(), tmp_path / "out", "t")
    page = index.read_text()
    imgs = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)"', page)
    # shapes: tflops, latency, budget, loyalty, bias; toy: tflops, latency, budget, loyalty (no quadrants)
    assert len(imgs) == 9
    assert sum("positional bias" in alt for alt, _ in imgs) == 1
    assert sum("loyalty" in alt for alt, _ in imgs) == 2
    pngs = sorted((tmp_path / "out").glob("*.png"))
    assert sorted(base64.b64decode(b) for _, b in imgs) == sorted(p.read_bytes() for p in pngs)
    assert "<table" in page and "vispruner" in page
    md = (tmp_path / "out" / "table.md").read_text()
    # shapes: keep_all 16/16, vispruner 13/16 -> 81.25% acc, Rel. 81.2; its 3 wrong answers differ from
    # keep_all's (right) ones -> loyalty 13/16; fastv 6 wrong -> 62.5% acc, 62.5% loyal
    assert "| Method | T | r | shapes Acc. (%) | shapes Rel.% | shapes Loyalty % |" in md
    assert "| vispruner | 64 | 0.5 | 81.2 | 81.2 | 81.2 |" in md
    assert "| fastv | 64 |  | 62.5 | 62.5 | 62.5 |" in md


def test_cli_from_rows_file_and_mlflow_logging(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from sweeps.tracking import Tracker

    rows = _rows("rep-2")
    pq.write_table(rows, tmp_path / "rows.parquet")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    tr = Tracker(uri, "dash-test", "rep-2", artifact_root=str(tmp_path / "artifacts"))
    assert tr.start() is not False
    tr.on_commit(rows)
    tr.close()
    out = tmp_path / "report"
    rc = report.main(["rep-2", "--rows", str(tmp_path / "rows.parquet"), "--out", str(out), "--mlflow",
                      "--tracking-uri", uri, "--experiment", "dash-test"])
    assert rc == 0 and (out / "index.html").exists()
    client = MlflowClient(uri)
    arts = {a.path for a in client.list_artifacts(tr.parent_id, "dashboards")}
    assert {"dashboards/index.html", "dashboards/table.md", "dashboards/points.json"} <= arts


def test_report_adds_the_rules_table_when_rows_carry_several_rules(tmp_path):
    from sweeps.benchmarks.base import Sample
    from sweeps.benchmarks.rules import with_rules

    bench = with_rules("gqa", ["llava", "lmms_eval"])
    s = Sample(id="q", question="?", answer="yes", meta={"category": None})
    rows = []
    for strat, T, replies in (("keep_all", None, ["yes", "yes"]), ("vispruner", 64, ["Yes!", "yes"])):
        sc = [bench.score(s, r) for r in replies]
        rows += rows_for_point(strategy=strat, budget=T, ratio=0.5 if T else None, benchmark="gqa",
                               correct=[x["score"] for x in sc], scores=sc)
    report.build_report(table(rows), tmp_path / "multi", "t")
    md = (tmp_path / "multi" / "table.md").read_text()
    # vispruner: LLaVA 1/2 -> Rel. 50; lmms-eval 2/2 -> Rel. 100
    assert "(by scoring rule)" in md and "| vispruner | 64 | 0.5 | 50.0 | 50.0 | 100.0 | 100.0 | 50.0 | 100.0 |" in md
    report.build_report(_rows(), tmp_path / "single", "t")
    assert "(by scoring rule)" not in (tmp_path / "single" / "table.md").read_text()
