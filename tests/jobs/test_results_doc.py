"""jobs/results_doc.py tables (strategy x T cells from the benchmark's own aggregate, by hand) and
jobs/eval_tiny.py plan strings."""
from jobs.eval_tiny import label, parse_plan
from jobs.results_doc import grid_table
from sweeps.point_metrics import summarize
from tests.dashboards.synth import rows_for_point, table


def _scores(correct, types):
    return [{"score": float(c), "type": t, "category": t, "quadrant": "none"} for c, t in zip(correct, types)]


def test_grid_table_cells_by_hand():
    types = ["count", "count", "color", "color"]
    rows = (rows_for_point(strategy="keep_all", correct=[1, 1, 1, 0], benchmark="shapes", scores=_scores([1, 1, 1, 0], types))
            + rows_for_point(strategy="random", budget=16, correct=[1, 0, 0, 0], benchmark="shapes",
                             scores=_scores([1, 0, 0, 0], types))
            + rows_for_point(strategy="vispruner", budget=64, ratio=0.5, correct=[1, 1, 0, 0], benchmark="shapes",
                             scores=_scores([1, 1, 0, 0], types)))
    points = summarize(table(rows))
    md = grid_table(points, "accuracy").splitlines()
    assert md[0] == "| strategy | T=64 | T=16 |"
    assert md[2] == "| keep_all (576) | 75.0 | 75.0 |"
    assert md[3] == "| random |  | 25.0 |" and md[4] == "| vispruner r=0.5 | 50.0 |  |"
    count = grid_table(points, "acc_by_type/count").splitlines()
    assert count[2] == "| keep_all (576) | 100.0 | 100.0 |" and count[3] == "| random |  | 50.0 |"


def test_plan_strings():
    assert parse_plan("keep_all").strategy == "keep_all" and parse_plan("keep_all").budget is None
    p = parse_plan("vispruner:16:0.75")
    assert (p.strategy, p.budget, p.params) == ("vispruner", 16, {"ratio": 0.75})
    f = parse_plan("fastv:64:layer=1")
    assert (f.budget, f.params) == (64, {"layer": 1}) and label(f) == "fastv/T64/layer=1"
