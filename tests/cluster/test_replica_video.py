"""Video samples through the replica (in-process, the class the Ray actor wraps) into tiny-video-llava's encode:
each video arrives as its 8 frames (PIL, linspace(0, F-1, 8)), a missing or corrupt video is an error row
that says why (the unit still returns every row), and each row reports its kept tokens per frame."""
import io

import pytest
from PIL import Image

from cluster.replica import Payload, Replica
from pruning.types import PrunePlan
from sweeps.benchmarks import get_benchmark
from sweeps.benchmarks.video_frames import sample_frames
from tests.sweeps.benchmarks.video_fixtures import LONG, SHORT, read_index, write_release

POINTS = [PrunePlan("keep_all", None), PrunePlan("vispruner", 114, {"ratio": 0.5})]


@pytest.fixture(scope="module")
def replica():
    return Replica("tiny-video-llava", "r-video", threads=2)


def test_video_frames_reach_encode_and_bad_videos_are_error_rows(replica, tmp_path):
    folder = write_release(tmp_path, "msrvtt_qa", {"video1": 30, "video2": 5, "video3": 0},
                           [("q0", "video1", "a", 0), ("q1", "video3", "b", 0), ("q2", "gone", "c", 1), ("q3", "video2", "d", 1)])
    samples = get_benchmark("msrvtt_qa").load(str(folder))
    seen = []
    real = replica.vlm.encode

    def encode(media):                      # the real encode, recording what it was given
        seen.append(media)
        return real(media)

    replica.vlm.encode = encode
    try:
        rows = replica.run(Payload("u", samples, [s.question for s in samples], [p.to_dict() for p in POINTS], 3,
                                   batch_size=4))
    finally:
        replica.vlm.encode = real
    # one encode for the batch: the two readable videos, each a list of 8 PIL frames in sampled order
    assert len(seen) == 1 and len(seen[0]) == 2
    assert [[read_index(f) for f in video] for video in seen[0]] == [LONG, SHORT]
    assert len(rows) == 4 * len(POINTS)                                    # nothing lost
    by = {(r["point"], r["sample_id"]): r for r in rows}
    for k in range(len(POINTS)):
        assert "cannot open video video3.mp4" in by[k, "q1"]["error"] and by[k, "q1"]["prediction"] is None
        assert "missing video file 'gone'" in by[k, "q2"]["error"] and by[k, "q2"]["prediction"] is None
        assert by[k, "q1"]["kept_per_frame"] is None
    for sid in ("q0", "q3"):
        full, pruned = by[0, sid], by[1, sid]
        assert full["error"] is None and pruned["error"] is None
        assert full["n_visual_in"] == full["n_visual_kept"] == 8 * 257 and full["kept_per_frame"] == [257] * 8
        assert pruned["n_visual_in"] == 8 * 257 and pruned["n_visual_kept"] == 114
        assert len(pruned["kept_per_frame"]) == 8 and sum(pruned["kept_per_frame"]) == 114

    # independent reference: the adapter called directly on frames decoded straight from the file
    frames = [Image.open(io.BytesIO(b)).convert("RGB") for b in sample_frames(folder / "videos" / "all" / "video1.mp4")]
    vis = replica.vlm.encode([frames])
    for k, plan in enumerate(POINTS):
        (ref,) = replica.vlm.generate([samples[0].question], plan, vision=vis, max_new_tokens=3, sample_keys=["q0"])
        assert by[k, "q0"]["prediction"] == ref.text and by[k, "q0"]["kept_per_frame"] == ref.kept_per_frame
