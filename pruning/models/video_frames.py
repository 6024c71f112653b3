"""Frames of a video as the vision tower sees them, and one budget over a whole video.

Video-LLaVA (github.com/PKU-YuanGroup/Video-LLaVA) samples 8 frames at linspace(0, F-1, 8) (truncated to int)
and encodes each frame on its own (one VisionTokens row per frame). Selection runs jointly over the video: the
frames' rows are joined into one row of F x N tokens (`join_frames`), so one budget T is spent where the
importance is, not T/F per frame.
"""
from __future__ import annotations

import numpy as np
import torch

from pruning.types import VisionTokens


def frame_indices(n_frames: int, n_sampled: int) -> list[int]:
    """Indices of the sampled frames: linspace(0, F-1, n) truncated (repeats when F < n, as the reference)."""
    if n_frames < 1:
        raise ValueError("a video needs at least one frame")
    return np.linspace(0, n_frames - 1, n_sampled).astype(int).tolist()


def sample_frames(frames: list, n_sampled: int) -> list:
    return [frames[i] for i in frame_indices(len(frames), n_sampled)]


def join_frames(vision: VisionTokens, frames: int) -> VisionTokens:
    """Rows (S*F, N, ...) of F frames per sample -> one row per sample (S, F*N, ...), frame-major raster order.

    Per-token signals are concatenated along N (each frame keeps its own [CLS] attention, so a patch of any
    frame competes with every other patch of the video); per-row keys come from the sample's first row; `cls`
    becomes the mean of the frames' [CLS] states (the one [CLS] a VisionZip row can hold); PruMerge+'s
    last-layer signals are left out (not run on video). Grid (F*H, W): frames stacked top to bottom.
    """
    R, N = vision.num_rows, vision.num_tokens
    if R % frames or (vision.row_sample is not None and vision.row_sample != tuple(r // frames for r in range(R))):
        raise ValueError(f"join_frames: expected {frames} consecutive rows per sample, got row_sample {vision.row_sample}")
    S = R // frames

    def tokens(t: torch.Tensor | None) -> torch.Tensor | None:  # (S*F, N, ...) -> (S, F*N, ...)
        return None if t is None else t.reshape(S, frames * N, *t.shape[2:])

    def first(t: torch.Tensor | None) -> torch.Tensor | None:  # (S*F,) -> (S,)
        return None if t is None else t.view(S, frames)[:, 0]

    H, W = vision.grid if vision.grid is not None else (1, N)
    return VisionTokens(features=tokens(vision.features), attention=tokens(vision.attention), keys=tokens(vision.keys),
                        cls=None if vision.cls is None else vision.cls.view(S, frames, -1).mean(1),
                        grid=(frames * H, W), projected=tokens(vision.projected),
                        sample_keys=first(vision.sample_keys), content_keys=first(vision.content_keys))


def per_frame(indices: torch.Tensor, tokens_per_frame: int, frames: int) -> list[list[int]]:
    """indices (S, T) into a joined row of frames x tokens_per_frame -> kept tokens per frame, per sample."""
    counts = torch.zeros(indices.shape[0], frames, dtype=torch.long, device=indices.device)
    counts.scatter_add_(1, indices // tokens_per_frame, torch.ones_like(indices))  # (S, F)
    return counts.tolist()
