"""Per-point metrics come from the real benchmark's aggregate (POPE mean F1 over categories, shapes per-quadrant
accuracy), checked against hand-worked values; the bias chart's bars are those per-quadrant accuracies."""
import json

import matplotlib.colors
import numpy as np
import pytest

from dashboards import bias
from sweeps.benchmarks import get_benchmark
from sweeps.benchmarks.base import Sample
from sweeps.point_metrics import summarize
from tests.dashboards.synth import rows_for_point, table


def _rows(bench_name, samples, predictions, **kw):
    bench = get_benchmark(bench_name)
    scores = [bench.score(s, p) for s, p in zip(samples, predictions)]
    return rows_for_point(benchmark=bench_name, correct=[sc.get("score", 0.0) for sc in scores], scores=scores,
                          sample_ids=[s.id for s in samples], **kw)


def test_pope_point_metric_is_mean_f1_over_categories_not_mean_score():
    # adversarial: gt yes,yes,no,no / pred yes,no,yes,no -> P=1/2 R=1/2 F1=0.5
    # random:      gt yes,yes,no,no / pred yes,yes,yes,yes -> P=1/2 R=1 F1=2/3
    gts = ["yes", "yes", "no", "no"] * 2
    preds = ["Yes", "No", "Yes", "No", "Yes", "Yes", "Yes", "Yes"]
    cats = ["adversarial"] * 4 + ["random"] * 4
    samples = [Sample(id=f"p{i}", question="Is there a cat?", answer=g, meta={"category": c})
               for i, (g, c) in enumerate(zip(gts, cats))]
    (pt,) = summarize(table(_rows("pope", samples, preds, strategy="keep_all")))
    assert pt.primary_metric == "f1_mean" and pt.metric_source == "aggregate"
    assert pt.primary == pytest.approx((0.5 + 2 / 3) / 2)
    assert pt.metrics["accuracy"] == pytest.approx(4 / 8)          # what a mean of `score` would have said


def test_shapes_bias_chart_bars_are_per_quadrant_accuracy():
    samples = get_benchmark("shapes", seed=0, n=48).load()
    quads = [s.meta["quadrant"] for s in samples]
    assert {"top-left", "top-right", "bottom-left", "bottom-right"} <= set(quads)
    right = [s.answer for s in samples]
    # a strategy blind in the top-left quadrant: wrong exactly there
    blind = ["purple" if q == "top-left" else s.answer for s, q in zip(samples, quads)]
    rows = (_rows("shapes", samples, right, strategy="keep_all")
            + _rows("shapes", samples, blind, strategy="vispruner", budget=64, ratio=0.5))
    pts = summarize(table(rows))
    panels = bias.bias_panels(pts)
    assert list(panels) == [64]
    vis = panels[64]["vispruner r=0.5"]
    assert vis == {"bottom-left": 1.0, "bottom-right": 1.0, "top-left": 0.0, "top-right": 1.0}
    assert panels[64]["keep_all"] == {q: 1.0 for q in vis}
    fig = bias.bias_figure(pts)
    heights = {(c.get_label(), round(p.get_x() + p.get_width() / 2)): p.get_height()
               for c in fig.axes[0].containers for p in c.patches}
    order = sorted(vis)                                              # x positions follow sorted quadrants
    assert [heights[("vispruner r=0.5", i)] for i in range(4)] == [100 * vis[q] for q in order]   # % as in the table
    # the bars carry the strategies' colours from the line charts (dashboards/palette.py)
    colours = {c.get_label(): matplotlib.colors.to_hex(c.patches[0].get_facecolor()) for c in fig.axes[0].containers}
    assert colours == {"keep_all": "#000000", "vispruner r=0.5": "#1f77b4"}
    # overall accuracy from the aggregate equals the hand count
    n_tl = quads.count("top-left")
    vis_pt = next(p for p in pts if p.strategy == "vispruner")
    assert vis_pt.primary == pytest.approx(1 - n_tl / len(samples))
    assert np.isclose(json.loads(json.dumps(vis_pt.metrics))["acc_by_quadrant/top-left"], 0.0)
