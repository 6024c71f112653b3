"""Qwen2.5-VL vision pass for pruning: the merged (LLM-input) tokens and their importance, without eager attention.

Qwen2.5-VL's vision tower has no [CLS]. Importance (reference/ALGORITHMS.md, the no-[CLS] rule) is the
attention each patch RECEIVES in the last full-attention block (max of fullatt_block_indexes), mean over
heads and queries, per image:

    a_j = 1 / (H * n) * sum_h sum_i softmax_j(q_i^h . k_j^h / sqrt(d_h))      i, j over the image's n patches

transformers never returns those weights (sdpa / flash, and the eager path drops them), so a forward
pre-hook on that block captures its inputs (hidden (S, C) in WINDOW order, cu_seqlens, position_embeddings)
and q, k are recomputed exactly as the block does (norm1, qkv, 2-D vision RoPE) in chunks of queries.
Patches enter the blocks in window order (get_vision_window_index) with each 2x2 merge group as 4
consecutive rows, so a_j is averaged over each group of 4 and the window order is undone exactly as the
tower undoes it for the merger output (argsort of window_index).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

QUERY_CHUNK = 1024  # queries per softmax block: (H, 1024, n) floats at a time


def last_full_block(visual) -> int:
    """Index of the last full-attention vision block (31 for Qwen2.5-VL-7B)."""
    return max(int(i) for i in visual.fullatt_block_indexes)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def received_attention(block, hidden: torch.Tensor, cu_seqlens: torch.Tensor,
                       position_embeddings: tuple[torch.Tensor, torch.Tensor], chunk: int = QUERY_CHUNK) -> torch.Tensor:
    """hidden (S, C) the block's input, segments [cu[i], cu[i+1]) attend only within themselves (one per image)
    -> (S,) attention each row receives from its segment, mean over heads and queries."""
    attn = block.attn
    S = hidden.shape[0]
    H = attn.num_heads
    qkv = attn.qkv(block.norm1(hidden)).reshape(S, 3, H, -1).permute(1, 2, 0, 3)  # (3, H, S, hd)
    cos, sin = (t.float()[None] for t in position_embeddings)  # (1, S, hd)
    q = qkv[0].float() * cos + _rotate_half(qkv[0].float()) * sin  # (H, S, hd)
    k = qkv[1].float() * cos + _rotate_half(qkv[1].float()) * sin  # (H, S, hd)
    out = torch.zeros(S, dtype=torch.float32, device=hidden.device)
    bounds = cu_seqlens.tolist()
    for s, e in zip(bounds[:-1], bounds[1:]):
        n = e - s
        kt = k[:, s:e].transpose(-1, -2)  # (H, hd, n)
        for c in range(s, e, chunk):
            logits = q[:, c:min(c + chunk, e)] @ kt * attn.scaling  # (H, c, n)
            out[s:e] += F.softmax(logits, dim=-1).sum(dim=(0, 1))  # (n,)
        out[s:e] /= H * n
    return out


def merged_importance(received: torch.Tensor, window_index: torch.Tensor, unit: int) -> torch.Tensor:
    """received (S,) in window order -> (S / unit,) per merged token in the merger output's order: the mean
    over each group of `unit` (= merge^2 = 4) consecutive rows, then the window order undone."""
    per_group = received.view(-1, unit).mean(1)  # (S/4,) window order
    return per_group[torch.argsort(window_index.to(per_group.device))]  # (S/4,) raster order per image


@torch.no_grad()
def encode_qwen(visual, pixel_values: torch.Tensor, grid_thw: torch.Tensor) -> dict:
    """One pass of the tower over a batch of images (pixel_values (S, 3*2*14*14), grid_thw (B, 3)).

    Returns merged (sum N_i, D) LLM-input tokens, importance (sum N_i,) and counts [N_i] with N_i = t*h*w / 4.
    """
    from transformers.vision_utils import get_vision_window_index

    idx = last_full_block(visual)
    seen: dict = {}

    def capture(module, args, kwargs):
        seen["hidden"] = args[0] if args else kwargs["hidden_states"]
        seen["cu_seqlens"] = kwargs["cu_seqlens"]
        seen["position_embeddings"] = kwargs["position_embeddings"]

    handle = visual.blocks[idx].register_forward_pre_hook(capture, with_kwargs=True)
    try:
        out = visual(pixel_values, grid_thw=grid_thw)
    finally:
        handle.remove()
    merged = out.pooler_output if hasattr(out, "pooler_output") else out  # (sum N_i, D), raster order per image
    merge = int(visual.spatial_merge_size)
    window_index, _ = get_vision_window_index(grid_thw, spatial_merge_size=merge, window_size=visual.window_size,
                                              patch_size=visual.patch_size)
    received = received_attention(visual.blocks[idx], seen["hidden"], seen["cu_seqlens"], seen["position_embeddings"])
    importance = merged_importance(received, window_index, merge * merge)  # (sum N_i,)
    counts = [int(n) for n in (grid_thw.prod(-1) // (merge * merge)).tolist()]
    return {"merged": merged, "importance": importance, "counts": counts}
