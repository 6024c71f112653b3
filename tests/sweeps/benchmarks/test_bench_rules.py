"""Scoring rules: hand-worked cases under rule="llava" and rule="lmms_eval" (lmms-eval 0.7.3), per benchmark.

Each lmms_eval expectation is worked out by hand from lmms-eval 0.7.3's task code (tasks/<task>/utils.py,
api/metrics.py exact_match, mmbench_evals.py, _task_utils/mcq_extract.py); the llava ones from LLaVA's
eval scripts as docs/BENCHMARKS.md states them.
"""
import json

import pytest

from sweeps.benchmarks import BENCHMARKS, get_benchmark
from sweeps.benchmarks.base import Sample
from sweeps.benchmarks.rules import WithRules, check_rule, for_rule, rule_dict, rules_of, with_rules
from tests.sweeps.benchmarks.bench_fixtures import (mmbench_row, mme_row, pope_row, vqav2_row, write_parquet)

RULES = ("llava", "lmms_eval")


def both(name, sample, reply, **params):
    return {r: get_benchmark(name, rule=r, **params).score(sample, reply) for r in RULES}


def plain(answer, category=None, **meta):
    return Sample(id="s0", question="q?", answer=answer, meta={"category": category, **meta})


# -- rule names ---------------------------------------------------------------------------------------------

def test_every_benchmark_takes_both_rules_and_names_them():
    for name in BENCHMARKS:
        for rule in RULES:
            b = get_benchmark(name, rule=rule)
            assert b.rule == rule and b.params["rule"] == rule
    with pytest.raises(ValueError, match="did you mean 'lmms_eval'"):
        get_benchmark("gqa", rule="lmms_evl")
    assert check_rule("exact") == "lmms_eval"           # POPE's earlier name for the lmms-eval rule
    errored = Sample(id="e", question="q", error="missing image", meta={"category": None})
    for name in ("gqa", "vqav2", "pope", "mme", "mmbench_en", "scienceqa_img", "textvqa", "vizwiz", "mmvet", "shapes"):
        assert get_benchmark(name, rule="lmms_eval").score(errored, "yes")["rule"] == "lmms_eval"


# -- GQA ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer, reply, llava, lmms", [
    ("yes", "Yes!", 0.0, 1.0),              # LLaVA drops only a trailing "."; lmms-eval deletes all punctuation
    ("yes", " Yes. ", 1.0, 1.0),
    ("t-shirt", "tshirt", 0.0, 1.0),        # punctuation deleted on both sides
    ("t-shirt", "T-shirt.", 1.0, 1.0),
    ("left", "on the left", 0.0, 0.0),
    ("yes", "yes\x00", 0.0, 1.0),           # numpy string arrays drop trailing NULs
])
def test_gqa(answer, reply, llava, lmms):
    s = both("gqa", plain(answer), reply)
    assert (s["llava"]["score"], s["lmms_eval"]["score"]) == (llava, lmms)
    assert (s["llava"]["rule"], s["lmms_eval"]["rule"]) == RULES


# -- VQAv2 / VizWiz / TextVQA -------------------------------------------------------------------------------

def test_vizwiz_issue_case_and_leave_one_out():
    # ten identical "two": LLaVA submits normalize("two") = "2" and the server compares raw "two" -> 0;
    # lmms-eval runs EvalAI's processor on both sides -> "2" == "2" -> 1
    s = both("vizwiz", plain(["two"] * 10, unanswerable=False), "two")
    assert (s["llava"]["score"], s["lmms_eval"]["score"]) == (0.0, 1.0)
    # answers differ: both rules process both sides. 2 of 10 say "2" (one as "two"): the 8 others each see
    # 2 matches (2/3), the 2 each see 1 (1/3): (8*2/3 + 2/3) / 10 = 0.6
    answers = ["two", "2"] + ["3"] * 8
    s = both("vizwiz", plain(answers, unanswerable=False), "Two.")
    assert s["llava"]["score"] == pytest.approx(0.6) and s["lmms_eval"]["score"] == pytest.approx(0.6)


def test_vqav2_rules(tmp_path):
    # ten "two": LLaVA 0 (submitted "2", raw answers untouched); lmms-eval processes both sides -> 1
    bench = {r: get_benchmark("vqav2", rule=r) for r in RULES}
    (s,) = bench["llava"].load(str(write_parquet(tmp_path / "v", [vqav2_row(1, ["two"] * 10)])))
    assert bench["llava"].score(s, "two")["score"] == 0.0 and bench["lmms_eval"].score(s, "two")["score"] == 1.0
    # 3 of 10 "yes": annotators answering yes see 2 others (2/3), the 7 others see 3 (1): (3*2/3 + 7) / 10 = 0.9,
    # which statistics.mean gives exactly (lmms-eval) and sum/len as 0.8999999999999998 (the VQA evaluator)
    (s,) = bench["llava"].load(str(write_parquet(tmp_path / "w", [vqav2_row(2, ["yes"] * 3 + ["no"] * 7)])))
    assert bench["lmms_eval"].score(s, "Yes")["score"] == 0.9
    assert bench["llava"].score(s, "Yes")["score"] == pytest.approx(0.9)


def test_textvqa_rules_agree_up_to_the_mean():
    # "none" -> "0"; 3 of 10 answers are "none": (3 * 2/3 + 7 * 1) / 10 = 0.9
    answers = ["none", "dont", "cat", "left", "left", "left", "dont", "none", "dont", "none"]
    s = both("textvqa", plain(answers, ocr_tokens=[]), "none")
    assert s["lmms_eval"]["score"] == 0.9                          # statistics.mean: exact
    assert s["llava"]["score"] == pytest.approx(0.9)               # sum / len: 0.8999999999999998
    # "-" not next to a space becomes a space: "Hot-dog" -> "hot dog", equal to every answer -> 1 under both
    s = both("textvqa", plain(["hot dog"] * 10, ocr_tokens=[]), "Hot-dog")
    assert s["llava"]["score"] == s["lmms_eval"]["score"] == 1.0


# -- ScienceQA-IMG ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("reply, right", [
    ("B", 1.0), ("b", 1.0), (" B ", 1.0), ("B. paris", 1.0), ("b. paris", 0.0), ("B.", 1.0),
    ("The answer is B.", 0.0), ("A", 0.0), ("(B)", 0.0), ("", 0.0),
])
def test_scienceqa_rules_agree(reply, right):
    s = both("scienceqa_img", plain("B", choices=["x", "y", "z"], hint=""), reply)
    assert s["llava"]["score"] == s["lmms_eval"]["score"] == right


# -- POPE ---------------------------------------------------------------------------------------------------

def test_pope_issue_case_recall_and_f1():
    # two "yes" questions, replies "yes" and "Yes, there is.", plus a "no" question answered "no".
    # lmms-eval: labels yes / other / no -> TP 1, FP 0, FN 0 (an "other" reply is not a false negative):
    #   precision 1, recall 1, F1 1, accuracy 2/3, yes_ratio = share of "yes" ground truth = 2/3.
    # LLaVA: "Yes, there is." reads yes -> TP 2, TN 1: accuracy 1, F1 1, yes_ratio = share of "yes" replies = 2/3.
    samples = [plain("yes", "random"), plain("yes", "random"), plain("no", "random")]
    replies = ["yes", "Yes, there is.", "no"]
    agg = {}
    for r in RULES:
        b = get_benchmark("pope", rule=r)
        agg[r] = b.aggregate([b.score(s, x) for s, x in zip(samples, replies)])
    assert (agg["lmms_eval"]["recall"], agg["lmms_eval"]["f1"], agg["lmms_eval"]["precision"]) == (1.0, 1.0, 1.0)
    assert agg["lmms_eval"]["accuracy"] == pytest.approx(2 / 3) and agg["lmms_eval"]["yes_ratio"] == pytest.approx(2 / 3)
    assert agg["llava"]["accuracy"] == 1.0 and agg["llava"]["f1"] == 1.0 and agg["llava"]["recall"] == 1.0
    assert agg["lmms_eval"]["f1_mean"] == 1.0 and agg["lmms_eval"]["random/recall"] == 1.0


def test_pope_yes_ratio_counts_replies_under_llava_and_truth_under_lmms_eval():
    # gt yes, no, no; replies "yes" "yes" "no": LLaVA yes_ratio = 2/3 replies, lmms-eval = 1/3 ground truth.
    # "no" reply to a "yes" question is a false negative under both: gt yes,yes replies no,yes -> recall 1/2.
    samples = [plain("yes", "popular"), plain("no", "popular"), plain("no", "popular")]
    for r, ratio in (("llava", 2 / 3), ("lmms_eval", 1 / 3)):
        b = get_benchmark("pope", rule=r)
        assert b.aggregate([b.score(s, x) for s, x in zip(samples, ["yes", "yes", "no"])])["yes_ratio"] == pytest.approx(ratio)
    samples = [plain("yes", "popular"), plain("yes", "popular")]
    for r in RULES:
        b = get_benchmark("pope", rule=r)
        assert b.aggregate([b.score(s, x) for s, x in zip(samples, ["no", "yes"])])["recall"] == 0.5


# -- MME ----------------------------------------------------------------------------------------------------

def test_mme_rules(tmp_path):
    q = "Is it? Please answer yes or no."
    rows = [mme_row("1.jpg", "existence", q, "Yes"), mme_row("1.jpg", "existence", q, "No"),     # right, right
            mme_row("2.jpg", "existence", q, "Yes"), mme_row("2.jpg", "existence", q, "No"),     # right, wrong
            mme_row("c.png", "code_reasoning", q, "Yes"), mme_row("c.png", "code_reasoning", q, "No")]  # wrong, wrong
    replies = ["Yes", "No", "yes.", "Yes", "No", "Yes"]
    for r in RULES:
        b = get_benchmark("mme", rule=r)
        agg = b.aggregate([b.score(s, x) for s, x in zip(b.load(str(write_parquet(tmp_path / r, rows))), replies)])
        # existence: images (100 + 100) and (50 + 0): mean 125 = acc 75 + acc+ 50; code_reasoning 0
        assert agg["subtask/existence"] == 125.0 and agg["perception"] == 125.0
        assert agg["subtask/code_reasoning"] == 0.0 and agg["cognition"] == 0.0 and agg["total"] == 125.0


# -- MMBench ------------------------------------------------------------------------------------------------

def mmb(options, answer, index=0, category="ocr"):
    row = {**mmbench_row(index, "q?", options, answer, category=category), "image": None}
    b = get_benchmark("mmbench_en")
    s = b.to_sample(row, None)
    s.error = None
    return s


@pytest.mark.parametrize("options, answer, reply, llava, lmms", [
    (["red", "blue"], "A", "A, not C", "A", "C"),          # the issue's case: lmms-eval searches A-E
    (["red", "blue"], "B", "E", None, "E"),                # a bare E is an option letter to lmms-eval
    (["red", "blue", "green"], "B", "Answer:B", None, "B"),  # lmms-eval's static fallback: trailing lone B
    (["red", "blue", "green"], "C", "I think (C)", "C", "C"),
    (["red", "blue", "green"], "B", "It is blue", "B", "B"),  # option text inside the reply
    (["cat", "a dog"], "A", "A cat sat on the mat", "A", "A"),  # "A" read as an article, then text "cat" found
])
def test_mmbench_letter_rules(options, answer, reply, llava, lmms):
    s = mmb(options, answer)
    got = both("mmbench_en", s, reply)
    assert got["llava"]["answer"] == llava and got["lmms_eval"]["answer"] == lmms
    assert got["lmms_eval"]["score"] == float(lmms == answer)


def test_mmbench_lmms_eval_counts_questions_by_their_rotation_zero_row():
    # question 0: rotations 0 and 1 both right; question 1: only its rotation-1 row is present (right).
    # LLaVA rule: 2 questions, both right -> 1.0; lmms-eval: only index < 1e6 rows start a question -> 1/1
    # with question 2 (rotation 0 wrong) added: llava 2/3, lmms-eval 1/2
    s0 = mmb(["red", "blue"], "A", index=0)
    s0r = mmb(["blue", "red"], "B", index=1_000_000)
    s1r = mmb(["red", "blue"], "A", index=1_000_001)
    s2 = mmb(["red", "blue"], "A", index=2, category="scene")
    for r, acc, n in (("llava", 2 / 3, 3), ("lmms_eval", 1 / 2, 2)):
        b = get_benchmark("mmbench_en", rule=r)
        agg = b.aggregate([b.score(s0, "A"), b.score(s0r, "B"), b.score(s1r, "A"), b.score(s2, "B")])
        assert agg["accuracy"] == pytest.approx(acc) and agg["n_questions"] == n
    b = get_benchmark("mmbench_cn", rule="lmms_eval")
    assert b.score(s0, "答案是B")["answer"] == "B"          # the static fallback's Chinese answer phrase


# -- several rules at once ----------------------------------------------------------------------------------

def test_with_rules_scores_each_rule_and_keeps_the_primary_on_top():
    b = with_rules("pope", ["lmms_eval", "llava"])
    assert isinstance(b, WithRules) and b.rules == ["lmms_eval", "llava"] and b.primary_metric == "f1_mean"
    samples = [plain("yes", "random"), plain("yes", "random")]
    scores = [b.score(s, x) for s, x in zip(samples, ["yes", "Yes, there is."])]
    assert scores[1]["rule"] == "lmms_eval" and scores[1]["score"] == 0.0              # primary on top
    assert scores[1]["rules"]["llava"]["score"] == 1.0 and rule_dict(scores[1], "llava")["pred"] == "yes"
    assert b.aggregate(scores)["accuracy"] == 0.5 and b.aggregate_rule(scores, "llava")["accuracy"] == 1.0
    assert rules_of(scores) == ["lmms_eval", "llava"]
    import pickle

    copy = pickle.loads(pickle.dumps(b))                             # crosses processes like any benchmark
    assert copy.rules == b.rules and copy.score(samples[1], "Yes, there is.") == scores[1]
    assert with_rules("pope", ["llava"]).rule == "llava"           # one rule: the plain benchmark
    with pytest.raises(ValueError, match="twice"):
        with_rules("pope", ["llava", "llava"])


def test_for_rule_rekeys_rows():
    import pyarrow as pa

    b = with_rules("gqa", ["llava", "lmms_eval"])
    scores = [b.score(plain("yes"), "Yes!"), b.score(plain("no"), "no")]
    t = pa.table({"sample_id": ["a", "b"], "score": [s["score"] for s in scores],
                  "scores": [json.dumps(s) for s in scores]})
    lm = for_rule(t, "lmms_eval")
    assert lm["score"].to_pylist() == [1.0, 1.0] and for_rule(t, "llava")["score"].to_pylist() == [0.0, 1.0]
    assert json.loads(lm["scores"][0].as_py())["rule"] == "lmms_eval"
    single = pa.table({"sample_id": ["a"], "score": [0.0], "scores": [json.dumps(get_benchmark("gqa").score(plain("yes"), "Yes!"))]})
    assert for_rule(single, "lmms_eval").num_rows == 0 and for_rule(single, "llava").num_rows == 1
