"""Headline (smallest budget keeping >= 95% / >= 99% of keep_all) against a hand-worked grid."""
import pytest

from sweeps.headline import describe, headlines, mlflow_metrics
from sweeps.point_metrics import summarize
from tests.dashboards.synth import rows_for_point, table

KEEP_FLOPS, KEEP_LAT = 1000e9, 0.100


def _grid():
    # keep_all 20/20 right. vispruner: T=144 r=.5 20/20, T=64 r=.5 19/20 (95%), T=64 r=.75 20/20 (100%),
    # T=16 r=.5 15/20 (75%). fastv: T=144 19/20 (95%), T=64 18/20 (90%).
    def ok(k):
        return [1] * k + [0] * (20 - k)
    rows = rows_for_point(strategy="keep_all", correct=ok(20), flops=KEEP_FLOPS, latency=KEEP_LAT)
    for T, r, k, fl, lat in ((144, 0.5, 20, 300e9, 0.060), (64, 0.5, 19, 150e9, 0.040), (64, 0.75, 20, 150e9, 0.050),
                             (16, 0.5, 15, 50e9, 0.030)):
        rows += rows_for_point(strategy="vispruner", budget=T, ratio=r, correct=ok(k), flops=fl, latency=lat)
    for T, k, fl, lat in ((144, 19, 320e9, 0.070), (64, 18, 160e9, 0.050)):
        rows += rows_for_point(strategy="fastv", budget=T, correct=ok(k), flops=fl, latency=lat)
    return summarize(table(rows))


def test_smallest_budget_per_level_with_savings():
    got = {(h.strategy, h.level): h for h in headlines(_grid())}
    assert set(got) == {("fastv", 95.0), ("fastv", 99.0), ("vispruner", 95.0), ("vispruner", 99.0)}
    v95, v99 = got[("vispruner", 95.0)], got[("vispruner", 99.0)]
    # T=64 reaches both levels; at T=64 r=0.75 keeps 100% (the better ratio is reported)
    assert (v95.budget, v95.ratio, v95.rel_pct) == (64, 0.75, 100.0)
    assert (v99.budget, v99.ratio) == (64, 0.75)
    assert v95.flops_saving_pct == pytest.approx(85.0)             # 1 - 150/1000
    # latency is the per-sample median of the phases' sum (synth splits `latency` over 4 phases): 1 - 50/100
    assert v95.latency_saving_pct == pytest.approx(50.0)
    f95, f99 = got[("fastv", 95.0)], got[("fastv", 99.0)]
    assert (f95.budget, f95.ratio, f95.rel_pct) == (144, None, 95.0)
    assert f95.flops_saving_pct == pytest.approx(68.0) and f95.latency_saving_pct == pytest.approx(30.0)
    assert not f99.reached and f99.budget is None
    assert describe(f99) == "not reached"
    assert describe(v95) == "T=64 r=0.75 (-85% FLOPs, -50% latency)"
    assert all(h.metric == "accuracy" for h in got.values())


def test_mlflow_metric_keys_only_for_reached_levels():
    m = mlflow_metrics(headlines(_grid()))
    assert m["headline/tiny-llava/toy/vispruner/T_at_95"] == 64.0
    assert m["headline/tiny-llava/toy/vispruner/flops_saving_pct_at_99"] == pytest.approx(85.0)
    assert m["headline/tiny-llava/toy/fastv/T_at_95"] == 144.0
    assert "headline/tiny-llava/toy/fastv/T_at_99" not in m
    assert len(m) == 3 * 3


def test_no_keep_all_no_headline():
    rows = rows_for_point(strategy="vispruner", budget=64, ratio=0.5, correct=[1, 1])
    assert headlines(summarize(table(rows))) == []


def test_keep_all_scoring_zero_gives_no_headline_rather_than_a_trivial_one():
    rows = rows_for_point(strategy="keep_all", correct=[0, 0, 0, 0])
    rows += rows_for_point(strategy="spatial", budget=16, correct=[1, 0, 0, 0])
    got = headlines(summarize(table(rows)))
    assert [(h.level, h.budget, h.undefined) for h in got] == [(95.0, None, True), (99.0, None, True)]
    assert describe(got[0]) == "undefined: keep_all scores 0" and mlflow_metrics(got) == {}
