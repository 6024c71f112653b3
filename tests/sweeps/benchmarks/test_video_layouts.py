"""The four video QA releases load as they are laid out on disk (sweeps/benchmarks/video_files.py,
video_qa_json.py), with tiny videos written here: ActivityNet-QA all_test/v_<name>.mp4 (folder and hub zip
archives), MSVD-QA videos/<name>.avi, MSRVTT-QA videos/all/<name>.mp4, TGIF-QA mp4/<name>.mp4, questions
and answers paired by position; missing and corrupt videos are error samples that say why; staging keeps
the 8 frames so the copy needs no videos.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sweeps.benchmarks import get_benchmark
from sweeps.stage import main as stage_main
from sweeps.stage import stage
from tests.sweeps.benchmarks.bench_fixtures import write_parquet
from tests.sweeps.benchmarks.video_fixtures import (LONG, RELEASES, SHORT, read_index, write_qa_json, write_release,
                                                    write_video, zip_videos)

VIDEOS = {"vid_a": 30, "vid-b": 5, "broken": 0}
QA = [("q0", "vid_a", "a dog", 3), ("q1", "vid-b", "red", 4), ("q2", "vid_a", "two", 7),
      ("q3", "broken", "yes", 3), ("q4", "gone", "no", 3)]


def check_samples(samples, bench):
    assert [s.id for s in samples] == ["q0", "q1", "q2", "q3", "q4"]
    assert [s.question for s in samples] == [f"question {i}?" for i in range(5)]
    assert [s.answer for s in samples] == ["a dog", "red", "two", "yes", "no"]       # paired by position
    assert [s.meta["category"] for s in samples] == ["3", "4", "7", "3", "3"]       # the answer file's type
    a, b, c, broken, gone = samples
    assert [read_index(f) for f in a.frames] == LONG and a.error is None
    assert [read_index(f) for f in b.frames] == SHORT and b.error is None
    assert c.frames == a.frames                                     # same video, same 8 frames
    assert not broken.frames and "cannot open video" in broken.error
    assert not gone.frames and "missing video file 'gone'" in gone.error
    assert RELEASES[bench][1] in gone.error                         # it says where it looked


@pytest.mark.parametrize("bench", sorted(RELEASES))
def test_release_layout_loads(tmp_path, bench):
    folder = write_release(tmp_path / "GPT_Zero_Shot_QA", bench, VIDEOS, QA)
    b = get_benchmark(bench)
    check_samples(b.load(str(folder)), bench)                      # the release folder
    check_samples(get_benchmark(bench).load(str(tmp_path / "GPT_Zero_Shot_QA")), bench)   # or the folder above it
    assert [s.id for s in get_benchmark(bench).load(str(folder), limit=2)] == ["q0", "q1"]  # lite: 2 of 2 categories


def test_activitynet_needs_the_v_prefix_layout(tmp_path):
    """ActivityNet-QA's video_name has no v_; the file does. Video-LLaVA's MSVD layout has no prefix."""
    folder = write_release(tmp_path, "activitynet_qa", {"x1": 30}, [("q0", "x1", "a", 0)])
    assert (folder / "all_test" / "v_x1.mp4").is_file() and not (folder / "all_test" / "x1.mp4").exists()
    (s,) = get_benchmark("activitynet_qa").load(str(folder))
    assert s.error is None and [read_index(f) for f in s.frames] == LONG
    shutil.copytree(folder / "all_test", tmp_path / "MSVD_Zero_Shot_QA" / "videos")   # v_x1.mp4 under MSVD's layout
    write_qa_json(tmp_path / "MSVD_Zero_Shot_QA", [{"video_name": "x1", "question_id": "q0", "question": "q?"}],
                  [{"answer": "a"}])
    (m,) = get_benchmark("msvd_qa").load(str(tmp_path / "MSVD_Zero_Shot_QA"))
    assert "missing video file 'x1'" in m.error                    # no prefix is tried where the release has none


def test_pairing_by_position(tmp_path):
    write_video(tmp_path / "videos" / "v.avi", 30, fmt="avi")
    qs = [{"video_name": "v", "question_id": f"q{i}", "question": f"Q{i}"} for i in range(3)]
    answers = [{"answer": "A0"}, {"answer": "A1", "question_id": "q9", "type": 2}, {"answer": "A2", "type": 5}]
    write_qa_json(tmp_path, qs, answers)
    s = get_benchmark("msvd_qa").load(str(tmp_path))
    assert [(x.id, x.answer, x.meta["category"]) for x in s] == [("q0", "A0", None), ("q1", "A1", "2"), ("q2", "A2", "5")]
    assert s[0].error is None and s[2].error is None
    assert "test_q.json[1] is question 'q1' but test_a.json[1] answers 'q9'" in s[1].error and not s[1].frames
    write_qa_json(tmp_path, qs, answers[:2])
    with pytest.raises(ValueError, match="test_q.json has 3 entries but test_a.json has 2"):
        get_benchmark("msvd_qa").load(str(tmp_path))


def test_activitynet_hub_rows_with_zipped_videos_stage_to_frames(tmp_path):
    """A copy of the hub repo (lmms-lab/ActivityNetQA: Parquet rows + videos_chunked_*.zip with members
    all_test/v_<video_name>.mp4) loads, reading videos out of the archives; staged, it needs no videos."""
    raw = tmp_path / "raw"
    files = {f"all_test/v_{n}.mp4": write_video(raw / f"{n}.mp4", k) for n, k in (("a1", 30), ("b2", 5))}
    (raw / "bad.mp4").write_bytes(b"\x00" * 300)
    repo = tmp_path / "ActivityNetQA"
    zip_videos(repo / "videos_chunked_01.zip", {"all_test/v_a1.mp4": files["all_test/v_a1.mp4"]})
    zip_videos(repo / "videos_chunked_02.zip", {"all_test/v_b2.mp4": files["all_test/v_b2.mp4"],
                                                "all_test/v_bad.mp4": raw / "bad.mp4"})
    rows = [{"question_id": f"v_{v}_{i}", "question": f"what {i}", "answer": f"ans{i}", "video_name": v, "type": t}
            for i, (v, t) in enumerate([("a1", 0), ("b2", 3), ("bad", 3), ("nope", 4)])]
    write_parquet(repo / "data", rows, "test-00000-of-00001.parquet")
    bench = get_benchmark("activitynet_qa")
    a, b, bad, nope = bench.load(str(repo))
    assert [read_index(f) for f in a.frames] == LONG and [read_index(f) for f in b.frames] == SHORT
    assert "cannot open video v_bad.mp4" in bad.error and "missing video file 'nope'" in nope.error

    assert stage_main(["activitynet_qa", "--source", str(repo), "--out", str(tmp_path / "staged")]) == 0
    shutil.rmtree(repo / "data")
    for z in repo.glob("*.zip"):
        z.unlink()                                                  # the staged copy stands alone
    manifest = json.loads((tmp_path / "staged" / "manifest.json").read_text())
    assert manifest["rows"] == 4 and manifest["benchmark"] == "activitynet_qa"
    sa, sb, sbad, snope = get_benchmark("activitynet_qa").load(str(tmp_path / "staged"))
    assert sa.frames == a.frames and sb.frames == b.frames          # the 8 frames, byte for byte
    assert sbad.error == bad.error and snope.error == nope.error    # the reason survives staging
    assert (sa.id, sa.answer, sa.meta["category"]) == ("v_a1_0", "ans0", "0")


def test_videos_param_points_at_an_unpacked_copy(tmp_path):
    """Rows in one place, videos in another (`params: {videos: DIR}` / `sweeps.stage --videos DIR`)."""
    write_video(tmp_path / "unpacked" / "all_test" / "v_c3.mp4", 30)
    data = write_parquet(tmp_path / "rows", [{"question_id": "c", "question": "q", "answer": "a", "video_name": "c3",
                                              "type": 1}])
    (s,) = get_benchmark("activitynet_qa", videos=str(tmp_path / "unpacked")).load(str(data))
    assert [read_index(f) for f in s.frames] == LONG
    (none,) = get_benchmark("activitynet_qa").load(str(data))
    assert "missing video file 'c3'" in none.error
    stage("activitynet_qa", str(data), tmp_path / "out", videos=str(tmp_path / "unpacked"))
    (staged,) = get_benchmark("activitynet_qa").load(str(tmp_path / "out"))
    assert staged.frames == s.frames
    with pytest.raises(TypeError):
        get_benchmark("pope", videos=str(tmp_path))                # only video benchmarks take videos
    with pytest.raises(ValueError, match="is not a directory"):
        get_benchmark("msvd_qa", videos=str(tmp_path / "typo"))    # a sweep config fails validation, not every row


HUB_PROBE = """
import io, json, sys
from PIL import Image
from sweeps.benchmarks import get_benchmark
from sweeps.stage import materialise
out = {}
for hub_id in ("lmms-lab/ActivityNetQA", "lmms-eval/ActivityNetQA"):
    bench = get_benchmark("activitynet_qa")
    bench.sampled_rows(hub_id)          # what sweeps.stage does first (the hub rows are read lazily: not here)
    for name in ("zipped", "unpacked", "absent"):
        row = materialise(bench, {"question_id": name, "question": "q", "answer": "a", "video_name": name}, None)
        out[f"{hub_id}/{name}"] = row.get("frames_error") or [f["bytes"].hex() for f in row["frames"]]
json.dump(out, sys.stdout)
"""


def test_hub_source_finds_videos_in_the_hub_cache_and_lmms_eval_unpacked_copy(tmp_path):
    """For hub rows, videos come from lmms-eval's unpacked copy ($HF_HOME/activitynetqa/all_test) or the hub
    repo's videos_chunked_*.zip (snapshot_download, here from a hub cache laid out as huggingface_hub writes it,
    offline); a repo that is not there makes every such row an error that says why."""
    hf = tmp_path / "hf"
    rev = "0123456789abcdef0123456789abcdef01234567"
    repo = hf / "hub" / "datasets--lmms-lab--ActivityNetQA"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(rev)
    zipped = write_video(tmp_path / "z.mp4", 30)
    zip_videos(repo / "snapshots" / rev / "videos_chunked_01.zip", {"all_test/v_zipped.mp4": zipped})
    write_video(hf / "activitynetqa" / "all_test" / "v_unpacked.mp4", 5)
    env = {**os.environ, "HF_HOME": str(hf), "HF_HUB_OFFLINE": "1"}
    env.pop("HF_HUB_CACHE", None)
    proc = subprocess.run([sys.executable, "-c", HUB_PROBE], cwd=Path(__file__).resolve().parents[3], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout)
    for hub_id in ("lmms-lab/ActivityNetQA", "lmms-eval/ActivityNetQA"):
        assert [read_index(bytes.fromhex(f)) for f in got[f"{hub_id}/unpacked"]] == SHORT      # lmms-eval's copy
        assert "missing video file 'absent'" in got[f"{hub_id}/absent"]
    assert [read_index(bytes.fromhex(f)) for f in got["lmms-lab/ActivityNetQA/zipped"]] == LONG  # from the archive
    assert "missing video file 'zipped'" in got["lmms-eval/ActivityNetQA/zipped"]               # not in this cache
    assert "the hub archives are unavailable: LocalEntryNotFoundError" in got["lmms-eval/ActivityNetQA/zipped"]
