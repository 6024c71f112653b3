"""LLaVA-OneVision: encoder-stage selection over anyres crops -> each image's LLM token sequence and its real count.

Budget T per crop (docs/ALGORITHMS.md, LLaVA-OneVision): the base crop and every grid crop each keep T of their
N = 729 SigLIP tokens with their own selection, and the keep-mask rides through transformers' own packing
(anyres.py: stitching, unpad_image, one image_newline per row; newline slots are always kept).

Past anyres_max_9 transformers resamples the packed grid (bilinear, to about 9 crops' worth), and a keep-mask
cannot pass an interpolation. There the grid is selected AFTER packing: the projected embeddings, the vision
features and the importance map are packed and resampled by the same transformers function, and one selection
keeps T_grid = T * H'W' // N of the H' x W' packed grid tokens (T per crop's worth of resampled tokens); the
base crop keeps T as everywhere else. Real count = T (base) + T_grid + H' newline rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from pruning.models import pipeline
from pruning.models.anyres import Packing, crop_count, crop_grid, gather_slots, pack, packing, side
from pruning.strategies.random_select import splitmix64
from pruning.types import VisionTokens


@dataclass(frozen=True)
class Layout:
    """One image's anyres geometry: where its crops go in the LLM sequence."""

    image_size: tuple[int, int]            # (H, W) as the processor gives it
    crops: int                             # base + grid crops (rows of VisionTokens)
    grid: tuple[int, int]                  # (nh, nw) grid crops
    length: int                            # LLM slots with nothing pruned (keep_all)
    packing: Packing | None                # slot -> crop token; None when the packed grid is resampled
    resampled: tuple[int, int] | None      # (H', W') of the resampled packed grid (past anyres_max_9), else None


def layout(config, image_size) -> Layout:
    """The Layout of one image (H, W); a resampled grid's (H', W') is read off a packed map of ones whose
    newline slots are 0 (bilinear weights sum to 1, so grid slots stay ~1 and newlines stay 0)."""
    hw = (int(image_size[0]), int(image_size[1]))
    n, N = crop_count(config, hw), side(config) ** 2
    try:
        p = packing(config, hw)
        return Layout(hw, n, p.grid, p.length, p, None)
    except ValueError:  # indices do not survive the resampling: anyres.packing refuses
        pass
    (ones,) = pack(config, [torch.ones(n, N, 1, dtype=torch.float64)], [hw], newline=torch.zeros(1, dtype=torch.float64))
    grid = ones[N:, 0]  # (H' * (W' + 1),)
    H = int((grid == 0).sum())
    W = grid.numel() // H - 1
    if H * (W + 1) != grid.numel() or not bool((grid.view(H, W + 1)[:, -1] == 0).all()):
        raise ValueError(f"unexpected packed layout for a {hw[0]}x{hw[1]} image ({config.model_type})")
    return Layout(hw, n, crop_grid(config, hw), int(ones.shape[0]), None, (H, W))


def row_keys(keys: torch.Tensor | None, layouts: list[Layout]) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Per-sample keys (B,) -> (per-crop keys (R,), per-sample packed-grid keys (B,)): crop c of a sample gets
    splitmix64(key ^ splitmix64(c)) and a resampled grid c = crops, so the seeded `random` strategy draws a
    different subset per crop, and the same one in any batch."""
    if keys is None:
        return None, None
    sample = torch.tensor([b for b, lay in enumerate(layouts) for _ in range(lay.crops)], device=keys.device)
    crop = torch.cat([torch.arange(lay.crops, dtype=torch.int64) for lay in layouts]).to(keys.device)  # (R,)
    grid = torch.tensor([lay.crops for lay in layouts], dtype=torch.int64, device=keys.device)  # (B,)
    return splitmix64(keys[sample] ^ splitmix64(crop)), splitmix64(keys ^ splitmix64(grid))


def keep_all(config, projected: list[torch.Tensor], layouts: list[Layout], newline: torch.Tensor) -> list[torch.Tensor]:
    """Each image's LLM token sequence with nothing pruned: exactly transformers' pack_image_features."""
    return pack(config, projected, [lay.image_size for lay in layouts], newline=newline)


def _tokens(features, attention, projected, keys, grid=None) -> VisionTokens:
    return VisionTokens(features=features, attention=attention, projected=projected, sample_keys=keys,
                        content_keys=keys, grid=grid)


def select(strategy: Any, config, vision: VisionTokens, layouts: list[Layout], budget: int | None,
           newline: torch.Tensor, keys: torch.Tensor | None) -> list[torch.Tensor]:
    """Encoder-stage selection at T per crop -> one (L'_b, D) LLM image sequence per sample.

    vision: rows = every crop of every sample (features (R, N, C), attention (R, N), projected (R, N, D));
    keys: (B,) per-sample keys for seeded strategies (sample ids, else image content), or None."""
    N = vision.num_tokens
    first = [0]
    for lay in layouts:
        first.append(first[-1] + lay.crops)
    crop_keys, grid_keys = row_keys(keys, layouts)
    # crops selected one by one: every crop of a packed (not resampled) image, the base crop of a resampled one
    rows = [r for b, lay in enumerate(layouts) for r in range(first[b], first[b + 1] if lay.packing else first[b] + 1)]
    idx = torch.tensor(rows, dtype=torch.long, device=vision.features.device)
    row_key = None if crop_keys is None else crop_keys[idx]
    crop_tokens = _tokens(vision.features[idx], vision.attention[idx], vision.projected[idx], row_key)
    sel = pipeline.select(strategy, crop_tokens, budget)  # (rows, T) ascending raster order
    if sel.tokens is not None:
        raise ValueError(f"{type(strategy).__name__} merges tokens; LLaVA-OneVision keeps crop tokens only")
    keep = torch.zeros(vision.num_rows, N, dtype=torch.bool, device=idx.device)  # (R, N)
    keep[idx[:, None], sel.indices] = True
    out = []
    for b, lay in enumerate(layouts):
        lo, hi = first[b], first[b + 1]
        if lay.packing is not None:  # T per crop through the real stitching / unpadding / newline rows
            out.append(gather_slots(lay.packing.kept_sources(keep[lo:hi]), vision.projected[lo:hi], newline))
            continue
        key = None if grid_keys is None else grid_keys[b:b + 1]
        out.append(_resampled(strategy, config, vision, lay, lo, hi, keep[lo], budget, newline, key))
    return out


def _resampled(strategy, config, vision: VisionTokens, lay: Layout, lo: int, hi: int, base_keep: torch.Tensor,
               budget: int | None, newline: torch.Tensor, key) -> torch.Tensor:
    """A resampled grid: the packed H' x W' grid (projected, features, importance packed and resampled alike by
    transformers) keeps T_grid = T * H'W' // N of its tokens; each row ends in its newline."""
    N = vision.num_tokens
    H, W = lay.resampled
    size = [lay.image_size]
    grid_of = lambda x: pack(config, [x], size, newline=None)[0][N:]  # noqa: E731  (H'W', C) without the base
    proj = grid_of(vision.projected[lo:hi])  # (H'W', D): transformers' own resampled embeddings
    feats = grid_of(vision.features[lo:hi])  # (H'W', C) resampled alongside
    attn = grid_of(vision.attention[lo:hi, :, None])[:, 0]  # (H'W',) importance map resampled alongside
    t_grid = None if budget is None else budget * H * W // N  # T per crop's worth of packed tokens
    sel = pipeline.select(strategy, _tokens(feats[None], attn[None], proj[None], key, grid=(H, W)), t_grid)
    kept = torch.zeros(H * W, dtype=torch.bool, device=proj.device)
    kept[sel.indices[0]] = True
    slots = torch.cat([kept.view(H, W), kept.new_ones(H, 1)], dim=1).flatten()  # (H'(W'+1),) newline slots kept
    rows = torch.cat([proj.view(H, W, -1), newline.to(proj)[None, None].expand(H, 1, -1)], dim=1).flatten(0, 1)
    base = vision.projected[lo][base_keep]  # (T, D) in raster order
    return torch.cat([base, rows[slots]])  # (T + T_grid + H', D)
