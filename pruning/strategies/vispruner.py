"""VisPruner (Zhang et al., "Beyond Text-Visual Attention: Exploiting Visual Cues for Effective
Token Pruning in VLMs", ICCV 2025; github.com/Theia-4869/VisPruner): keep int(T*r) tokens by
[CLS] attention, fill the rest of the budget with diverse ones by iterative duplicate removal.

Semantics: reference/ALGORITHMS.md. Differences from the released `encode_images` loop (main @
d7da3a3), all result-preserving where the released loop runs correctly (batches and r = 1 included):
- k = min(8, R - n_div, len(evens)) with len(evens) = ceil(R / 2). The released loop indexes its
  kept evens with an expand to R // 2 - k columns, so it raises on an odd R (IndexError, e.g.
  T=63, r=0.5: R0 = 545) and when k > R // 2 (a negative expand, small n_div at the last
  rounds), and with odd R and k = R // 2 it broadcasts the one kept even away (T - 1 tokens, or
  a different set after later rounds). Here every shape returns exactly T.
- Cosine similarity among the residual tokens is computed ONCE per call as a (B, R0, R0)
  matrix and each round gathers its (evens x odds) block from it, instead of recomputing
  U[evens] @ U[odds].T every round. The rounds remove <= 8 tokens each, so the released
  loop redoes ~R^2*C/2 multiply-adds (R0/8 - n_div/8) times; one R0^2*C matmul replaces them
  (docs/PERF.md, "Strategy selection cost").
- The similarity is computed in float32 at least (fp16 best-match scores tie often, and
  ties would make the kept order arbitrary), and every sort is stable, so batched and
  per-sample calls agree and ties break by position.
- Batched over B: every sample has the same residual count per round, so shapes stay fixed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from pruning.registry import check_budget, check_ratio
from pruning.types import Selection, Stage, VisionTokens

MAX_REMOVED_PER_ROUND = 8  # the released loop drops at most 8 evens per round


@dataclass(frozen=True)
class VisPruner:
    ratio: float = 0.5  # r: share of the budget T spent on important ([CLS]-attention) tokens
    stage: ClassVar[Stage] = "encoder"

    def __post_init__(self) -> None:
        check_ratio("VisPruner", "ratio r", self.ratio)

    def select(self, tokens: VisionTokens, budget: int) -> Selection:
        check_budget("VisPruner", budget)
        feats, attn = tokens.features, tokens.attention  # (B, N, C), (B, N)
        B, N, _ = feats.shape
        if budget >= N:
            return Selection(indices=torch.arange(N, device=feats.device).expand(B, N).contiguous())

        n_imp = int(budget * self.ratio)  # T_imp = int(T * r), truncated as published
        n_div = budget - n_imp  # T_div
        order = attn.argsort(dim=-1, descending=True, stable=True)  # (B, N)
        important = order[:, :n_imp]  # (B, T_imp)
        if n_div == 0:
            return Selection(indices=important.sort(dim=-1).values)

        residual = order[:, n_imp:]  # (B, R0) token ids, descending attention
        keep = diverse_positions(feats, residual, n_div)  # (B, T_div) positions into `residual`
        diverse = residual.gather(1, keep)  # (B, T_div)
        return Selection(indices=torch.cat([important, diverse], dim=1).sort(dim=-1).values)


def diverse_positions(feats: torch.Tensor, residual: torch.Tensor, n_div: int) -> torch.Tensor:
    """Iterative duplicate removal over `residual` (B, R0) token ids; returns (B, n_div) positions into it.

    Each round splits the current order into evens/odds by position, scores each even by its
    highest cosine to any odd, drops the k highest-scoring evens, and reorders as
    [kept evens by descending score, odds] (the released code's argsort()[k:] then cat).
    """
    B, R0 = residual.shape
    work_dtype = torch.promote_types(feats.dtype, torch.float32)
    z = feats.gather(1, residual.unsqueeze(-1).expand(-1, -1, feats.shape[-1])).to(work_dtype)  # (B, R0, C)
    u = z / z.norm(dim=-1, keepdim=True)  # (B, R0, C) cosine space, as released (no eps)
    sim = (u @ u.transpose(1, 2)).reshape(B, R0 * R0)  # (B, R0*R0): computed once, gathered per round

    pos = torch.arange(R0, device=residual.device).expand(B, R0)  # (B, R) current order
    while True:
        R = pos.shape[1]
        evens, odds = pos[:, 0::2], pos[:, 1::2]  # (B, ceil(R/2)), (B, floor(R/2))
        k = min(MAX_REMOVED_PER_ROUND, R - n_div, evens.shape[1])
        if k <= 0:
            break
        block = sim.gather(1, (evens.unsqueeze(-1) * R0 + odds.unsqueeze(1)).reshape(B, -1))  # (B, E*O)
        best = block.view(B, evens.shape[1], odds.shape[1]).amax(dim=-1)  # (B, E): closest odd per even
        kept = best.argsort(dim=-1, descending=True, stable=True)[:, k:]  # (B, E - k): drop k most redundant
        pos = torch.cat([evens.gather(1, kept), odds], dim=1)  # (B, R - k)
    return pos
