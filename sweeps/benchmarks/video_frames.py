"""Decode a video file (anything FFmpeg reads: mp4, avi, webm, mkv, gif, ...) with PyAV into n uniformly
sampled frames, PNG-encoded, as the video QA benchmarks' Sample.frames.

Sampling rule (Video-LLaVA, videollava/model/multimodal_encoder/languagebind/video/processing_video.py,
`load_and_transform_video`, decord/opencv/lmdb backends): with F the number of decoded frames,

    indices = numpy.linspace(0, F - 1, n, dtype=int)        # truncated toward zero, both ends included

e.g. F=30, n=8 -> [0, 4, 8, 12, 16, 20, 24, 29]. lmms-eval's `read_video_pyav` uses the same linspace
but clamps n to F; we follow Video-LLaVA instead, so a video shorter than n frames repeats frames
(F=5, n=8 -> [0, 0, 1, 1, 2, 2, 3, 4]) and a sample always has exactly n frames, as the 8-frame video
tower expects.

F is the container's frame count when it reports one (stream.frames, as lmms-eval reads it); when it
reports none (webm, mkv, gif, raw streams) or decoding ends before the frame it promised, the frames
are counted by decoding and the video is decoded a second time to pick them, so only n frames are
ever held in memory. A file that cannot be opened or decoded raises VideoReadError (a RowError: the
benchmark loader turns it into an error sample).
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from sweeps.benchmarks.loading import RowError

FRAMES = 8


class VideoReadError(RowError):
    """The file is missing, has no video stream, or FFmpeg cannot open or decode it."""


def frame_indices(total: int, n: int = FRAMES) -> list[int]:
    """n indices spread evenly over total frames, ends included: numpy.linspace(0, total-1, n, dtype=int)."""
    if total <= 0:
        raise VideoReadError("video has no frames")
    if n <= 0:
        raise ValueError(f"n must be >= 1, got {n}")
    return [int(i) for i in np.linspace(0, total - 1, n, dtype=int)]


def sample_frames(path: str | Path, n: int = FRAMES) -> list[bytes]:
    """n frames of the video at `path`, uniformly sampled (frame_indices), as PNG bytes in time order."""
    path = Path(path)
    if not path.is_file():
        raise VideoReadError(f"missing video file {str(path)!r}")
    total = _reported_frames(path)
    if total > 0:
        picked = _pick(path, frame_indices(total, n))
        if picked is not None:
            return picked
    total = _count_frames(path)          # no count, or the container over-reported it
    picked = _pick(path, frame_indices(total, n))
    if picked is None:                   # a second decode that yields fewer frames than the first
        raise VideoReadError(f"cannot decode {path.name}: frame count changed between two decodes")
    return picked


def _open(path: Path):
    import av

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise VideoReadError(f"cannot open video {path.name}: {exc}") from exc
    if not container.streams.video:
        container.close()
        raise VideoReadError(f"no video stream in {path.name}")
    return container


def _reported_frames(path: Path) -> int:
    with _open(path) as container:
        return int(container.streams.video[0].frames or 0)


def _decoded(container, path: Path):
    """Frames of the first video stream in presentation order; FFmpeg errors become VideoReadError."""
    import av

    try:
        yield from container.decode(video=0)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise VideoReadError(f"cannot decode {path.name}: {exc}") from exc


def _count_frames(path: Path) -> int:
    with _open(path) as container:
        total = sum(1 for _ in _decoded(container, path))
    if total == 0:
        raise VideoReadError(f"no decodable frames in {path.name}")
    return total


def _pick(path: Path, indices: list[int]) -> list[bytes] | None:
    """PNG bytes of the frames at `indices` (sorted, repeats allowed), or None when the video ends first."""
    wanted = set(indices)
    found: dict[int, bytes] = {}
    with _open(path) as container:
        for i, frame in enumerate(_decoded(container, path)):
            if i in wanted:
                buf = io.BytesIO()
                frame.to_image().save(buf, format="PNG")      # RGB, the frame's own size
                found[i] = buf.getvalue()
            if i >= indices[-1]:
                break
    if len(found) < len(wanted):
        return None
    return [found[i] for i in indices]
