"""Core data types of the pruning layer: what a strategy sees (VisionTokens, vision_tokens.py), what it returns
(Selection), what a call asks for (PrunePlan, plan.py) and what it answers (Output)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

from pruning.plan import PrunePlan
from pruning.vision_tokens import VisionTokens

Stage = Literal["encoder", "decoder"]


@dataclass
class Selection:
    """What a strategy returns.

    indices: (B, T) int64, ascending raster order, the kept patch indices. For merging methods
             (VisionZip, PruMerge+) these are the tokens whose positions the merged tokens occupy
             (dominant ones); the merged tokens themselves are in `tokens`.
    tokens:  (B, T', C) optional replacement features (merging methods). When set, these and not
             features[indices] are what goes through the projector; T' is the real token count. Their
             row order is the order the LLM receives them (the adapter splices rows as they are), which
             need not follow `indices` (PruMerge+: outliers by attention, spatial ascending, summary last).
    space:   "vision" when tokens live in the vision width C (before the projector),
             "llm" when they are already projected (DivPrune on LLM-input embeddings).
    lengths: (B,) int64 optional per-sample real token counts when they differ across the batch
             (PruMerge+'s adaptive count). Rows of `tokens` past lengths[b] are padding; num_kept
             is then the padded width (max over the batch), and lengths[b] is sample b's real count.
    """

    indices: torch.Tensor
    tokens: torch.Tensor | None = None
    space: Literal["vision", "llm"] = "vision"
    lengths: torch.Tensor | None = None

    @property
    def num_kept(self) -> int:
        return int(self.tokens.shape[1]) if self.tokens is not None else int(self.indices.shape[1])

    def gather(self, features: torch.Tensor) -> torch.Tensor:
        """features (B, N, C) -> (B, T, C): the kept tokens, or the merged ones when the strategy merges."""
        if self.tokens is not None:
            return self.tokens
        idx = self.indices.unsqueeze(-1).expand(-1, -1, features.shape[-1])  # (B, T, C)
        return features.gather(1, idx)


@dataclass
class Output:
    """One generated answer with its cost.

    flops: analytic LLM prefill FLOPs for this sample's real sequence (pruning.accounting).
    kv_bytes: visual-token KV-cache bytes over all layers.
    timings: seconds per phase: "vision", "select", "prefill", "decode" (batch phases are
             attributed to every sample of the batch; CUDA events on GPU, perf_counter on CPU).
    kept_per_layer: kept visual tokens entering each decoder layer (decoder-stage methods).
    kept_per_frame: visual tokens entering the LLM from each sampled frame of a video, in frame order (after
             the prune layer for decoder-stage methods); None for images. A plain list of ints (a list column).
    """

    text: str
    n_visual_in: int
    n_visual_kept: int
    n_text: int = 0
    flops: float = 0.0
    kv_bytes: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    kept_per_layer: list[int] | None = None
    peak_mem_bytes: int | None = None
    error: str | None = None
    kept_per_frame: list[int] | None = None

__all__ = ["Output", "PrunePlan", "Selection", "Stage", "VisionTokens"]
