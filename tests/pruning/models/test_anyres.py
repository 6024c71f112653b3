"""pruning.models.anyres against hand-worked anyres geometry (LLaVA-NeXT's real pinpoints, CLIP-L/14-336) and a
plain re-statement of stitching + unpadding + newline rows. Configs only: no weights are built."""
from __future__ import annotations

import pytest
import torch

from pruning.models.anyres import crop_count, crop_grid, gather_slots, pack, packing, packings

PINPOINTS = [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]]  # llava-v1.6 image_grid_pinpoints
S, N = 24, 576  # tokens per crop side, per crop


@pytest.fixture(scope="module")
def cfg():
    from transformers import CLIPVisionConfig, LlavaNextConfig

    return LlavaNextConfig(vision_config=CLIPVisionConfig(image_size=336, patch_size=14).to_dict(),
                           image_grid_pinpoints=PINPOINTS, vision_feature_layer=-2,
                           vision_feature_select_strategy="default")


def reference_sources(nh: int, nw: int, rows: range, cols: range) -> list[int]:
    """Base crop 0 first, then the stitched (nh*24, nw*24) grid cut to rows x cols, a newline (-1) per row."""
    out = list(range(N))
    for r in rows:
        for c in cols:
            crop = 1 + (r // S) * nw + c // S  # grid crops in raster order after the base
            out.append(crop * N + (r % S) * S + c % S)
        out.append(-1)
    return out


# (H, W) -> crops, (nh, nw), unpadded rows, cols; worked by hand from select_best_resolution + unpad_image:
#  500x800: 672x672 wins (scale 0.84 -> 672x420 px, 282240 effective); 48x48 tokens, width-bound:
#           new height round(500 * 48/800) = 30, padding (48-30)//2 = 9 -> rows 9..38
#  1000x300: 1008x336 wins (scale 1.008 capped at the original 300000 px); 72x24 tokens, height-bound:
#           new width round(300 * 72/1000) = round(21.6) = 22, padding (24-22)//2 = 1 -> cols 1..22
#  336x336: 336x672 wins (no upscale needed, least waste); 24x48 tokens, new width 24, padding 12 -> cols 12..35
#  672x672: 672x672, nothing unpadded
CASES = [
    ((500, 800), 5, (2, 2), range(9, 39), range(0, 48)),
    ((1000, 300), 4, (3, 1), range(0, 72), range(1, 23)),
    ((336, 336), 3, (1, 2), range(0, 24), range(12, 36)),
    ((672, 672), 5, (2, 2), range(0, 48), range(0, 48)),
]


@pytest.mark.parametrize("size,crops,grid,rows,cols", CASES)
def test_geometry_and_sources_match_the_hand_worked_packing(cfg, size, crops, grid, rows, cols):
    assert crop_count(cfg, size) == crops
    assert crop_grid(cfg, size) == grid
    p = packing(cfg, size)
    assert (p.crops, p.grid, p.tokens) == (crops, grid, N)
    assert p.sources.tolist() == reference_sources(*grid, rows, cols)
    assert p.length == N + len(rows) * (len(cols) + 1)
    assert p.newlines == len(rows)


def test_500x800_packs_to_2046_llm_tokens(cfg):
    # FAMILIES.md: a 500x800 image gives 5 crops and 2046 LLM tokens = 576 + 30 x (48 + 1)
    assert packing(cfg, torch.tensor([500, 800])).length == 2046


def test_800x500_at_T32_counts_117_grid_32_base_30_newlines(cfg):
    """A hand-placed selection of T=32 per crop: 11 of the 128 grid picks fall in the letterbox padding
    (stitched rows 0..8 are the top crops' token rows 0..8; rows 39..47 the bottom crops' rows 15..23)."""
    p = packing(cfg, (500, 800))  # PIL size 800x500 -> image_sizes (H, W) = (500, 800)
    keep = torch.zeros(5, N, dtype=torch.bool)
    keep[0, :32] = True  # base: every token counts
    in_pad = {1: 3, 2: 3, 3: 2, 4: 3}  # picks in the padding per grid crop: 11
    for crop, k in in_pad.items():
        top = crop in (1, 2)
        pad_rows = range(0, 9) if top else range(15, 24)
        in_rows = range(9, 24) if top else range(0, 15)
        pad = [r * S + c for r in pad_rows for c in range(S)][:k]
        inside = [r * S + c for r in in_rows for c in range(S)][::7][: 32 - k]
        keep[crop, pad + inside] = True
        assert int(keep[crop].sum()) == 32
    assert p.count(keep) == 117 + 32 + 30 == 179
    kept = p.kept_sources(keep)
    assert int((kept < 0).sum()) == 30  # every newline row, even rows with no kept token
    assert int((kept >= N).sum()) == 117
    assert kept[:32].tolist() == list(range(32))  # base first, raster order
    assert int(p.keep(torch.ones(5, N, dtype=torch.bool)).sum()) == p.length  # keep_all keeps every slot


@pytest.mark.parametrize("channels", [1, 7])
def test_pack_of_any_channel_count_equals_gathering_the_sources(cfg, channels):
    sizes = [(500, 800), (1000, 300), (336, 336)]
    g = torch.Generator().manual_seed(0)
    values = [torch.randn(crop_count(cfg, s), N, channels, generator=g) for s in sizes]
    newline = torch.randn(channels, generator=g)
    packed = pack(cfg, values, torch.tensor(sizes), newline)
    for v, out, p in zip(values, packed, packings(cfg, sizes)):
        assert out.shape == (p.length, channels)
        assert torch.equal(out, gather_slots(p.sources, v, newline))


def test_pack_refuses_a_crop_tensor_of_the_wrong_crop_count(cfg):
    with pytest.raises(ValueError, match=r"image 0 \(500x800, H x W\) packs \(5, 576, C\)"):
        pack(cfg, [torch.zeros(4, N, 1)], [(500, 800)], None)


def test_onevision_packs_through_its_own_function_and_refuses_indices_past_anyres_max_9():
    from transformers import LlavaOnevisionConfig

    ov = LlavaOnevisionConfig()  # SigLIP/14-384: 27 x 27 = 729 per crop, anyres_max_9
    p = packing(ov, (384, 384))  # 384x384: grid 1x1, nothing resampled
    assert p.tokens == 729 and p.crops == 2 and p.length == 729 + 27 * 28
    with pytest.raises(ValueError, match="resampled"):
        packing(ov, (1536, 1536))  # 4x4 grid (108x108 tokens) > 9 crops' worth: bilinear down-sampling
    n = crop_count(ov, (1536, 1536))
    (out,) = pack(ov, [torch.ones(n, 729, 1)], [(1536, 1536)], torch.zeros(1))
    rows = int((out[729:, 0] == 0).sum())  # an importance map still packs; one newline per resampled row
    assert out.shape[0] == 729 + rows * (rows + 1)  # square image: square resampled grid
