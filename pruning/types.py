"""Core data types of the pruning layer: what a strategy sees, what it returns, what a call asks for."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch

Stage = Literal["encoder", "decoder"]


@dataclass
class VisionTokens:
    """One batch of vision-tower output, shared by every plan applied to it.

    features:  (B, N, C) patch hidden states of the projector's input layer, before the projector.
    attention: (B, N) importance signal: [CLS]->patch attention of that layer, mean over heads
               (VisPruner/FasterVLM convention; summed-over-heads variants rescale it, order is the same).
    keys:      (B, N, C) optional head-averaged keys of that layer (VisionZip, PruMerge+ similarity).
    cls:       (B, C) optional [CLS] hidden state of that layer (VisionZip keeps it as a dominant token).
    cls_attention_heads_sum: optional (B, N) attention summed over heads (VisionZip's ranking);
               the order equals `attention`'s, kept separately only because merging weights use it.
    grid:      (H, W) patch grid, H * W == N (24 x 24 for CLIP-L/14-336).
    extra:     anything a model family adds (e.g. projected embeddings for DivPrune, crop layout).
    """

    features: torch.Tensor
    attention: torch.Tensor
    keys: torch.Tensor | None = None
    cls: torch.Tensor | None = None
    grid: tuple[int, int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.features.dim() != 3:
            raise ValueError(f"VisionTokens.features must be (B, N, C), got shape {tuple(self.features.shape)}")
        B, N, _ = self.features.shape
        if self.attention.shape != (B, N):
            raise ValueError(
                f"VisionTokens.attention must be (B, N) = ({B}, {N}) to match features, got {tuple(self.attention.shape)}"
            )
        if self.keys is not None and self.keys.shape[:2] != (B, N):
            raise ValueError(f"VisionTokens.keys must be (B, N, C') with (B, N) = ({B}, {N}), got {tuple(self.keys.shape)}")
        if self.grid is None:
            side = int(round(N**0.5))
            if side * side == N:
                self.grid = (side, side)
        elif self.grid[0] * self.grid[1] != N:
            raise ValueError(f"VisionTokens.grid {self.grid} does not cover N={N} tokens")

    @property
    def batch_size(self) -> int:
        return self.features.shape[0]

    @property
    def num_tokens(self) -> int:
        return self.features.shape[1]

    def take(self, rows: torch.Tensor | list[int]) -> "VisionTokens":
        """The same tokens for a subset of the batch (rows index the B axis)."""
        rows = torch.as_tensor(rows, dtype=torch.long, device=self.features.device)
        pick = lambda t: None if t is None else t.index_select(0, rows)  # noqa: E731
        extra = {k: (v.index_select(0, rows) if isinstance(v, torch.Tensor) and v.dim() > 0 and v.shape[0] == self.batch_size else v)
                 for k, v in self.extra.items()}
        return VisionTokens(features=pick(self.features), attention=pick(self.attention), keys=pick(self.keys),
                            cls=pick(self.cls), grid=self.grid, extra=extra)


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


@dataclass(frozen=True)
class PrunePlan:
    """What one generate call asks for: a registry strategy name, a budget T, and its parameters."""

    strategy: str
    budget: int | None = None  # T: kept visual tokens per image (per crop for anyres); None = keep all
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.budget is not None and (not isinstance(self.budget, int) or isinstance(self.budget, bool) or self.budget < 1):
            raise ValueError(f"PrunePlan.budget must be a positive integer (T >= 1), got {self.budget!r}")

    def build(self):
        """The strategy object this plan names (validated parameters)."""
        from pruning.registry import get_strategy

        return get_strategy(self.strategy, **self.params)

    @property
    def label(self) -> str:
        ratio = self.params.get("ratio")
        parts = [self.strategy, f"T{self.budget}" if self.budget is not None else "Tall"]
        if ratio is not None:
            parts.append(f"r{ratio}")
        return "/".join(parts)


@dataclass
class Output:
    """One generated answer with its cost.

    flops: analytic LLM prefill FLOPs for this sample's real sequence (pruning.accounting).
    kv_bytes: visual-token KV-cache bytes over all layers.
    timings: seconds per phase: "vision", "select", "prefill", "decode" (batch phases are
             attributed to every sample of the batch; CUDA events on GPU, perf_counter on CPU).
    kept_per_layer: kept visual tokens entering each decoder layer (decoder-stage methods).
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
