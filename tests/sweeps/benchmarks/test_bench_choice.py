"""MMBench (option extraction, circular evaluation), ScienceQA-IMG, GQA, and the registry."""
import pytest

from sweeps.benchmarks import BENCHMARKS, get_benchmark
from sweeps.benchmarks.options import extract_letter
from tests.sweeps.benchmarks.bench_fixtures import image_struct, mmbench_row, png, write_jsonl, write_parquet


def test_registry_names_and_did_you_mean():
    assert set(BENCHMARKS) == {"vqav2", "gqa", "vizwiz", "scienceqa_img", "textvqa", "pope", "mme", "mmbench_en",
                               "mmbench_cn", "mmvet", "tgif_qa", "msvd_qa", "msrvtt_qa", "activitynet_qa", "shapes"}
    for name in BENCHMARKS:
        b = get_benchmark(name)
        assert b.name == name and b.max_new_tokens > 0 and b.primary_metric
    with pytest.raises(KeyError, match="did you mean 'pope'"):
        get_benchmark("popee")
    with pytest.raises(TypeError, match="pope"):
        get_benchmark("pope", nonsense=1)


@pytest.mark.parametrize("reply, letter", [
    ("B", "B"), ("B.", "B"), ("(C)", "C"), ("The answer is D.", "D"), ("A", "A"),
    ("A cat sitting on a mat", None),                 # "A" is an article in a longer reply
    ("B or C", None), ("blue", "B"), ("I think it is red", "A"), ("", None),
])
def test_extract_letter(reply, letter):
    assert extract_letter(reply, ["red", "blue", "green", "yellow"]) == letter


def test_mmbench_circular_release(tmp_path):
    # question 0 with 3 options as the release stores it: rotations at index 0, 1e6, 2e6
    rows = [mmbench_row(0, "Color?", ["red", "blue", "green"], "A"),
            mmbench_row(1_000_000, "Color?", ["blue", "green", "red"], "C"),
            mmbench_row(2_000_000, "Color?", ["green", "red", "blue"], "B"),
            mmbench_row(1, "Shape?", ["round", "square"], "B", category="shape", hint="Look closely."),
            mmbench_row(1_000_001, "Shape?", ["square", "round"], "A", category="shape", hint="Look closely.")]
    bench = get_benchmark("mmbench_en")
    s = bench.load(str(write_parquet(tmp_path / "mmb", rows, "dev-0.parquet")))
    assert len(s) == 5
    assert bench.prompt(s[3]) == ("Look closely.\nShape?\nA. round\nB. square"
                                  "\nAnswer with the option's letter from the given choices directly.")
    # q0 right in every rotation; q1 wrong in one rotation -> circular accuracy 1/2
    replies = ["A", "C", "B. red", "B", "B"]
    scores = [bench.score(x, r) for x, r in zip(s, replies)]
    agg = bench.aggregate(scores)
    assert agg["accuracy"] == 0.5 and agg["accuracy_single"] == 1.0 and agg["n_questions"] == 2
    assert agg["acc_by_category/shape"] == 0.0
    assert get_benchmark("mmbench_cn").prompt(s[0]).endswith("\n请直接使用所提供的选项字母作为答案回答。")


def test_mmbench_expands_rotations_when_release_is_not_circular(tmp_path):
    rows = [mmbench_row(5, "Color?", ["red", "blue", "green", "yellow"], "B")]
    bench = get_benchmark("mmbench_en")
    s = bench.load(str(write_parquet(tmp_path / "m", rows, "dev-0.parquet")))
    assert [x.id for x in s] == ["5", "1000005", "2000005", "3000005"]
    # the right answer ("blue") moves with its option
    assert [x.meta["options"][ord(x.answer) - 65] for x in s] == ["blue"] * 4
    assert bench.aggregate([bench.score(x, "blue") for x in s])["accuracy"] == 1.0
    assert get_benchmark("mmbench_en", circular=False).load(str(tmp_path / "m"))[0].id == "5"


def test_scienceqa_prompt_and_score(tmp_path):
    rows = [{"image": image_struct(png()), "question": "Which is a mammal?", "choices": ["frog", "whale"], "answer": 1,
             "hint": "Animals differ.", "task": "closed choice", "grade": "grade4", "subject": "natural science",
             "topic": "biology", "category": "Classification", "skill": "x", "lecture": "", "solution": ""},
            {"image": image_struct(png()), "question": "Pick one.", "choices": ["x", "y", "z"], "answer": 0,
             "hint": "", "task": "", "grade": "", "subject": "language science", "topic": "", "category": "",
             "skill": "", "lecture": "", "solution": ""}]
    bench = get_benchmark("scienceqa_img")
    a, b = bench.load(str(write_parquet(tmp_path / "sqa", rows)))
    assert bench.prompt(a) == ("Context: Animals differ.\nWhich is a mammal?\nA. frog\nB. whale"
                               "\nAnswer with the option's letter from the given choices directly.")
    assert bench.prompt(b).startswith("Pick one.\nA. x")
    assert [bench.score(a, r)["score"] for r in ["B", "b", "B. whale", "b. whale", "The answer is B"]] == [1, 1, 1, 0, 0]
    assert bench.category(a) == "natural science"


def test_gqa_local_jsonl_with_relative_images(tmp_path):
    root = tmp_path / "gqa"
    (root / "images").mkdir(parents=True)
    (root / "images" / "n1.jpg").write_bytes(png())
    rows = [{"id": "201", "imageId": "n1", "question": "Is the sky blue?", "answer": "yes", "fullAnswer": "Yes.",
             "isBalanced": True, "types": {"structural": "verify", "semantic": "attr", "detailed": "x"}},
            {"id": "202", "imageId": "n1", "question": "What color?", "answer": "white", "image": "images/n1.jpg",
             "types": {"structural": "query", "semantic": "attr", "detailed": "x"}}]
    bench = get_benchmark("gqa")
    a, b = bench.load(str(write_jsonl(root, rows, "testdev.jsonl")))
    assert a.error is None and a.image == png() and b.image == png()
    assert bench.score(a, "Yes.")["score"] == 1.0 and bench.score(b, "White")["score"] == 1.0
    assert bench.score(b, "white house")["score"] == 0.0
    assert bench.aggregate([bench.score(a, "Yes."), bench.score(b, "no")])["acc_by_category/query"] == 0.0
