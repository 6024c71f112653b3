"""PruMerge+ (Shang et al., arXiv 2403.15388; github.com/42Shawn/LLaVA-PruMerge): adaptive IQR selection + merging.

Reads from VisionTokens:
  features                 (B, N, C)  patch hidden states of the projector's input layer (-2), what is merged;
  last_attention  (B, N)            [CLS] row of the LAST CLIP layer's single-head attention
                                      softmax(q k^T / sqrt(C)) over all N+1 keys (q/k projections at full
                                      width), patch columns: the importance a and the merge weights;
  last_keys       (B, N, C)      that layer's k_proj output for the N patches: key similarity.

Per sample: keep the IQR outliers of a (a > Q3 + 1.5 IQR, linear-interpolated quartiles), n_out of
them; add spatially uniform patches 0, s, 2s, ... < N-1 with s = (N // n_out) // 3 (the released
int(int(1/ratio)/3) with ratio = n_out/N, and its `arange(0, 575, s)` for N = 576). Each kept token
becomes itself + sum over its 32 most key-similar other tokens of a_j * x_j (unnormalised); one more
token is the a-weighted sum of all tokens not kept. Real count per sample = kept + 1.

Budget: the published method is adaptive and takes no T, so T < N is ignored (the count is the
data's); T >= N keeps all N patches unmerged, like every strategy. Counts differ across the batch,
so outputs are padded: `tokens` (B, L, C) with L = max count, sample b's real tokens are
tokens[b, :lengths[b]], zeros after, in the released order, which is the order the LLM receives them:
the outliers by descending attention (its topk), then the spatial patches that are not outliers,
ascending, then the summary token. `indices` (B, L-1) are the same kept patches ascending (the public
convention; they do not follow the token order), sample b's are indices[b, :lengths[b]-1], padded with
N (one past the last patch). `lengths` (B,) is the real count going to the LLM.

Differences from the released code (token_prune_merge_advanced_plus, docs/ALGORITHMS.md): quartiles and the
spatial set are per sample (the released code takes the outlier ratio over the flattened batch and
cannot concatenate its spatial row for B > 1); counts in exact integers, n_out and N // n_out (its
int(N * ratio) and int(1 / ratio) round off for some N other than 576, e.g. N = 49 with one outlier
keeps none); no outlier (flat attention; the released int(1 / ratio) divides by zero): s = N // 3; more
than N / 3 outliers (its arange step is 0 and raises): s = 1; fewer than 32 other tokens (N <= 32; its
topk raises): all of them merge; key similarities in at least float32 (released: the model's dtype);
attention ties broken by position (released: topk's order).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from pruning.registry import check_budget
from pruning.types import Selection, Stage, VisionTokens


def iqr_outliers(a: torch.Tensor, whisker: float = 1.5) -> torch.Tensor:
    """a (B, N) -> (B, N) bool: a > Q3 + whisker * (Q3 - Q1), quartiles per sample (numpy's linear percentile)."""
    a = a.to(torch.promote_types(a.dtype, torch.float32))
    q = torch.quantile(a, torch.tensor([0.25, 0.75], dtype=a.dtype, device=a.device), dim=-1)  # (2, B)
    upper = q[1] + whisker * (q[1] - q[0])  # (B,)
    return a > upper.unsqueeze(-1)


def spatial_mask(n_out: torch.Tensor, N: int) -> torch.Tensor:
    """n_out (B,) outlier counts -> (B, N) bool: patches 0, s, 2s, ... < N-1, s = (N // n_out) // 3 per sample."""
    step = ((N // n_out.clamp(min=1)) // 3).clamp(min=1)  # (B,) int(int(1/ratio)/3), ratio = n_out/N
    j = torch.arange(N, device=n_out.device)  # (N,)
    return (j < N - 1) & (j % step.unsqueeze(-1) == 0)  # (B, N)


@dataclass(frozen=True)
class PruMergePlus:
    neighbours: int = 32  # tokens merged into each kept token (most key-similar)
    stage: ClassVar[Stage] = "encoder"

    def __post_init__(self) -> None:
        if isinstance(self.neighbours, bool) or not isinstance(self.neighbours, int) or self.neighbours < 0:
            raise ValueError(f"PruMergePlus: neighbours must be an integer >= 0, got {self.neighbours!r}")

    def select(self, tokens: VisionTokens, budget: int | None = None) -> Selection:
        Z = tokens.features  # (B, N, C)
        B, N, C = Z.shape
        if budget is not None:
            check_budget("PruMergePlus", budget)
            if budget >= N:
                return Selection(indices=torch.arange(N, device=Z.device).expand(B, N).contiguous())
        for name, shape in (("last_attention", (B, N)), ("last_keys", (B, N))):
            if getattr(tokens, name) is None:
                raise ValueError(f"PruMergePlus needs VisionTokens.{name} (the last CLIP layer's single-head "
                                 f"[CLS] attention (B, N) and keys (B, N, C)); the model adapter did not provide it")
            if tuple(getattr(tokens, name).shape[: len(shape)]) != shape:
                raise ValueError(f"PruMergePlus: VisionTokens.{name} must start with {shape}, got {tuple(getattr(tokens, name).shape)}")
        a = tokens.last_attention  # (B, N)

        outlier = iqr_outliers(a)  # (B, N) on the attention as given, before any cast
        kept = outlier | spatial_mask(outlier.sum(-1), N)  # (B, N)
        n_kept = kept.sum(-1)  # (B,)
        L = int(n_kept.max())
        valid = torch.arange(L, device=Z.device) < n_kept.unsqueeze(-1)  # (B, L) rows past a sample's count pad
        # The released order: outliers by descending attention (ties to the lower index), then the other
        # spatial patches ascending, then (below) the summary token. One int64 sort key per patch.
        j = torch.arange(N, device=Z.device)  # (N,)
        rank = a.argsort(dim=-1, descending=True, stable=True).argsort(dim=-1)  # (B, N) attention rank
        key = torch.where(outlier, rank, torch.where(kept, N + j, 2 * N + j))  # (B, N)
        order = key.argsort(dim=-1)[:, :L]  # (B, L) kept patches in the LLM's order
        idx = order.where(valid, torch.zeros_like(order))  # (B, L) safe gather index
        a = a.to(Z.dtype)

        K = tokens.last_keys
        K = F.normalize(K.to(torch.promote_types(K.dtype, torch.float32)), dim=-1)  # (B, N, C) at least float32
        sim = K.gather(1, idx.unsqueeze(-1).expand(-1, -1, K.shape[-1])) @ K.transpose(1, 2)  # (B, L, N)
        sim = sim.masked_fill(F.one_hot(idx, N).bool(), float("-inf"))  # a token is not its own neighbour
        nb = sim.topk(min(self.neighbours, N - 1), dim=-1).indices  # (B, L, k)
        W = torch.zeros(B, L, N, dtype=Z.dtype, device=Z.device)
        W.scatter_(2, nb, a.gather(1, nb.flatten(1)).view_as(nb))  # (B, L, N) merge weights a_j
        merged = Z.gather(1, idx.unsqueeze(-1).expand(-1, -1, C)) + W @ Z  # (B, L, C)
        summary = ((a * (~kept)).unsqueeze(1) @ Z)  # (B, 1, C) a-weighted sum of the pruned tokens

        out = torch.cat([merged.masked_fill(~valid.unsqueeze(-1), 0), torch.zeros(B, 1, C, dtype=Z.dtype, device=Z.device)], dim=1)
        out[torch.arange(B, device=Z.device), n_kept] = summary.squeeze(1)  # (B, L+1, C) summary after the kept
        raster = (~kept).to(torch.int8).argsort(dim=-1, stable=True)[:, :L]  # (B, L) kept patches ascending
        indices = raster.where(valid, torch.full_like(raster, N))  # (B, L)
        return Selection(indices=indices, tokens=out, space="vision", lengths=n_kept + 1)
