"""POPE (LLaVA rule, exact rule, per-category metrics, mean F1) and MME (prompt, parse, acc + acc+) on hand-worked cases."""
import pytest

from sweeps.benchmarks import get_benchmark
from sweeps.benchmarks.mme import mme_label
from sweeps.benchmarks.pope import pope_label
from tests.sweeps.benchmarks.bench_fixtures import mme_row, pope_row, write_parquet


@pytest.mark.parametrize("reply, label", [
    ("Yes", "yes"), ("No", "no"), ("no", "no"), ("No, there is no dog.", "no"),
    ("Yes, there is a dog. There is no cat.", "yes"),     # only the first sentence counts
    ("There is not a dog", "no"), ("Nope", "yes"),          # "Nope" is not the word "no"
    ("NO", "yes"),                                          # only "no"/"not"/"No" are read as no
    ("I see no,", "no"),                                    # commas dropped before splitting
    ("", "yes"),
])
def test_pope_llava_rule(reply, label):
    assert pope_label(reply, "llava") == label


def test_pope_lmms_eval_rule():
    assert pope_label(" Yes ", "lmms_eval") == "yes"
    assert pope_label("No.", "lmms_eval") == "other"
    assert pope_label("no", "lmms_eval") == "no"


def test_pope_metrics_hand_worked(tmp_path):
    # adversarial: gt yes,yes,no,no  pred yes,no,yes,no -> TP1 FP1 FN1 TN1: acc .5 P .5 R .5 F1 .5 yes .5
    # random:      gt yes,no         pred yes,no       -> acc 1 P 1 R 1 F1 1 yes .5
    rows = [pope_row(1, "yes", "adversarial"), pope_row(2, "yes", "adversarial"), pope_row(3, "no", "adversarial"),
            pope_row(4, "no", "adversarial"), pope_row(1, "yes", "random"), pope_row(2, "no", "random")]
    bench = get_benchmark("pope")
    samples = bench.load(str(write_parquet(tmp_path / "pope", rows)))
    assert len({s.id for s in samples}) == 6            # question_id repeats across categories
    replies = ["Yes", "No", "Yes, I think so", "There is no dog.", "yes", "no"]
    scores = [bench.score(s, r) for s, r in zip(samples, replies)]
    assert all(s["rule"] == "llava" for s in scores)
    agg = bench.aggregate(scores)
    assert agg["adversarial/accuracy"] == 0.5 and agg["adversarial/f1"] == 0.5 and agg["adversarial/yes_ratio"] == 0.5
    assert agg["random/f1"] == 1.0 and agg["random/precision"] == 1.0
    assert agg["f1_mean"] == pytest.approx(0.75)
    # pooled: TP2 FP1 FN1 TN2 -> acc 4/6, P 2/3, R 2/3
    assert agg["accuracy"] == pytest.approx(4 / 6) and agg["precision"] == pytest.approx(2 / 3)
    assert agg["yes_ratio"] == pytest.approx(3 / 6) and agg["n"] == 6
    assert bench.prompt(samples[0]) == "Is there a dog in the image?\nAnswer the question using a single word or phrase."
    exact = get_benchmark("pope", rule="exact")           # the earlier name of the lmms-eval rule
    assert exact.rule == "lmms_eval" and exact.score(samples[2], "Yes, I think so")["pred"] == "other"
    with pytest.raises(ValueError, match="rule"):
        get_benchmark("pope", rule="fuzzy")


def test_mme_parse():
    assert [mme_label(x) for x in ["Yes", "no.", "Y", "n", "Yes, it is", "No way", "Maybe", "x"]] == \
        ["yes", "no", "yes", "no", "yes", "no", "other", "other"]


def test_mme_prompt_and_score_arithmetic(tmp_path):
    q = "Is there a dog in this image? Please answer yes or no."
    rows = []
    for i in range(3):                                   # existence: 3 images x 2 questions
        rows += [mme_row(f"{i}.jpg", "existence", q, "Yes"), mme_row(f"{i}.jpg", "existence", q, "No")]
    rows += [mme_row("c.png", "code_reasoning", q, "Yes"), mme_row("c.png", "code_reasoning", q, "No")]
    bench = get_benchmark("mme")
    samples = bench.load(str(write_parquet(tmp_path / "mme", rows)))
    assert bench.prompt(samples[0]) == "Is there a dog in this image?\nAnswer the question using a single word or phrase."
    assert samples[0].id != samples[1].id
    # image 0 both right, image 1 one right, image 2 both wrong -> acc 3/6, acc+ 1/3 -> 50 + 33.33
    replies = ["Yes", "No", "Yes", "Yes", "No", "Yes", "Yes", "No"]
    agg = bench.aggregate([bench.score(s, r) for s, r in zip(samples, replies)])
    assert agg["subtask/existence"] == pytest.approx(50 + 100 / 3)
    assert agg["subtask/code_reasoning"] == pytest.approx(200)
    assert agg["perception"] == pytest.approx(50 + 100 / 3) and agg["cognition"] == pytest.approx(200)
    assert bench.category(samples[0]) == "existence"
