"""dashboards.pareto: Pareto front against the brute-force definition; one plotted line per strategy with the right
points, on the table's scale (accuracy in %), in the strategy's one colour."""
import io
import itertools

import numpy as np
from PIL import Image

from dashboards import pareto
from sweeps.point_metrics import summarize
from tests.dashboards.synth import bernoulli, rows_for_point, table


def _dominated(p, others):
    return any(o[0] <= p[0] and o[1] >= p[1] and o != p for o in others)


def test_pareto_front_matches_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(50):
        pts = [(float(x), float(y)) for x, y in rng.integers(0, 8, size=(12, 2))]   # ties on purpose
        ref = sorted({p for p in pts if not _dominated(p, pts)})
        assert pareto.pareto_front(pts) == ref


def _points():
    rows = rows_for_point(strategy="keep_all", correct=bernoulli(40, 0.8, 0))
    acc = {(64, 0.5): 0.7, (32, 0.5): 0.6, (64, 0.75): 0.72, (32, 0.75): 0.55}
    for (T, r), a in acc.items():
        rows += rows_for_point(strategy="vispruner", budget=T, ratio=r, correct=bernoulli(40, a, T), latency=T / 1000)
    for T, a in ((64, 0.5), (32, 0.4)):
        rows += rows_for_point(strategy="fastv", budget=T, correct=bernoulli(40, a, 7 * T), latency=T / 900)
    return summarize(table(rows))


def test_pareto_figure_has_one_line_per_strategy_with_its_points(tmp_path):
    pts = _points()
    fig = pareto.pareto_figure(pts, "tflops")
    lines = {l.get_label(): l for l in fig.axes[0].get_lines()}
    assert set(lines) == {"keep_all", "vispruner r=0.5", "vispruner r=0.75", "fastv", "Pareto front"}
    vis = sorted((p.prefill_flops / 1e12, 100 * p.primary) for p in pts if p.strategy == "vispruner" and p.ratio == 0.5)
    assert list(zip(lines["vispruner r=0.5"].get_xdata(), lines["vispruner r=0.5"].get_ydata())) == vis
    assert fig.axes[0].get_ylabel() == "Acc. (%)"
    # one colour per strategy: both VisPruner ratios share it and differ in line style
    assert lines["vispruner r=0.5"].get_color() == lines["vispruner r=0.75"].get_color() == "#1f77b4"
    assert lines["vispruner r=0.5"].get_linestyle() != lines["vispruner r=0.75"].get_linestyle()
    assert lines["fastv"].get_color() == "#ff7f0e" and lines["keep_all"].get_color() == "#000000"
    assert lines["vispruner r=0.5"].get_xdata()[0] < lines["vispruner r=0.5"].get_xdata()[1]   # T32 cheaper than T64
    pareto.save(fig, tmp_path / "p.png")
    img = Image.open(tmp_path / "p.png")
    assert img.format == "PNG" and img.size[0] > 300


def test_latency_and_budget_axes():
    pts = _points()
    lat = pareto.pareto_figure(pts, "latency")
    fv = next(l for l in lat.axes[0].get_lines() if l.get_label() == "fastv")
    assert np.allclose(sorted(fv.get_xdata()), sorted(p.latency_s for p in pts if p.strategy == "fastv"))
    bud = pareto.budget_figure(pts)
    fv = next(l for l in bud.axes[0].get_lines() if l.get_label() == "fastv")
    assert list(fv.get_xdata()) == [32, 64]
    keep = next(l for l in bud.axes[0].get_lines() if l.get_label() == "keep_all")
    assert list(keep.get_xdata()) == [576]
    buf = io.BytesIO()
    bud.savefig(buf, format="png")
    assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
