"""sweeps.regression: the paired tests against hand-worked values and scipy; compare() on planted
regressions, unchanged reruns and noise."""
import math

import numpy as np
import pytest
from scipy import stats

from sweeps import regression as R
from tests.dashboards.synth import bernoulli, rows_for_point, table


# ------------------------------------------------------------------------------ McNemar / bootstrap

@pytest.mark.parametrize("b,c,expected", [
    (0, 0, 1.0),
    (5, 0, 2 / 32),                               # 2 * (1/2)^5
    (6, 0, 2 / 64),
    (3, 7, 2 * (1 + 10 + 45 + 120) / 1024),       # 2 * P[Bin(10, .5) <= 3] = 0.34375
    (5, 1, 2 * (1 + 6) / 64),                     # 0.21875
    (10, 10, 1.0),
])
def test_mcnemar_hand_worked(b, c, expected):
    assert R.mcnemar_exact(b, c) == pytest.approx(expected, abs=1e-15)


def test_mcnemar_matches_scipy_binomtest():
    for b in range(0, 25, 3):
        for c in range(0, 25, 4):
            if b + c == 0:
                continue
            ref = stats.binomtest(min(b, c), b + c, 0.5, alternative="two-sided").pvalue
            assert R.mcnemar_exact(b, c) == pytest.approx(ref, rel=1e-9), (b, c)


def test_bootstrap_ci_matches_scipy_and_p_matches_normal_theory():
    rng = np.random.default_rng(1)
    base = rng.random(400)
    new = base - 0.03 + rng.normal(0, 0.25, 400)                     # paired, noisy, shifted
    res = R.paired_bootstrap(base, new, n_boot=4000, seed=3)
    d = new - base
    assert res.delta == pytest.approx(d.mean())
    ref = stats.bootstrap((d,), np.mean, n_resamples=4000, method="percentile", confidence_level=0.95,
                          random_state=np.random.default_rng(7)).confidence_interval
    assert res.ci_low == pytest.approx(ref.low, abs=0.006)
    assert res.ci_high == pytest.approx(ref.high, abs=0.006)
    z = abs(d.mean()) / (d.std(ddof=1) / math.sqrt(len(d)))          # large-n normal approximation
    assert res.p_value == pytest.approx(2 * stats.norm.sf(z), abs=0.02)


def test_bootstrap_no_difference_and_constant_shift():
    x = np.linspace(0, 1, 50)
    assert R.paired_bootstrap(x, x).p_value == 1.0
    assert R.paired_bootstrap(x, x - 0.1).p_value == 0.0              # every sample drops by exactly 0.1


def test_paired_test_picks_mcnemar_for_binary_and_bootstrap_otherwise():
    assert R.paired_test([1, 0, 1], [1, 1, 0])[0] == "mcnemar_exact"
    assert R.paired_test([1, 0.5, 1], [1, 1, 0])[0] == "paired_bootstrap"


# ----------------------------------------------------------------------------------------- compare

def _run(vis_correct, keep_correct, **kw):
    return table(rows_for_point(strategy="keep_all", correct=keep_correct, **kw)
                 + rows_for_point(strategy="vispruner", budget=64, ratio=0.5, correct=vis_correct, **kw))


def _by(report, check, point="vispruner/T64/r0.5"):
    return next(f for f in report.findings if f.check == check and f.point_id == point)


def test_unchanged_rerun_passes():
    keep, vis = bernoulli(200, 0.8, 0), bernoulli(200, 0.7, 1)
    rep = R.compare(_run(vis, keep), _run(vis, keep))
    assert rep.status == "pass" and not rep.regressions
    assert _by(rep, "accuracy").p_value == 1.0
    assert {f.check for f in rep.findings} == {"accuracy", "relative", "flops", "latency"}


def test_planted_accuracy_regression_is_caught():
    keep, vis = bernoulli(200, 0.8, 0), bernoulli(200, 0.7, 1)
    weakened = list(vis)
    flipped = [i for i, v in enumerate(vis) if v == 1][:25]           # 25 right -> wrong, none the other way
    for i in flipped:
        weakened[i] = 0
    rep = R.compare(_run(vis, keep), _run(weakened, keep))
    acc = _by(rep, "accuracy")
    assert acc.regressed and acc.test == "mcnemar_exact"
    assert acc.p_value == pytest.approx(R.mcnemar_exact(25, 0))
    assert acc.base - acc.new == pytest.approx(25 / 200)
    assert _by(rep, "relative").regressed                              # keep_all unchanged -> Rel.% falls too
    assert rep.status == "fail"
    assert not _by(rep, "accuracy", "keep_all/Tall").regressed


def test_noise_is_not_a_regression():
    keep, vis = bernoulli(100, 0.8, 0), bernoulli(100, 0.7, 1)
    noisy = list(vis)
    ones = [i for i, v in enumerate(vis) if v == 1]
    zeros = [i for i, v in enumerate(vis) if v == 0]
    for i in ones[:5]:
        noisy[i] = 0
    noisy[zeros[0]] = 1                                                # net -4 of 100: beyond 0.02, but b=5, c=1
    rep = R.compare(_run(vis, keep), _run(noisy, keep))
    acc = _by(rep, "accuracy")
    assert acc.base - acc.new == pytest.approx(0.04)
    assert acc.p_value == pytest.approx(0.21875)
    assert not acc.regressed and "not significant" in acc.reason
    assert rep.status == "pass"


def test_random_flips_across_many_seeds_rarely_called_regression():
    keep = bernoulli(150, 0.8, 0)
    vis = bernoulli(150, 0.7, 1)
    calls = 0
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        noisy = np.array(vis)
        idx = rng.choice(150, size=6, replace=False)                   # 6 random flips, either direction
        noisy[idx] = 1 - noisy[idx]
        calls += R.compare(_run(vis, keep), _run(list(noisy), keep)).status == "fail"
    assert calls == 0


def test_flops_increase_regresses_and_latency_needs_ratio_and_floor():
    keep, vis = bernoulli(50, 0.8, 0), bernoulli(50, 0.7, 1)
    base = _run(vis, keep)
    more_flops = table(rows_for_point(strategy="keep_all", correct=keep)
                       + rows_for_point(strategy="vispruner", budget=64, ratio=0.5, correct=vis,
                                        flops=2 * 6.7e9 * (64 + 29) * 1.01))
    rep = R.compare(base, more_flops)
    assert _by(rep, "flops").regressed and not _by(rep, "flops", "keep_all/Tall").regressed
    fewer = table(rows_for_point(strategy="keep_all", correct=keep)
                  + rows_for_point(strategy="vispruner", budget=64, ratio=0.5, correct=vis, flops=1.0))
    assert not _by(R.compare(base, fewer), "flops").regressed          # cheaper is fine

    slow_base = _run(vis, keep, latency=0.1)
    assert _by(R.compare(slow_base, _run(vis, keep, latency=0.3)), "latency").regressed      # 3x, +0.2 s
    assert not _by(R.compare(slow_base, _run(vis, keep, latency=0.18)), "latency").regressed  # 1.8x
    tiny = _run(vis, keep, latency=0.001)
    assert not _by(R.compare(tiny, _run(vis, keep, latency=0.004)), "latency").regressed     # 4x but 3 ms


def test_missing_point_and_missing_samples_are_coverage_regressions():
    keep, vis = bernoulli(40, 0.8, 0), bernoulli(40, 0.7, 1)
    base = _run(vis, keep)
    only_keep = table(rows_for_point(strategy="keep_all", correct=keep))
    rep = R.compare(base, only_keep)
    assert _by(rep, "coverage").regressed and rep.status == "fail"
    short = table(rows_for_point(strategy="keep_all", correct=keep)
                  + rows_for_point(strategy="vispruner", budget=64, ratio=0.5, correct=vis[:30]))
    cov = _by(R.compare(base, short), "coverage")
    assert cov.regressed and "10 baseline samples missing" in cov.reason


def test_continuous_scores_use_bootstrap():
    rng = np.random.default_rng(5)
    keep = list(rng.random(120))
    vis = list(rng.random(120))
    worse = [max(0.0, v - 0.3) for v in vis]
    rep = R.compare(_run(vis, keep), _run(worse, keep))
    acc = _by(rep, "accuracy")
    assert acc.test == "paired_bootstrap" and acc.regressed and acc.p_value < 0.01
    rep2 = R.compare(_run(vis, keep), _run(vis, keep))
    assert rep2.status == "pass"


def test_thresholds_configurable():
    keep, vis = bernoulli(200, 0.8, 0), bernoulli(200, 0.7, 1)
    weakened = list(vis)
    for i in [i for i, v in enumerate(vis) if v == 1][:25]:
        weakened[i] = 0
    lax = R.Thresholds(acc_drop=0.2, rel_drop_pct=50.0)
    assert R.compare(_run(vis, keep), _run(weakened, keep), lax).status == "pass"
    with pytest.raises(ValueError, match="unknown regression thresholds"):
        R.Thresholds.from_dict({"acc_dorp": 0.1})
    assert R.Thresholds.from_dict({"acc_drop_by_benchmark": {"mme": 30.0}}).acc_drop_for("mme") == 30.0


def test_report_files_and_baseline_round_trip(tmp_path):
    keep, vis = bernoulli(30, 0.8, 0), bernoulli(30, 0.7, 1)
    base = _run(vis, keep)
    path = R.write_rows_json(base, tmp_path / "baseline.json")
    back = R.load_rows(path)
    assert back.to_pylist() == base.to_pylist()
    weakened = [0] * 30
    rep = R.compare(back, _run(weakened, keep), base_label=str(path))
    md, js = R.write_report(rep, tmp_path / "out")
    assert "FAIL" in md.read_text() and "vispruner/T64/r0.5" in md.read_text()
    import json
    d = json.loads(js.read_text())
    assert d["status"] == "fail" and d["n_regressions"] == len(rep.regressions) > 0


def test_default_mme_threshold_is_on_its_own_scale():
    th = R.Thresholds()
    assert th.acc_drop_for("mme") == 30.0 and th.acc_drop_for("shapes") == 0.02
