"""Loyalty (agreement with keep_all per sample) against hand-counted cases: POPE's parsed yes/no answers, free
text compared after normalisation, error rows on either side, and sample pairing by id (not by row order)."""
import math

import pytest

from sweeps.benchmarks import get_benchmark
from sweeps.benchmarks.base import Sample
from sweeps.loyalty import agreement, answer_of, loyalty_by_point, normalize
from tests.dashboards.synth import rows_for_point, table

POPE = get_benchmark("pope")


def pope_rows(strategy, preds, answers, budget=None, errors=None):
    samples = [Sample(id=f"q{i}", question="Is there a dog?", answer=a, meta={"category": "random"})
               for i, a in enumerate(answers)]
    scores = [POPE.score(s, None if (errors and errors[i]) else p) for i, (s, p) in enumerate(zip(samples, preds))]
    rows = rows_for_point(strategy=strategy, budget=budget, benchmark="pope", correct=[sc.get("score", 0.0) for sc in scores],
                          scores=scores, sample_ids=[s.id for s in samples], errors=errors)
    for r, p in zip(rows, preds):
        r["prediction"] = p
    return rows


def test_pope_answers_compare_as_parsed_yes_no_and_wrong_together_counts_as_loyal():
    answers = ["yes", "no", "yes", "no", "yes"]
    keep = pope_rows("keep_all", ["Yes, there is.", "No", "no", "yes", "Yes"], answers)
    # same parsed answers as keep_all on q0, q2 (both wrong there), q3 (both wrong); differs on q1, q4
    pruned = pope_rows("vispruner", ["yes", "Yes.", "No, there is not", "Yes", "no"], answers, budget=64)
    lo = agreement(pruned, keep)
    assert (lo.agree, lo.n) == (3, 5) and lo.share == pytest.approx(0.6)
    # the pruned point is right only on q0 (accuracy 1/5), yet loyal on 3/5: loyalty is not accuracy
    acc = sum(r["score"] for r in pruned) / 5
    assert acc == pytest.approx(1 / 5) and lo.share != acc


def test_errors_keep_all_excluded_point_counts_as_disagreeing():
    answers = ["yes"] * 4
    keep = pope_rows("keep_all", ["yes", "yes", "no", "yes"], answers, errors=[None, None, None, "oom"])
    pruned = pope_rows("fastv", ["yes", "yes", "no", "yes"], answers, budget=64, errors=[None, "timeout", None, None])
    lo = agreement(pruned, keep)
    # q3: keep_all errored -> not compared; q1: the point errored -> compared, not agreeing
    assert (lo.agree, lo.n) == (2, 3)


def test_pairs_by_sample_id_not_row_order():
    keep = [{"sample_id": "a", "prediction": "Red", "scores": None, "error": None},
            {"sample_id": "b", "prediction": "blue", "scores": None, "error": None}]
    pruned = [{"sample_id": "b", "prediction": " Blue. ", "scores": None, "error": None},
              {"sample_id": "a", "prediction": "green", "scores": None, "error": None}]
    assert agreement(pruned, keep).agree == 1
    assert normalize("  The   Answer is 42! ") == "the answer is 42"
    assert answer_of({"prediction": "x", "scores": '{"pred": "Yes"}', "error": None}) == "yes"
    assert math.isnan(agreement(pruned, []).share)


def test_loyalty_by_point_keep_all_is_one_and_needs_a_keep_all():
    keep = rows_for_point(strategy="keep_all", correct=[1, 0, 1, 1])
    for r, p in zip(keep, ["a", "b", "c", "d"]):
        r["prediction"] = p
    vis = rows_for_point(strategy="vispruner", budget=64, ratio=0.5, correct=[1, 0, 0, 1])
    for r, p in zip(vis, ["a", "x", "c", "y"]):
        r["prediction"] = p
    lonely = rows_for_point(strategy="fastv", budget=64, correct=[1, 1, 1, 1], benchmark="no_baseline")
    got = loyalty_by_point(table(keep + vis + lonely))
    assert got[("tiny-llava", "toy", "keep_all/Tall")].share == 1.0
    assert got[("tiny-llava", "toy", "vispruner/T64/r0.5")].share == 0.5
    assert ("tiny-llava", "no_baseline", "fastv/T64") not in got
