"""python -m sweeps.stage: self-contained Parquet + manifest, verified on load; lite subsets seeded, stratified, grouped."""
import json
import subprocess
import sys
from collections import Counter

import pytest

from sweeps.benchmarks import get_benchmark
from sweeps.stage import stage
from tests.sweeps.benchmarks.bench_fixtures import mme_row, png, pope_row, write_jsonl, write_parquet


def pope_source(tmp_path, n_per=(40, 20, 20)):
    rows = []
    for cat, n in zip(("adversarial", "popular", "random"), n_per):
        rows += [pope_row(i, "yes" if i % 2 else "no", cat) for i in range(n)]
    return write_parquet(tmp_path / "src", rows)


def test_full_stage_round_trip_and_manifest(tmp_path):
    src = pope_source(tmp_path)
    m = stage("pope", str(src), tmp_path / "out")
    assert m["rows"] == 80 and m["split"] == "test" and m["source"] == str(src)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["files"][0]["rows"] == 80 and len(manifest["files"][0]["sha256"]) == 64
    bench = get_benchmark("pope")
    a, b = bench.load(str(src)), bench.load(str(tmp_path / "out"))
    assert [(s.id, s.question, s.answer, s.image, s.meta) for s in a] == [(s.id, s.question, s.answer, s.image, s.meta) for s in b]
    with pytest.raises(FileExistsError):
        stage("pope", str(src), tmp_path / "out")


def test_lite_is_deterministic_and_stratified(tmp_path):
    src = pope_source(tmp_path)
    one = stage("pope", str(src), tmp_path / "a", lite=20, seed=7)
    two = stage("pope", str(src), tmp_path / "b", lite=20, seed=7)
    other = stage("pope", str(src), tmp_path / "c", lite=20, seed=8)
    assert one["rows"] == 20 and [f["sha256"] for f in one["files"]] == [f["sha256"] for f in two["files"]]
    bench = get_benchmark("pope")
    ids = [s.id for s in bench.load(str(tmp_path / "a"))]
    assert ids != [s.id for s in bench.load(str(tmp_path / "c"))]
    assert Counter(i.split("/")[0] for i in ids) == {"adversarial": 10, "popular": 5, "random": 5}   # 40:20:20 of 20


def test_lite_keeps_groups_together(tmp_path):
    rows = []
    for i in range(10):
        rows += [mme_row(f"{i}.jpg", "existence", "Q? Please answer yes or no.", "Yes"),
                 mme_row(f"{i}.jpg", "existence", "Q2? Please answer yes or no.", "No")]
    stage("mme", str(write_parquet(tmp_path / "src", rows)), tmp_path / "out", lite=6, seed=0)
    samples = get_benchmark("mme").load(str(tmp_path / "out"))
    assert len(samples) == 6 and all(v == 2 for v in Counter(s.meta["image_key"] for s in samples).values())


def test_checksum_mismatch_is_detected(tmp_path):
    stage("pope", str(pope_source(tmp_path)), tmp_path / "out")
    path = next((tmp_path / "out").glob("*.parquet"))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum mismatch"):
        get_benchmark("pope").load(str(tmp_path / "out"))
    path.unlink()
    with pytest.raises(ValueError, match="missing"):
        get_benchmark("pope").load(str(tmp_path / "out"))


def test_jsonl_with_image_paths_stages_self_contained(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.png").write_bytes(png())
    write_jsonl(src, [{"question_id": "1", "question": "Q?", "answer": "yes", "category": "random", "image": "a.png"},
                      {"question_id": "2", "question": "Q?", "answer": "no", "category": "random", "image": "gone.png"}])
    stage("pope", str(src), tmp_path / "out")
    (src / "a.png").unlink()                        # the staged copy no longer needs the source
    a, b = get_benchmark("pope").load(str(tmp_path / "out"))
    assert a.image == png() and a.error is None and "missing image" in b.error


def test_cli_shapes(tmp_path):
    out = tmp_path / "shapes"
    proc = subprocess.run([sys.executable, "-m", "sweeps.stage", "shapes", "--source", "generate", "--out", str(out),
                           "--lite", "16", "--seed", "3"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    staged = get_benchmark("shapes").load(str(out))
    fresh = get_benchmark("shapes", seed=3, n=16).load()
    assert [(s.id, s.image, s.answer, s.meta["quadrant"]) for s in staged] == [(s.id, s.image, s.answer, s.meta["quadrant"]) for s in fresh]


def test_cli_errors_are_clear(tmp_path):
    env_run = lambda *a: subprocess.run([sys.executable, "-m", "sweeps.stage", *a], capture_output=True, text=True, timeout=120)
    proc = env_run("popee", "--source", "x/y", "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "did you mean 'pope'" in proc.stderr and "Traceback" not in proc.stderr
    proc = env_run("pope", "--source", str(tmp_path / "missing"), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "neither an existing directory" in proc.stderr
