"""Decoder-stage strategies as prune hooks for DecoderLoop: registry name -> builder of [(layer K, keep_fn)].

FastV (arXiv 2403.06764, github.com/pkunlp-icler/FastV): at layer K, rank the image tokens by the attention of the
LAST PROMPT TOKEN in layer K-1, mean over heads, per sample; keep T (or round(N_img * (1 - ratio))) with their
original position ids. The strategy object (pruning/strategies/fastv.py) does the ranking; this file only
wires it to the model's attention row.

SparseVLM v1 (arXiv 2410.04417, github.com/Gumpest/SparseVLMs): raters fixed once from the input embeddings; at each
prune layer K the raters' attention in layer K (mean over heads and raters) scores the visual tokens, layer K's OUTPUT
keeps the top k_l plus recycled cluster means, positions renumbered. Layer K itself runs (and caches) the full
sequence, so its prune is a hook at K + 1 reading layer K's attention. Tensor math: pruning/strategies/sparsevlm.py.
"""
from __future__ import annotations

from typing import Any, Callable

import torch

from pruning.models.decoder_loop import Hook, PruneContext
from pruning.models.sequence import gather_seq


def fastv_hooks(strategy: Any, budget: int | None, n_img: int, n_layers: int) -> list[Hook]:
    strategy.check_depth(n_layers)
    K = strategy.layer  # K: first layer that sees only the kept tokens

    def keep(ctx: PruneContext) -> PruneContext:
        B = ctx.hidden.shape[0]
        rows = torch.full((B, 1), ctx.last_prompt, dtype=torch.long, device=ctx.hidden.device)  # (B, 1)
        probs = ctx.attention_rows(rows).mean(1)[:, 0]  # (B, L) mean over heads
        img_attn = probs.gather(1, ctx.image_index())  # (B, N_img)
        sel = strategy.select_from_attention(img_attn, budget)
        kept = sel.indices.to(ctx.hidden.device)  # (B, T)
        ctx.info.setdefault("kept", {})[K] = kept
        return ctx.keep(kept)

    return [(K, keep)]


def sparsevlm_hooks(strategy: Any, budget: int | None, n_img: int, n_layers: int) -> list[Hook]:
    from pruning.strategies.sparsevlm import rows_after_image

    strategy.check_depth(n_layers)
    ks = strategy.keep_counts(budget)  # k_l per prune layer

    def text_rows(ctx: PruneContext) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, Lt) prompt rows after the image (generated tail excluded) and their mask."""
        return rows_after_image(ctx.img_start + ctx.n_img, ctx.hidden.shape[1] - ctx.n_tail)

    def hook(k: int):
        def keep(ctx: PruneContext) -> PruneContext:
            if "raters" not in ctx.info:  # first prune: nothing dropped yet, so rows index the input embeddings
                emb = ctx.info["input_embeds"]
                t_idx, t_mask = text_rows(ctx)
                ctx.info["raters"] = strategy.raters(gather_seq(emb, t_idx), gather_seq(emb, ctx.image_index()), t_mask)
            t_idx, _ = text_rows(ctx)
            attn = ctx.attention_rows(t_idx)  # (B, H, Lt, L) in layer K
            vis_idx = ctx.image_index()  # (B, N_cur)
            attn = attn.gather(3, vis_idx[:, None, None, :].expand(*attn.shape[:3], -1))  # (B, H, Lt, N_cur)
            scores = strategy.score(attn, ctx.info["raters"])  # (B, N_cur)
            hidden_vis = gather_seq(ctx.hidden, vis_idx)  # (B, N_cur, D) layer K's output
            keep_idx, recycled = strategy.prune(hidden_vis, scores, k)
            ctx.info.setdefault("kept", {})[ctx.layer] = keep_idx  # indices into the visual block entering layer K
            return ctx.replace_image(strategy.assemble(hidden_vis, keep_idx, recycled))
        return keep

    return [(K + 1, hook(k)) for K, k in zip(strategy.layers, ks)]


# name -> builder(strategy, budget T, N image tokens, decoder layers) -> prune hooks
DECODER_HOOKS: dict[str, Callable[[Any, int | None, int, int], list[Hook]]] = {
    "fastv": fastv_hooks,
    "sparsevlm": sparsevlm_hooks,
}
