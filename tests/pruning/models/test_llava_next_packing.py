"""tiny-llava-next on one batch of images with 5, 3 and 4 crops: keep_all packs exactly like transformers'
get_image_features, counts are the real packed ones (hand-worked for the spatial grid), decoder-stage plans run
on the packed sequence, and a mixed batch equals per-sample runs."""
import numpy as np
import pytest
import torch
from PIL import Image

from pruning import PrunePlan
from pruning.models import load_vlm
from pruning.models.llava_next import KEY_MIX, crop_keys
from pruning.strategies.sparsevlm import SparseVLM
from pruning.types import VisionTokens
from tests.pruning.models.images import QUESTIONS

# PIL sizes (W, H) -> image_sizes (H, W) = (500, 800): 2x2 grid, unpadded rows 9..38 of 48 (30 rows + newlines)
#                                         (336, 336): 1x2 grid, unpadded cols 12..35 of 48 (24 rows)
#                                         (1000, 300): 3x1 grid, unpadded cols 1..22 of 24 (72 rows)
SIZES = [(800, 500), (336, 336), (300, 1000)]
CROPS = [5, 3, 4]
KEEP_ALL = [576 + 30 * 49, 576 + 24 * 25, 576 + 72 * 23]  # base + rows x (cols + newline): 2046, 1176, 2232


@pytest.fixture(scope="module")
def next_vlm(tiny_dir):
    return load_vlm("tiny-llava-next", device="cpu")


@pytest.fixture(scope="module")
def mixed():
    rng = np.random.default_rng(3)
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for w, h in SIZES]


@pytest.fixture(scope="module")
def mixed_vis(next_vlm, mixed):
    return next_vlm.encode(mixed)


def test_encode_gives_one_row_per_real_crop_and_the_packed_keep_all_length(mixed_vis):
    assert mixed_vis.row_sample == tuple(b for b, n in enumerate(CROPS) for _ in range(n))
    assert mixed_vis.counts == KEEP_ALL
    assert [p.crops for p in mixed_vis.layouts] == CROPS


def test_keep_all_image_embeddings_are_transformers_packed_features(next_vlm, mixed, mixed_vis):
    prep = next_vlm.prepare(QUESTIONS, PrunePlan("keep_all"), vision=mixed_vis)
    inputs = next_vlm.image_processor(images=mixed, return_tensors="pt")
    with torch.no_grad():
        ref = next_vlm.model.model.get_image_features(pixel_values=inputs["pixel_values"],
                                                      image_sizes=inputs["image_sizes"]).pooler_output
    is_img = prep.batch.ids == next_vlm.image_token_id  # (B, L)
    for b in range(3):
        assert prep.lengths[b] == ref[b].shape[0] == KEEP_ALL[b]
        torch.testing.assert_close(prep.embeds[b][is_img[b]], ref[b], rtol=1e-5, atol=1e-5)


def test_spatial_grid_counts_by_hand(next_vlm, mixed_vis):
    """spatial T=16 picks rows and cols {3, 9, 15, 21} of every crop.
    800x500: top crops keep rows 9,15,21 (row 3 is padding) = 12 each; bottom crops stitched rows 27,33 in,
             39,45 out = 8 each -> 16 + 40 + 30 newlines = 86.
    336x336: crop 1 cols 15,21 and crop 2 stitched cols 27,33 inside 12..35 -> 8 + 8 -> 16 + 16 + 24 = 56.
    300x1000: every pick inside cols 1..22 -> 3 x 16 -> 16 + 48 + 72 = 136."""
    outs = next_vlm.generate(QUESTIONS, PrunePlan("spatial", 16), vision=mixed_vis, max_new_tokens=1)
    assert [o.n_visual_kept for o in outs] == [86, 56, 136]
    assert [o.n_visual_in for o in outs] == KEEP_ALL
    prep = next_vlm.prepare(QUESTIONS, PrunePlan("spatial", 16), vision=mixed_vis)
    assert prep.batch.n_img.tolist() == [86, 56, 136]  # what enters the first decoder layer
    assert ((prep.batch.ids == next_vlm.image_token_id) & prep.batch.valid).sum(1).tolist() == [86, 56, 136]


def test_merged_tokens_enter_crop_by_crop_without_newlines(next_vlm, mixed_vis):
    # VisionZip T=64 per crop (54 dominant + 10 contextual): no grid position, so T' per crop, crops in order
    outs = next_vlm.generate(QUESTIONS, PrunePlan("visionzip", 64), vision=mixed_vis, max_new_tokens=1)
    assert [o.n_visual_kept for o in outs] == [64 * n for n in CROPS]


@pytest.mark.parametrize("plan", [PrunePlan("fastv", 16, {"layer": 2}),
                                  PrunePlan("sparsevlm", 64, {"layers": [1, 3, 5]})], ids=lambda p: p.strategy)
def test_decoder_stage_on_the_packed_sequence_mixed_batch_equals_per_sample(next_vlm, mixed_vis, plan):
    batched = next_vlm.generate(QUESTIONS, plan, vision=mixed_vis, max_new_tokens=2)
    for i in range(3):
        single = next_vlm.generate([QUESTIONS[i]], plan, vision=mixed_vis.take_samples([i]), max_new_tokens=2)[0]
        b = batched[i]
        assert (single.text, single.n_visual_kept, single.flops, single.kv_bytes, single.kept_per_layer) == \
               (b.text, b.n_visual_kept, b.flops, b.kv_bytes, b.kept_per_layer)
        assert b.n_visual_in == KEEP_ALL[i] and b.kept_per_layer[0] == KEEP_ALL[i]
        if plan.strategy == "fastv":  # T x crops from layer K = 2 on
            assert b.kept_per_layer == [KEEP_ALL[i]] * 2 + [16 * CROPS[i]] * 6
        else:  # SparseVLM's released k_l for T=64, (66, 30, 17), per crop
            scaled = SparseVLM(layers=(1, 3, 5), schedule=tuple(k * CROPS[i] for k in (66, 30, 17)))
            assert b.kept_per_layer == scaled.visual_per_layer(KEEP_ALL[i], 8, 64)


def test_every_crop_of_a_sample_draws_its_own_random_tokens():
    vt = VisionTokens(features=torch.zeros(5, 4, 2), attention=torch.zeros(5, 4), row_sample=(0, 0, 0, 1, 1))
    keys = crop_keys(torch.tensor([7, -2]), vt)
    assert keys.tolist() == [7 * KEY_MIX, 7 * KEY_MIX + 1, 7 * KEY_MIX + 2, -2 * KEY_MIX, -2 * KEY_MIX + 1]
