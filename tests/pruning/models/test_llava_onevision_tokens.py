"""LLaVA-OneVision: T per crop through transformers' packing, and selection on the resampled packed grid past
anyres_max_9. References: hand-worked geometry, a plain re-statement of stitching + unpadding, transformers'
own get_image_features and input embeddings."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from pruning import PrunePlan, get_strategy
from pruning.models import load_vlm, model_config
from pruning.models.onevision_tokens import layout
from pruning.types import VisionTokens

N, S = 729, 27  # SigLIP-so400m/14-384: 27 x 27 tokens per crop


def photo(w, h, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
    for _ in range(6):
        y, x = rng.integers(0, h - 80), rng.integers(0, w - 80)
        img[y:y + 80, x:x + 80] = rng.integers(0, 256, 3, dtype=np.uint8)
    return Image.fromarray(img)


@pytest.fixture(scope="module")
def ov(tiny_dir):
    return load_vlm("tiny-llava-onevision", device="cpu")


@pytest.fixture(scope="module")
def typical(ov):  # 640 x 480 (W x H): best resolution 768 x 768, a 2 x 2 grid, letterboxed top and bottom
    img = photo(640, 480)
    return img, ov.encode([img])


@pytest.fixture(scope="module")
def large(ov):  # 1200 x 900: a 3 x 4 grid of 81 x 108 tokens, past anyres_max_9 -> resampled
    img = photo(1200, 900, seed=1)
    return img, ov.encode([img])


def test_layouts_by_hand():
    cfg = model_config("llava-onevision-7b")  # the pinned checkpoint config: real pinpoints, 384 / 14
    lay = layout(cfg, (480, 640))  # (H, W)
    # 2 x 2 grid -> 54 x 54 stitched; width fills: 480 * 54 / 640 = 40.5 -> round() = 40 rows, padding (54-40)//2 = 7
    assert (lay.crops, lay.grid, lay.resampled) == (5, (2, 2), None)
    assert lay.length == N + 40 * (54 + 1) == 2929
    big = layout(cfg, (900, 1200))
    # 3 x 4 grid, 81 x 108, no padding (same 4:3 aspect); 81*108 > 1.1^2 * 9 * 729: ratio = sqrt(8748 / 6561)
    ratio = (81 * 108 / (9 * 729)) ** 0.5
    assert (big.crops, big.grid, big.packing) == (13, (3, 4), None)
    assert big.resampled == (int(81 // ratio), int(108 // ratio)) == (70, 93)
    assert big.length == N + 70 * (93 + 1) == 7309
    square = layout(cfg, (1536, 1536))  # 4 x 4 grid, 108 x 108 -> 81 x 81
    assert (square.crops, square.resampled, square.length) == (17, (81, 81), N + 81 * 82)


def reference_embeds(ov, img):
    """transformers' own LLM input: get_image_features' packed sequence (L, D)."""
    px = ov.image_processor(images=[img], return_tensors="pt")
    with torch.no_grad():
        out = ov.model.model.get_image_features(px["pixel_values"], px["image_sizes"],
                                                batch_num_images=px["batch_num_images"])
    return out.pooler_output[0]


def image_rows(ov, prep):
    return prep.embeds[prep.batch.ids == ov.image_token_id]  # (n_img, D) the image slots, in order


class Seen(Exception):
    pass


def first_layer_tokens(ov, question, plan, vision):
    """(Prepared, tokens the first decoder layer receives) for one sample (no padding); the prefill stops there."""
    def stop(module, args):
        raise Seen(args[0].shape[1])

    hook = ov.loop.layers[0].register_forward_pre_hook(stop)
    try:
        prep = ov.prepare([question], plan, vision=vision)
        with pytest.raises(Seen) as seen:
            ov.loop.prefill(prep.embeds, prep.batch.valid, prep.batch.pos, prep.batch.img_start, max(prep.lengths))
    finally:
        hook.remove()
    return prep, seen.value.args[0]


def test_keep_all_is_transformers_packing(ov, typical, large):
    for img, vis in (typical, large):
        prep = ov.prepare(["Is there a dog?"], PrunePlan("keep_all"), vision=vis)
        ref = reference_embeds(ov, img)
        assert prep.lengths == [ref.shape[0]] == vis.counts
        torch.testing.assert_close(image_rows(ov, prep), ref, rtol=0, atol=1e-6)


def crop_rows(vis):
    return VisionTokens(features=vis.features, attention=vis.attention, projected=vis.projected)


def test_typical_image_keeps_T_per_crop_inside_the_unpadded_area(ov, typical):
    img, vis = typical
    T = 32
    plan = PrunePlan("vispruner", T, {"ratio": 0.5})
    sel = get_strategy("vispruner", ratio=0.5).select(crop_rows(vis), T).indices  # (5, T): base + 2 x 2 grid
    # re-statement of stitching + unpadding: grid crop (i, j) token (y, x) sits at stitched row 27 i + y, col
    # 27 j + x; rows 7 .. 46 survive; each surviving row ends in a newline
    base = set(sel[0].tolist())
    keep_slots = [t in base for t in range(N)]
    grid_kept = 0
    for r in range(7, 47):
        for c in range(54):
            crop = 1 + (r // S) * 2 + c // S
            kept = ((r % S) * S + c % S) in set(sel[crop].tolist())
            keep_slots.append(kept)
            grid_kept += kept
        keep_slots.append(True)  # newline
    prep, entering = first_layer_tokens(ov, "Is there a dog?", plan, vis)
    assert prep.lengths == [T + grid_kept + 40] and grid_kept < 4 * T  # picks in the letterbox are dropped
    assert entering == prep.batch.n_text[0] + prep.lengths[0]
    ref = reference_embeds(ov, img)
    torch.testing.assert_close(image_rows(ov, prep), ref[torch.tensor(keep_slots)], rtol=0, atol=1e-6)
    out = ov.generate(["Is there a dog?"], plan, vision=vis, max_new_tokens=2)[0]
    assert (out.n_visual_in, out.n_visual_kept) == (2929, T + grid_kept + 40)


def test_resampled_grid_selects_on_the_packed_grid_by_the_resampled_importance(ov, large):
    img, vis = large
    T = 32
    H, W = 70, 93
    t_grid = T * H * W // N  # 285: T per crop's worth of the 6510 resampled tokens
    # independent importance map: stitch the 3 x 4 grid crops' attention by hand (no padding), resample bilinear
    grid = vis.attention[1:].view(3, 4, S, S).permute(0, 2, 1, 3).reshape(1, 1, 81, 108)
    imp = F.interpolate(grid.double(), [H, W], mode="bilinear")[0, 0].flatten()  # (6510,)
    want = set(imp.argsort(descending=True)[:t_grid].tolist())
    plan = PrunePlan("vispruner", T, {"ratio": 1.0})  # r = 1: pure importance top-T (no duplicate removal)
    prep, entering = first_layer_tokens(ov, "Is there a dog?", plan, vis)
    assert prep.lengths == [T + t_grid + H] == [387]
    assert entering == prep.batch.n_text[0] + 387
    ref = reference_embeds(ov, img)  # (7309, D): base 729, then 70 rows of 93 tokens + newline
    base_top = set(vis.attention[0].argsort(descending=True)[:T].tolist())
    slots = [t in base_top for t in range(N)] + [w == W or (h * W + w) in want for h in range(H) for w in range(W + 1)]
    torch.testing.assert_close(image_rows(ov, prep), ref[torch.tensor(slots)], rtol=0, atol=1e-6)
    out = ov.generate(["Is there a dog?"], plan, vision=vis, max_new_tokens=2)[0]
    assert (out.n_visual_in, out.n_visual_kept) == (7309, 387)


def test_mixed_batch_equals_per_sample(ov, typical, large):
    """A typical and a resampled image in one batch (FastV runs them as two groups of equal packing): same
    answers, counts and FLOPs as one at a time; FastV keeps T x crops of the packed sequence."""
    imgs = [typical[0], large[0]]
    vis = ov.encode(imgs)
    qs = ["Is there a dog?", "What color is the car?"]
    plan = PrunePlan("fastv", 16, {"layer": 2})
    both = ov.generate(qs, plan, vision=vis, max_new_tokens=2)
    for i in range(2):
        one = ov.generate([qs[i]], plan, vision=vis.take_samples([i]), max_new_tokens=2)[0]
        assert (one.text, one.n_visual_kept, one.flops, one.kv_bytes) == \
               (both[i].text, both[i].n_visual_kept, both[i].flops, both[i].kv_bytes)
    assert [o.n_visual_kept for o in both] == [16 * 5, 16 * 13]
    assert [o.kept_per_layer[:3] for o in both] == [[2929, 2929, 80], [7309, 7309, 208]]
