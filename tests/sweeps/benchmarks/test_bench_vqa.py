"""VQA normalisation and accuracy against hand-worked values; VQAv2 / TextVQA / VizWiz end to end from Parquet fixtures."""
import pytest

from sweeps.benchmarks import get_benchmark
from sweeps.benchmarks.vqa_normalize import normalize, process_digit_article, process_punctuation, vqa_accuracy
from tests.sweeps.benchmarks.bench_fixtures import image_struct, png, vqav2_row, write_parquet


@pytest.mark.parametrize("raw, expected", [
    ("Two", "2"), ("two dogs", "2 dogs"), ("none", "0"),
    ("a dog", "dog"), ("The Dog.", "dog"), ("an apple", "apple"),
    ("dont", "don't"), ("isnt", "isn't"), ("Yes!", "yes"), ("yes.", "yes"),
    ("3.5", "3.5"),                      # a period before a digit stays
    ("1,000", "1000"), ("black, white", "black white"),
    ("hello-world", "hello world"), ("left / right", "left  right".replace("  ", " ")),
    ("cat's toy", "cat 's toy"),
])
def test_normalize_edge_cases(raw, expected):
    assert normalize(raw) == expected


def test_punctuation_spacing_rule():
    # a mark next to a space is dropped, one inside a word becomes a space
    assert process_punctuation("a-b") == "a b"
    assert process_punctuation("a - b") == "a  b"
    assert process_digit_article("Four  of The") == "4 of"


def test_accuracy_leave_one_out_hand_worked():
    # 2 of 10 annotators say "dog": each left-out annotator sees 1 or 2 matches among the other 9
    answers = ["dog"] * 2 + ["cat"] * 8
    # left out a "dog" -> 1 match -> 1/3 (x2); left out a "cat" -> 2 matches -> 2/3 (x8)
    assert vqa_accuracy("dog", answers) == pytest.approx((2 * (1 / 3) + 8 * (2 / 3)) / 10)
    assert vqa_accuracy("cat", answers) == pytest.approx(1.0)          # >= 3 matches everywhere
    answers = ["dog"] * 3 + ["cat"] * 7
    assert vqa_accuracy("dog", answers) == pytest.approx((3 * (2 / 3) + 7 * 1.0) / 10)
    assert vqa_accuracy("bird", answers) == 0.0


def test_normalisation_applies_only_when_answers_differ():
    differing = ["2"] * 9 + ["3"]
    assert vqa_accuracy("two", differing) == 1.0                    # "two" -> "2" because answers differ
    identical = ["2"] * 10
    assert vqa_accuracy("two", identical) == 0.0                    # reference: no normalisation when all identical
    assert vqa_accuracy("two", identical, always_normalize=True) == 1.0
    assert vqa_accuracy("2", identical) == 1.0
    assert vqa_accuracy("Dog", ["dog"] * 10) == 1.0                 # case-insensitive compare still applies
    assert vqa_accuracy("a dog", ["dog"] * 9 + ["cat"]) == 1.0


def test_vqav2_end_to_end(tmp_path):
    rows = [vqav2_row(1, ["2"] * 10, "How many dogs?", "number"),
            vqav2_row(2, ["dog"] * 2 + ["cat"] * 8, "What animal?"),
            vqav2_row(3, ["yes"] * 10, "Is it sunny?", "yes/no")]
    bench = get_benchmark("vqav2")
    samples = bench.load(str(write_parquet(tmp_path / "vqav2", rows, "validation-00000.parquet")))
    assert [s.id for s in samples] == ["1", "2", "3"] and samples[0].image == rows[0]["image"]["bytes"]
    assert bench.prompt(samples[0]) == "How many dogs?\nAnswer the question using a single word or phrase."
    assert bench.category(samples[0]) == "number"
    # LLaVA submits normalize(prediction): "Two." -> "2", matching even the all-identical answers
    scores = [bench.score(samples[0], "Two."), bench.score(samples[1], "A dog"), bench.score(samples[2], "no")]
    assert [s["score"] for s in scores] == pytest.approx([1.0, (2 / 3 + 16 / 3) / 10, 0.0])
    agg = bench.aggregate(scores)
    assert agg["accuracy"] == pytest.approx((1.0 + 0.6) / 3) and agg["n"] == 3 and agg["n_errors"] == 0
    assert agg["acc_by_category/number"] == 1.0
    assert len(bench.load(str(tmp_path / "vqav2"), limit=2)) == 2


def test_textvqa_prompt_and_m4c_scoring(tmp_path):
    row = {"image_id": "i1", "question_id": 7, "question": "what brand is this?", "question_tokens": ["what"],
           "image": image_struct(png()), "image_width": 16, "image_height": 16, "flickr_original_url": "",
           "flickr_300k_url": "", "answers": ["Nike"] * 10, "image_classes": ["shoe"], "set_name": "val",
           "ocr_tokens": ["nike", "just"]}
    bench = get_benchmark("textvqa")
    (s,) = bench.load(str(write_parquet(tmp_path / "t", [row], "validation-0.parquet")))
    assert bench.prompt(s) == "What brand is this?\nAnswer the question using a single word or phrase."
    assert get_benchmark("textvqa", ocr=True).prompt(s).startswith("What brand is this?\nReference OCR token: nike, just\n")
    assert bench.score(s, "nike.")["score"] == 1.0       # m4c normalises both sides even when answers agree


def test_vizwiz_unanswerable(tmp_path):
    rows = [{"question_id": "VizWiz_val_1", "image": image_struct(png()), "question": "what is this?",
             "answers": ["unanswerable"] * 8 + ["soup", "can"], "category": "unanswerable"},
            {"question_id": "VizWiz_val_2", "image": image_struct(png()), "question": "what color?",
             "answers": ["red"] * 10, "category": "other"}]
    bench = get_benchmark("vizwiz")
    a, b = bench.load(str(write_parquet(tmp_path / "v", rows, "val-0.parquet")))
    assert bench.prompt(a) == ("What is this?\nWhen the provided information is insufficient, respond with 'Unanswerable'."
                               "\nAnswer the question using a single word or phrase.")
    scores = [bench.score(a, "Unanswerable"), bench.score(b, "Blue")]
    assert scores[0]["score"] == 1.0 and scores[1]["score"] == 0.0
    agg = bench.aggregate(scores)
    assert agg["acc_unanswerable"] == 1.0 and agg["acc_answerable"] == 0.0 and agg["accuracy"] == 0.5
