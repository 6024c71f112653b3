"""Tiny synthetic videos written with PyAV, and the four video QA releases' directory layouts built from them.

Each frame carries its index as 8 black/white 32x16 blocks (bit b of the index -> block b white), which
survives lossy codecs; `read_index` reads it back by thresholding block means.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import av
import numpy as np
from PIL import Image

SIDE = 64
BLOCKS = [(r * 16, c * 32) for r in range(4) for c in range(2)]   # (top, left) of block b = 2*r + c
LONG = [0, 4, 8, 12, 16, 20, 24, 29]     # hand-worked: floor(i * 29/7), i = 0..7
SHORT = [0, 0, 1, 1, 2, 2, 3, 4]         # floor(i * 4/7): a 5-frame video repeats frames, as Video-LLaVA's linspace does


def index_image(i: int) -> np.ndarray:
    img = np.zeros((SIDE, SIDE, 3), np.uint8)           # (H, W, 3)
    for b, (top, left) in enumerate(BLOCKS):
        if i >> b & 1:
            img[top:top + 16, left:left + 32] = 255
    return img


def read_index(data) -> int:
    """The frame index drawn into a frame (PNG bytes or a PIL image)."""
    img = data if isinstance(data, Image.Image) else Image.open(io.BytesIO(data))
    img = np.asarray(img.convert("L"), dtype=float)      # (H, W)
    assert img.shape == (SIDE, SIDE)
    i = 0
    for b, (top, left) in enumerate(BLOCKS):
        level = img[top + 4:top + 12, left + 6:left + 26].mean()    # block centre, away from codec ringing
        assert level < 60 or level > 195, f"block {b} is not clearly black or white ({level:.0f})"
        i |= int(level > 128) << b
    return i


def write_video(path, n_frames, codec="mpeg4", fmt=None, pix_fmt="yuv420p"):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=10)
        stream.width = stream.height = SIDE
        stream.pix_fmt = pix_fmt
        if codec == "mpeg4":
            stream.bit_rate = 2_000_000
        for i in range(n_frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(index_image(i), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def write_qa_json(folder: Path, questions: list[dict], answers: list[dict], split: str = "test") -> Path:
    """Video-LLaVA's GPT_Zero_Shot_QA pair: <split>_q.json and <split>_a.json, paired by position."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{split}_q.json").write_text(json.dumps(questions))
    (folder / f"{split}_a.json").write_text(json.dumps(answers))
    return folder


# Each release: its folder under GPT_Zero_Shot_QA, where the videos sit in it, the file name of video X.
RELEASES = {
    "activitynet_qa": ("Activitynet_Zero_Shot_QA", "all_test", "v_{}.mp4"),
    "msvd_qa": ("MSVD_Zero_Shot_QA", "videos", "{}.avi"),
    "msrvtt_qa": ("MSRVTT_Zero_Shot_QA", "videos/all", "{}.mp4"),
    "tgif_qa": ("TGIF_Zero_Shot_QA", "mp4", "{}.mp4"),
}


def write_release(parent: Path, bench: str, videos: dict[str, int], qa: list[tuple[str, str, str, int]]) -> Path:
    """<parent>/<Release>_Zero_Shot_QA/ as released: test_q.json, test_a.json and the videos in their folder.

    videos: name -> frame count (0: a file that is not a video); qa: (question_id, video name, answer, type).
    Question i is "question i?". Returns the release folder."""
    folder_name, video_dir, pattern = RELEASES[bench]
    folder = parent / folder_name
    for name, n in videos.items():
        path = folder / video_dir / pattern.format(name)
        if n:
            codec, fmt = ("mpeg4", "avi") if path.suffix == ".avi" else ("mpeg4", None)
            write_video(path, n, codec, fmt)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"not a video" * 40)
    questions = [{"video_name": v, "question_id": q, "question": f"question {i}?"} for i, (q, v, _, _) in enumerate(qa)]
    answers = [{"answer": a, "type": t, "question_id": q} for q, _, a, t in qa]
    return write_qa_json(folder, questions, answers)


def zip_videos(archive: Path, files: dict[str, Path]) -> Path:
    """A zip archive holding `files` (member name -> file), like the hub's videos_chunked_*.zip."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for member, path in files.items():
            z.write(path, member)
    return archive
