"""The shared path every family runs: encode -> select -> splice -> prefill -> decode -> cost.

Families differ in loading, `encode(media)` and its importance signal, how kept rows map back into the LLM
sequence, and position ids; these plain functions are the rest. Strategies see rows of tokens and do not
change: selection runs once per group of rows with equal N, and a budget T >= N keeps every token.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import torch

from pruning.accounting import kv_bytes_per_layer_counts, kv_cache_bytes, prefill_flops, prefill_flops_per_layer
from pruning.models.sequence import Batch, left_pad, splice
from pruning.types import Selection, VisionTokens


def select(strategy: Any, vision: VisionTokens, budget: int | None) -> Selection:
    """One encoder-stage selection over rows of equal N (R, N, ...) -> Selection over those rows.
    T >= N keeps every token, in order (small Qwen2.5-VL images, short crops)."""
    R, N = vision.num_rows, vision.num_tokens
    if budget is not None and budget >= N:
        return Selection(indices=torch.arange(N, device=vision.features.device).expand(R, N).contiguous())
    return strategy.select(vision, budget)


def select_groups(strategy: Any, groups: Sequence[VisionTokens], budget: int | None) -> list[Selection]:
    """Selection once per group of rows with equal N (a family whose rows differ in N encodes several groups)."""
    return [select(strategy, g, budget) for g in groups]


def kept_embeds(sel: Selection, projected: torch.Tensor, project: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """The LLM-input embeddings (R, T', D) of the kept (or merged) tokens."""
    if sel.tokens is None:
        return sel.gather(projected)  # the projector is per token: gathering projected == projecting gathered
    if sel.space == "llm":
        return sel.tokens
    return project(sel.tokens)


def splice_batch(prompt_ids: Sequence[torch.Tensor], lengths: Sequence[int], image_token_id: int, pad_id: int,
                 positions: Sequence[torch.Tensor] | None = None) -> Batch:
    """Each prompt's image placeholder run resized to its sample's kept count, left-padded into one batch."""
    seqs, starts = zip(*(splice(ids, image_token_id, n) for ids, n in zip(prompt_ids, lengths)))
    return left_pad(list(seqs), list(starts), list(lengths), pad_id, None if positions is None else list(positions))


def fill_image(embeds: torch.Tensor, batch: Batch, image_token_id: int, image_embeds: torch.Tensor) -> torch.Tensor:
    """embeds (B, L, D) with each sample's first n_img[b] rows of image_embeds (B, T', D) at its image slots."""
    is_img = batch.ids == image_token_id  # (B, L)
    real = torch.arange(image_embeds.shape[1], device=embeds.device)[None] < batch.n_img[:, None]  # (B, T')
    embeds[is_img] = image_embeds[real].to(embeds.dtype)
    return embeds


def costs(text_config: Any, n_in: int, n_kept: int, n_text: int, kept_per_layer: list[int] | None,
          dtype_bytes: int) -> tuple[float, int, int]:
    """(prefill FLOPs, visual KV bytes, visual tokens kept at the end) in the papers' convention (GQA-aware)."""
    tc, db = text_config, dtype_bytes
    if kept_per_layer is None:
        return prefill_flops(tc, n_kept, n_text), kv_cache_bytes(tc, n_kept, db), n_kept
    changes = [i for i in range(1, len(kept_per_layer)) if kept_per_layer[i] != kept_per_layer[i - 1]]
    n_kept = kept_per_layer[-1]
    if len(changes) <= 1 and kept_per_layer[0] == n_in:
        K = changes[0] if changes else None
        after = kept_per_layer[K] if K is not None else None
        return (prefill_flops(tc, n_in, n_text, prune_layer=K, n_visual_after=after),
                kv_cache_bytes(tc, n_in, db, prune_layer=K, n_visual_after=after), n_kept)
    # several prune layers (SparseVLM): per-layer counts, same convention
    return prefill_flops_per_layer(tc, kept_per_layer, n_text), kv_bytes_per_layer_counts(tc, kept_per_layer, db), n_kept
