"""spatial: content-blind spatial downsampling of the (H, W) patch grid, a control for every sweep.

mode "grid" (default): exactly T tokens spread evenly over the grid. h = round(sqrt(T*H/W)) rows
(at least ceil(T/W), at most H) sit at the centres of h equal horizontal bands; the T tokens
are dealt to rows as evenly as possible (row i gets floor((i+1)T/h) - floor(iT/h), so counts
differ by at most one and the longer rows are spread out), and each row's tokens sit at the
centres of equal column bands. T = 64 on 24 x 24 gives the 8 x 8 lattice of 3 x 3 cell centres.
Without a 2-D grid (tokens.grid None) the tokens are spread evenly along the raster order.

mode "pool": average pooling to the nearest s x s grid with s*s <= T (s = isqrt(T), at most
min(H, W)), the "downsampling" baseline of the papers' appendices. The s*s merged tokens are
returned in Selection.tokens (vision width, before the projector), indices are the tokens at
each cell's centre (rows/cols floor((start + end - 1) / 2) of adaptive-pool bins); the real
count s*s (e.g. 121 for T = 128) is what Selection.num_kept reports.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from pruning.registry import check_budget, closest
from pruning.types import Selection, Stage, VisionTokens

MODES = ("grid", "pool")


def grid_indices(H: int, W: int, T: int) -> list[int]:
    """Exactly T distinct raster indices evenly spread over an H x W grid (T < H*W)."""
    h = min(H, T, max(math.ceil(T / W), round(math.sqrt(T * H / W)), 1))
    out = []
    for i in range(h):
        row = (2 * i + 1) * H // (2 * h)  # centre of band i
        count = (i + 1) * T // h - i * T // h  # <= W because h >= ceil(T / W)
        out += [row * W + (2 * j + 1) * W // (2 * count) for j in range(count)]
    return out


def _bin_centres(size: int, s: int) -> list[int]:
    """Centre of each adaptive-average-pool bin [floor(i*size/s), ceil((i+1)*size/s))."""
    return [(i * size // s + -(-(i + 1) * size // s) - 1) // 2 for i in range(s)]


@dataclass(frozen=True)
class Spatial:
    mode: str = "grid"
    stage: ClassVar[Stage] = "encoder"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"Spatial: unknown mode {self.mode!r}; {closest(str(self.mode), MODES)}")

    def select(self, tokens: VisionTokens, budget: int) -> Selection:
        check_budget("Spatial", budget)
        feats = tokens.features  # (B, N, C)
        B, N, C = feats.shape
        device = feats.device
        if budget >= N:
            return Selection(indices=torch.arange(N, device=device).expand(B, N).contiguous())
        if self.mode == "grid":
            H, W = tokens.grid if tokens.grid is not None else (1, N)
            idx = torch.tensor(sorted(grid_indices(H, W, budget)), dtype=torch.int64, device=device)
            return Selection(indices=idx.expand(B, budget).contiguous())  # (B, T)

        if tokens.grid is None:
            raise ValueError(f"Spatial(mode='pool') needs a 2-D patch grid; N={N} is not a square and tokens.grid is None")
        H, W = tokens.grid
        s = min(math.isqrt(budget), H, W)
        maps = feats.transpose(1, 2).reshape(B, C, H, W)  # (B, C, H, W)
        pooled = F.adaptive_avg_pool2d(maps, s).flatten(2).transpose(1, 2)  # (B, s*s, C)
        rows, cols = _bin_centres(H, s), _bin_centres(W, s)
        idx = torch.tensor([r * W + c for r in rows for c in cols], dtype=torch.int64, device=device)
        return Selection(indices=idx.expand(B, s * s).contiguous(), tokens=pooled.contiguous())
