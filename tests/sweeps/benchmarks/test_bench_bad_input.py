"""Bad input never crashes and is never dropped: missing/corrupt image, empty answer, malformed row, bad JSONL line."""
import pytest

from sweeps.benchmarks import get_benchmark
from tests.sweeps.benchmarks.bench_fixtures import image_struct, png, pope_row, write_jsonl, write_parquet


def test_bad_rows_are_counted_errors(tmp_path):
    rows = [pope_row(1, "yes", "random"),
            {**pope_row(2, "no", "random"), "image": image_struct(None, None)},            # missing image
            {**pope_row(3, "no", "random"), "image": image_struct(b"not a png at all")},   # corrupt image
            {**pope_row(4, "", "random")},                                                # empty answer
            {**pope_row(5, "maybe", "popular")},                                          # malformed answer
            {**pope_row(6, "no", "popular"), "question": None}]                           # malformed row
    bench = get_benchmark("pope")
    samples = bench.load(str(write_parquet(tmp_path / "p", rows)))
    assert len(samples) == 6
    errors = [s.error for s in samples]
    assert errors[0] is None
    assert "missing image" in errors[1] and "corrupt image" in errors[2]
    assert "answer" in errors[3] and "yes/no" in errors[4] and "question" in errors[5]
    scores = [bench.score(s, "yes") for s in samples]
    assert all("error" in s for s in scores[1:]) and scores[0]["score"] == 1.0
    assert scores[1]["category"] == "random"
    agg = bench.aggregate(scores)
    assert agg["n"] == 6 and agg["n_errors"] == 5 and agg["accuracy"] == 1.0
    with pytest.raises(ValueError, match="no image"):
        samples[1].pil_image()


def test_missing_prediction_is_an_error_not_a_zero(tmp_path):
    bench = get_benchmark("pope")
    (s,) = bench.load(str(write_parquet(tmp_path / "p", [pope_row(1, "no", "random")])))
    assert bench.score(s, None) == {"error": "no prediction", "category": "random", "rule": "llava"}
    assert bench.score(s, "")["score"] == 0.0         # an empty reply is a wrong answer (LLaVA rule reads "yes")


def test_jsonl_bad_line_and_missing_image_file(tmp_path):
    root = tmp_path / "j"
    root.mkdir()
    (root / "ok.png").write_bytes(png())
    rows = [{"question_id": "1", "question": "Q?", "answer": "yes", "category": "random", "image": "ok.png"},
            "{this is not json",
            {"question_id": "3", "question": "Q?", "answer": "no", "category": "random", "image": "gone.png"}]
    samples = get_benchmark("pope").load(str(write_jsonl(root, rows)))
    assert [s.error is None for s in samples] == [True, False, False]
    assert "malformed JSON line" in samples[1].error and "gone.png" in samples[2].error
    assert samples[0].pil_image().size == (16, 16)


def test_every_benchmark_survives_an_empty_row(tmp_path):
    from sweeps.benchmarks import BENCHMARKS
    for name in BENCHMARKS:
        root = write_jsonl(tmp_path / name, [{"unexpected": 1}])
        (s,) = get_benchmark(name).load(str(root))
        assert s.error, name
        assert "error" in get_benchmark(name).score(s, "yes"), name


def test_hub_offline_not_staged_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf" / "datasets"))
    with pytest.raises(RuntimeError) as err:
        get_benchmark("pope").load("lmms-lab/POPE", limit=2)
    msg = str(err.value)
    assert "lmms-lab/POPE" in msg and "python -m sweeps.stage pope --source lmms-lab/POPE" in msg


def test_unknown_local_directory_without_data(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no .parquet or .jsonl"):
        get_benchmark("pope").load(str(tmp_path / "empty"))


def test_datasets_path_keeps_images_encoded(tmp_path):
    """The hub code path (datasets.load_dataset + Image(decode=False)) on a dataset saved by `datasets` itself."""
    import datasets

    from sweeps.benchmarks.loading import hub_dataset

    rows = [pope_row(i, "yes", "random") for i in range(3)]
    for r in rows:
        r["image"] = {"bytes": png(), "path": None}
    features = datasets.Features({k: datasets.Value("string") for k in rows[0] if k != "image"} | {"image": datasets.Image()})
    ds = datasets.Dataset.from_list(rows, features=features)
    (tmp_path / "hub").mkdir()
    ds.to_parquet(str(tmp_path / "hub" / "test-00000-of-00001.parquet"))
    loaded = hub_dataset(str(tmp_path / "hub"), None, "test", "hint")
    first = loaded[0]
    assert first["image"]["bytes"] == png() and first["category"] == "random"


def test_missing_local_directory_is_not_mistaken_for_a_hub_id(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither an existing directory nor a hub id"):
        get_benchmark("pope").load(str(tmp_path / "typo"))
