"""DivPrune (Alvar et al., CVPR 2025; github.com/vbdi/divprune): greedy max-min diverse subset of the image tokens.

Reads from VisionTokens:
  projected (B, N, D)           projected LLM-input image embeddings (space="llm", the published setting);
  features           (B, N, C)  instead, with space="vision" (standalone use, before the projector).

With d = 1 - cos(X, X): the first pick is the token whose nearest non-self neighbour is farthest; then
greedily add the token whose minimum distance to the selected set is largest, until k tokens.
k = T when a budget is given (T >= N keeps all), else k = max(1, round(ratio * N)) (ratio 0.098 as
published). Ties go to the lowest index. Output: `indices` (B, k) ascending, no merged tokens;
Selection.space names the space the distances were computed in (indices are the same either way).

Differences from the released DivPrune and its caller (docs/ALGORITHMS.md): per sample (the caller selects on
batch element 0 at a hard-coded 35-token offset and applies it to the whole batch); distances in (at least)
float32 (released: the model's dtype); the first pick masks the diagonal (released: each column's second-smallest
distance); an already selected token is never picked again (the released loop can, when every remaining
distance is <= the float noise of 1 - cos(x, x)); k >= 1.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F

from pruning.registry import check_budget
from pruning.types import Selection, Stage, VisionTokens


def greedy_maxmin(X: torch.Tensor, k: int) -> torch.Tensor:
    """X (B, N, D) -> (B, k) token indices in the order DivPrune picks them."""
    U = F.normalize(X.to(torch.promote_types(X.dtype, torch.float32)), dim=-1)  # (B, N, D) at least float32
    dist = 1.0 - U @ U.transpose(1, 2)  # (B, N, N)
    B, N, _ = dist.shape
    eye = torch.eye(N, dtype=torch.bool, device=X.device)
    nearest = dist.masked_fill(eye, float("inf")).amin(dim=1)  # (B, N) nearest non-self neighbour
    picks = [nearest.argmax(dim=-1)]  # (B,)
    rows = torch.arange(B, device=X.device)
    chosen = torch.zeros(B, N, dtype=torch.bool, device=X.device)
    chosen[rows, picks[0]] = True
    min_dist = dist[rows, picks[0]]  # (B, N) distance to the selected set
    for _ in range(k - 1):
        nxt = min_dist.masked_fill(chosen, float("-inf")).argmax(dim=-1)  # (B,)
        picks.append(nxt)
        chosen[rows, nxt] = True
        min_dist = torch.minimum(min_dist, dist[rows, nxt])  # (B, N)
    return torch.stack(picks, dim=1)  # (B, k)


@dataclass(frozen=True)
class DivPrune:
    ratio: float = 0.098                  # kept share of N, used only when no budget T is given
    space: Literal["llm", "vision"] = "llm"  # "llm": projected embeddings (published); "vision": features
    stage: ClassVar[Stage] = "encoder"

    def __post_init__(self) -> None:
        if isinstance(self.ratio, bool) or not isinstance(self.ratio, (int, float)) or not (0.0 < float(self.ratio) <= 1.0):
            raise ValueError(f"DivPrune: ratio must be in (0, 1], got {self.ratio!r}")
        if self.space not in ("llm", "vision"):
            raise ValueError(f"DivPrune: space must be 'llm' (projected embeddings) or 'vision' (features), got {self.space!r}")

    def select(self, tokens: VisionTokens, budget: int | None = None) -> Selection:
        B, N = tokens.attention.shape
        if budget is None:
            k = max(1, int(round(self.ratio * N)))  # k = round(r * N), as published
        else:
            check_budget("DivPrune", budget)
            k = min(budget, N)
        if k >= N:
            return Selection(indices=torch.arange(N, device=tokens.features.device).expand(B, N).contiguous(), space=self.space)
        if self.space == "llm":
            X = tokens.projected
            if X is None:
                raise ValueError("DivPrune(space='llm') needs VisionTokens.projected (extra['projected'], (B, N, D)), the projected "
                                 "LLM-input image embeddings; pass space='vision' to run on VisionTokens.features")
            if X.shape[:2] != (B, N):
                raise ValueError(f"DivPrune: VisionTokens.projected must be (B, N, D) = ({B}, {N}, D), got {tuple(X.shape)}")
        else:
            X = tokens.features  # (B, N, C)
        picks = greedy_maxmin(X, k)  # (B, k)
        return Selection(indices=picks.sort(dim=-1).values, space=self.space)
