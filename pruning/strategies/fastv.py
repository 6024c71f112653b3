"""FastV (Chen et al., "An Image is Worth 1/2 Tokens After Layer 2", ECCV 2024;
github.com/pkunlp-icler/FastV): decoder-stage pruning at layer K by the last prompt token's attention.

Layers 0..K-1 see every token; at layer K the image tokens are ranked by the attention the last
prompt token pays them in layer K-1 (mean over heads) and the top ones are kept. This file holds
only the ranking: the adapter (pruning/models) computes that attention row, gathers the kept
hidden states, keeps their original position ids and rebuilds the mask.

Ranking is PER SAMPLE. The reference averages heads with `torch.mean(attn, dim=1)[0]` and so ranks
every batch element by batch element 0's attention, a bug with batches > 1. Other differences (the
adapter's side: image span from the image token id, one ranking at prefill with a KV cache, float32
attention row) are listed in docs/ALGORITHMS.md.

Kept count: an absolute budget T when given (min(T, N_img)); otherwise FastV's prune ratio,
round(N_img * (1 - ratio)) (Python round); with neither, every image token is kept.

`select(tokens, budget)` works on an encoder-stage VisionTokens only when the adapter has put the
decoder attention row into tokens.decoder_attention ((B, N), mean over heads); otherwise
it raises, since FastV's signal only exists inside the LLM.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from pruning.registry import check_budget, check_ratio
from pruning.types import Selection, Stage, VisionTokens


@dataclass(frozen=True)
class FastV:
    layer: int = 2  # K: first decoder layer that sees only the kept image tokens
    ratio: float | None = None  # FastV's prune ratio R (share of image tokens dropped), used without a budget
    stage: ClassVar[Stage] = "decoder"

    def __post_init__(self) -> None:
        if isinstance(self.layer, bool) or not isinstance(self.layer, int) or self.layer < 1:
            raise ValueError(f"FastV: layer K must be an integer >= 1 (ranking uses layer K-1's attention), got {self.layer!r}")
        if self.ratio is not None:
            check_ratio("FastV", "ratio (prune ratio R)", self.ratio)
            if self.ratio >= 1.0:
                raise ValueError("FastV: ratio (prune ratio R) must be < 1, or nothing is kept")

    def check_depth(self, n_layers: int) -> None:
        """K must be a layer of an n_layers-deep decoder (layer K-1 ranks, layer K is the first pruned one)."""
        if self.layer >= n_layers:
            raise ValueError(f"FastV: layer K={self.layer} does not exist in a {n_layers}-layer decoder (K must be < {n_layers})")

    def keep_count(self, n_img: int, budget: int | None = None) -> int:
        """Image tokens kept from layer K on."""
        if budget is not None:
            check_budget("FastV", budget)
            return min(budget, n_img)
        if self.ratio is not None:
            return round(n_img * (1 - self.ratio))
        return n_img

    def select_from_attention(self, attn: torch.Tensor, budget: int | None = None) -> Selection:
        """attn (B, N_img): last prompt token's attention to each image token in layer K-1, mean over heads."""
        if attn.dim() != 2:
            raise ValueError(f"FastV: attention must be (B, N_img) (already averaged over heads), got {tuple(attn.shape)}")
        B, N = attn.shape
        keep = self.keep_count(N, budget)
        order = attn.argsort(dim=-1, descending=True, stable=True)[:, :keep]  # (B, keep), per sample
        return Selection(indices=order.sort(dim=-1).values)

    def select(self, tokens: VisionTokens, budget: int | None = None) -> Selection:
        attn = tokens.decoder_attention
        if attn is None:
            raise ValueError(
                "FastV is a decoder-stage strategy: it ranks image tokens by the LLM's layer K-1 attention, "
                "which the vision tower does not produce. Run it through a model adapter (pruning.models), "
                "or put that (B, N) attention row in VisionTokens.decoder_attention.")
        return self.select_from_attention(torch.as_tensor(attn, device=tokens.features.device), budget)
