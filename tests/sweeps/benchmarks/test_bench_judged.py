"""MM-Vet and the video QA benchmarks scored through the real Judge against a local stub server."""
import numpy as np
import pytest

from sweeps.benchmarks import get_benchmark
from sweeps.benchmarks.mmvet import grader_query, parse_correctness
from sweeps.benchmarks.video_qa import parse_verdict, uniform_indices
from sweeps.judge import Judge
from tests.sweeps.benchmarks.bench_fixtures import image_struct, png, write_parquet
from tests.sweeps.judge_stub import StubServer


def judge(server, tmp_path):
    return Judge(model="j", base_url=server.url, api_key="sk-x", cache_dir=tmp_path / "cache", backoff=0.01)


def test_uniform_indices_match_numpy_linspace():
    for n in range(1, 400, 7):
        assert uniform_indices(n) == list(np.linspace(0, n - 1, 8, dtype=int)), n


def test_parsers():
    assert parse_verdict("{'pred': 'yes', 'score': 4}") == ("yes", 4)
    assert parse_verdict(" {'pred': 'No', 'score': 4.8} ") == ("no", 4)       # int(), as Video-ChatGPT
    for bad in ["yes 4", "{'pred': 'maybe', 'score': 3}", "{'pred': 'yes', 'score': 9}"]:
        with pytest.raises(Exception):
            parse_verdict(bad)
    assert parse_correctness("0.4") == 0.4 and parse_correctness("1.0 because") == 1.0
    with pytest.raises(ValueError):
        parse_correctness("1.5")
    q = grader_query("What is x?", "-1<AND>-5", "x = -1")
    assert q.endswith("\nWhat is x? | -1 <AND> -5 | x = -1 |") and "Question | Ground truth | Prediction | Correctness" in q


def test_mmvet_scoring(tmp_path):
    rows = [{"question_id": f"v1_{i}", "image": image_struct(png()), "question": f"q{i}?", "answer": "a",
             "image_source": "x", "capability": cap} for i, cap in enumerate(["rec,ocr", "math", "ocr"])]
    with StubServer([("ok", "0.5"), ("ok", "1.0"), ("ok", "garbled")]) as server:
        bench = get_benchmark("mmvet", judge=judge(server, tmp_path))
        samples = bench.load(str(write_parquet(tmp_path / "mmvet", rows)))
        assert bench.prompt(samples[0]) == "q0?"
        scores = [bench.score(s, "pred") for s in samples]
    assert scores[0]["score"] == 0.5 and scores[1]["score"] == 1.0 and "malformed" in scores[2]["error"]
    agg = bench.aggregate(scores)
    assert agg["score"] == 0.75 and agg["n_errors"] == 1
    assert agg["score_by_capability/ocr"] == 0.5 and agg["score_by_capability/math"] == 1.0
    assert "error" in get_benchmark("mmvet").score(samples[0], "pred")            # no judge: an error, not a crash


def test_video_qa_frames_and_judge(tmp_path):
    frames = [image_struct(png((i, 0, 0)), f"f{i}.png") for i in range(20)]
    rows = [{"question_id": "q1", "video_name": "v1", "question": "what is the man doing", "answer": "dancing",
             "type": "0", "frames": frames},
            {"question_id": "q2", "video_name": "v2", "question": "who sings", "answer": "a girl", "type": "1",
             "frames": frames[:3]},
            {"question_id": "q3", "video_name": "v3", "question": "where", "answer": "park", "type": "1"}]
    with StubServer([("ok", "{'pred': 'yes', 'score': 5}"), ("ok", "{'pred': 'no', 'score': 2}")]) as server:
        for name in ("msvd_qa", "msrvtt_qa", "tgif_qa", "activitynet_qa"):
            bench = get_benchmark(name, judge=judge(server, tmp_path))
            a, b, c = bench.load(str(write_parquet(tmp_path / name, rows)))
            assert len(a.frames) == 8 and a.image is None
            assert a.frames == [frames[i]["bytes"] for i in uniform_indices(20)]
            assert len(b.frames) == 8 and c.error and "missing video file 'v3'" in c.error
            assert bench.prompt(a) == "what is the man doing"
            scores = [bench.score(a, "he dances"), bench.score(b, "a boy"), bench.score(c, "x")]
            agg = bench.aggregate(scores)
            assert agg["accuracy"] == 0.5 and agg["mean_score"] == 3.5 and agg["n_errors"] == 1, name
        assert len(server.requests) == 2             # the same (question, answer, prediction) is judged once: cached
    assert server.requests[0]["messages"][0]["role"] == "system"
    assert "Predicted Answer: he dances" in server.requests[0]["messages"][1]["content"]


def test_judge_from_config_dict(tmp_path):
    with StubServer([("ok", "0.25")]) as server:
        bench = get_benchmark("mmvet", judge={"model": "j", "base_url": server.url, "api_key": "sk-x",
                                              "cache_dir": str(tmp_path / "c")})
        rows = [{"question_id": "v1_0", "image": image_struct(png()), "question": "q?", "answer": "a",
                 "image_source": "x", "capability": "rec"}]
        (s,) = bench.load(str(write_parquet(tmp_path / "mmvet", rows)))
        assert bench.score(s, "p")["score"] == 0.25 and bench.categories(s) == "rec"
    with pytest.raises(TypeError):
        get_benchmark("msvd_qa", judge="yes please")
