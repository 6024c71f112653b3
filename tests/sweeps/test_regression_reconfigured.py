"""sweeps.regression.compare on a re-configured point (the pinned config changed one strategy's budget or
parameter): it is compared with its replacement by the paired test, not waved through as a new point."""
from sweeps import regression as R
from tests.dashboards.synth import bernoulli, rows_for_point, table


def _run(keep, vis_budget, vis_correct, **kw):
    return table(rows_for_point(strategy="keep_all", correct=keep, **kw)
                 + rows_for_point(strategy="vispruner", budget=vis_budget, ratio=0.5, correct=vis_correct, **kw))


def _acc(report, point):
    return next(f for f in report.findings if f.check == "accuracy" and f.point_id == point)


def test_halved_budget_that_loses_accuracy_is_caught_by_the_paired_test():
    keep, vis = bernoulli(64, 0.9, 0), bernoulli(64, 0.85, 1)
    weaker = [c if i % 3 else 0 for i, c in enumerate(vis)]            # every third sample now wrong
    flips = sum(a == 1 and b == 0 for a, b in zip(vis, weaker))        # b of McNemar; c = 0
    rep = R.compare(_run(keep, 64, vis), _run(keep, 32, weaker))
    f = _acc(rep, "vispruner/T32/r0.5")
    assert f.regressed and rep.status == "fail" and f.test == "mcnemar_exact"
    assert f.p_value == R.mcnemar_exact(flips, 0) and "vs baseline point vispruner/T64/r0.5" in f.reason
    assert f.base == sum(vis) / 64 and f.new == sum(weaker) / 64
    assert not any(x.check == "coverage" for x in rep.findings)
    assert any("re-configured as vispruner/T32/r0.5" in n for n in rep.notes)


def test_reconfigured_point_with_the_same_answers_passes():
    keep, vis = bernoulli(64, 0.9, 0), bernoulli(64, 0.85, 1)
    rep = R.compare(_run(keep, 64, vis), _run(keep, 32, vis))
    assert rep.status == "pass" and _acc(rep, "vispruner/T32/r0.5").p_value == 1.0


def test_ambiguous_replacement_stays_a_coverage_regression():
    keep, vis = bernoulli(64, 0.9, 0), bernoulli(64, 0.85, 1)
    two = table(rows_for_point(strategy="keep_all", correct=keep)
                + rows_for_point(strategy="vispruner", budget=32, ratio=0.5, correct=vis)
                + rows_for_point(strategy="vispruner", budget=16, ratio=0.5, correct=vis))
    rep = R.compare(_run(keep, 64, vis), two)
    cov = next(f for f in rep.findings if f.check == "coverage")
    assert cov.regressed and cov.point_id == "vispruner/T64/r0.5"
    assert sum("new point without baseline" in n for n in rep.notes) == 2
