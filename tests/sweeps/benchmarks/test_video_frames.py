"""Video files -> 8 uniformly sampled frames (sweeps/benchmarks/video_frames.py), through the video QA loaders and staging.

Videos are written here with PyAV itself (video_fixtures.py: each frame carries its index in black/white blocks).
"""
import av
import numpy as np
import pytest

from sweeps.benchmarks import get_benchmark
from sweeps.benchmarks.video_frames import VideoReadError, frame_indices, sample_frames
from sweeps.judge import Judge
from sweeps.stage import stage
from tests.sweeps.benchmarks.bench_fixtures import png, write_jsonl
from tests.sweeps.benchmarks.video_fixtures import LONG, SHORT, read_index, write_video
from tests.sweeps.judge_stub import StubServer


def reported_frames(path) -> int:
    with av.open(str(path)) as c:
        return c.streams.video[0].frames


def test_frame_indices_rule():
    assert frame_indices(30) == LONG and frame_indices(5) == SHORT
    assert frame_indices(1) == [0] * 8 and frame_indices(8) == list(range(8)) and frame_indices(100, 3) == [0, 49, 99]
    with pytest.raises(VideoReadError):
        frame_indices(0)


def test_mp4_with_frame_count(tmp_path):
    path = write_video(tmp_path / "v.mp4", 30)
    assert reported_frames(path) == 30                  # the container's count is the one used
    frames = sample_frames(path)
    assert len(frames) == 8 and all(f.startswith(b"\x89PNG") for f in frames)
    assert [read_index(f) for f in frames] == LONG


@pytest.mark.parametrize("codec,fmt,name", [("libx264", "matroska", "v.mkv"),    # B-frames: decode != display order
                                             ("libvpx", "webm", "v.webm")])
def test_container_without_frame_count_is_counted(tmp_path, codec, fmt, name):
    path = write_video(tmp_path / name, 30, codec, fmt)
    assert reported_frames(path) == 0                   # so sample_frames must decode and count
    assert [read_index(f) for f in sample_frames(path)] == LONG
    assert [read_index(f) for f in sample_frames(path, 3)] == [0, 14, 29]


def test_gif(tmp_path):                                 # TGIF-QA's videos are animated GIFs (palette frames)
    path = write_video(tmp_path / "v.gif", 30, "gif", "gif", "rgb8")
    assert [read_index(f) for f in sample_frames(path)] == LONG


def test_short_video_repeats_frames(tmp_path):
    path = write_video(tmp_path / "short.mp4", 5)
    assert [read_index(f) for f in sample_frames(path)] == SHORT


def test_unreadable_files_raise(tmp_path):
    (tmp_path / "noise.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    (tmp_path / "empty.avi").write_bytes(b"")
    good = write_video(tmp_path / "good.mp4", 30).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(good[: len(good) // 3])        # index (moov) lost with the tail
    (tmp_path / "audio.wav").write_bytes(b"RIFF$\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00D\xac\x00\x00"
                                         b"\x88X\x01\x00\x02\x00\x10\x00data\x00\x00\x00\x00")   # no video stream
    with pytest.raises(VideoReadError, match="no video stream in audio.wav"):
        sample_frames(tmp_path / "audio.wav")
    for name in ("noise.mp4", "empty.avi", "cut.mp4", "absent.mp4"):
        with pytest.raises(VideoReadError):
            sample_frames(tmp_path / name)


def test_jsonl_dataset_with_videos_loads_and_scores(tmp_path):
    src = tmp_path / "msvd"
    (src / "videos").mkdir(parents=True)
    write_video(src / "clip_a.mp4", 30)
    write_video(src / "videos" / "clip-b.avi", 5)          # Video-LLaVA layout: videos/<video_name>.avi
    outside = write_video(tmp_path / "elsewhere.mp4", 30)
    (src / "broken.mp4").write_bytes(b"not a video at all" * 50)
    rows = [{"question_id": "q0", "video": "clip_a.mp4", "question": "what?", "answer": "a", "type": "what"},
            {"question_id": "q1", "video_name": "clip-b", "question": "who?", "answer": "b", "type": "who"},
            {"question_id": "q2", "video": str(outside), "question": "what?", "answer": "c", "type": "what"},
            {"question_id": "q3", "video": "broken.mp4", "question": "what?", "answer": "d", "type": "what"},
            {"question_id": "q4", "video": "gone.mp4", "question": "what?", "answer": "e", "type": "what"},
            {"question_id": "q5", "video_name": "clip_a", "question": "where?", "answer": "f", "type": "where",
             "frames": ["f0.png", "f1.png", "f2.png"]}]   # pre-extracted frames (paths in the directory) still win
    for i in range(3):
        (src / f"f{i}.png").write_bytes(png((i, 0, 0)))
    write_jsonl(src, rows)
    with StubServer([("ok", "{'pred': 'yes', 'score': 4}")]) as server:
        bench = get_benchmark("msvd_qa", judge=Judge(model="j", base_url=server.url, api_key="sk-x",
                                                     cache_dir=tmp_path / "cache", backoff=0.01))
        s = bench.load(str(src))
        assert [x.id for x in s] == ["q0", "q1", "q2", "q3", "q4", "q5"]
        assert [read_index(f) for f in s[0].frames] == LONG and s[0].error is None and s[0].meta["video"] == "clip_a.mp4"
        assert [read_index(f) for f in s[1].frames] == SHORT and s[1].error is None
        assert [read_index(f) for f in s[2].frames] == LONG
        assert not s[3].frames and "cannot open video broken.mp4" in s[3].error
        assert not s[4].frames and "missing video file 'gone.mp4'" in s[4].error
        assert s[5].frames[0] == png((0, 0, 0)) and len(s[5].frames) == 8
        agg = bench.aggregate([bench.score(x, "pred") for x in s])
    assert agg["n"] == 6 and agg["n_errors"] == 2 and agg["accuracy"] == 1.0 and agg["mean_score"] == 4.0


def test_stage_embeds_video_frames(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    write_video(src / "v0.mp4", 30)
    write_video(src / "v1.mp4", 5)
    (src / "bad.mp4").write_bytes(b"\x00" * 100)
    write_jsonl(src, [{"question_id": "a", "video_name": "v0", "question": "q", "answer": "x"},
                      {"question_id": "b", "video": "v1.mp4", "question": "q", "answer": "y"},
                      {"question_id": "c", "video": "bad.mp4", "question": "q", "answer": "z"}])
    stage("msvd_qa", str(src), tmp_path / "out")
    for p in src.glob("*.mp4"):
        p.unlink()                                        # the staged copy no longer needs the videos
    a, b, c = get_benchmark("msvd_qa").load(str(tmp_path / "out"))
    assert [read_index(f) for f in a.frames] == LONG and [read_index(f) for f in b.frames] == SHORT
    assert c.error and not c.frames                       # stays an error sample
