"""Qwen2.5-VL on the shared path: 3-D M-RoPE positions of kept tokens, left-padded batches of different image
sizes, T >= N, FastV on 3-D positions, SparseVLM refused with its reason, pixel options, GQA accounting."""
import pytest
import torch
from PIL import Image

from pruning import PrunePlan
from pruning.accounting import kv_cache_bytes
from pruning.models import load_vlm, model_spec
from pruning.models.sequence import splice
from tests.pruning.models.images import QUESTIONS, make_images


@pytest.fixture(scope="module")
def qwen(tiny_dir):
    return load_vlm("tiny-qwen2.5-vl", device="cpu")


@pytest.fixture(scope="module")
def mixed(qwen):
    """Three images of clearly different sizes (N = 54, 32, 64) and their VisionTokens."""
    images = [make_images(1, seed=5)[0], Image.new("RGB", (230, 120), (20, 90, 200)),
              Image.fromarray((torch.rand(500, 500, 3) * 255).byte().numpy())]
    vis = qwen.encode(images)
    assert vis.counts == [54, 32, 64]
    return images, vis


def transformers_positions(vlm, question, layout):
    """transformers' own 3-D positions and rope delta for the full prompt (get_rope_index, as generate does)."""
    ids, _ = splice(vlm.prompt_ids(question), vlm.image_token_id, layout.tokens)
    pos, delta = vlm.model.model.get_rope_index(ids[None], mm_token_type_ids=(ids == vlm.image_token_id).int()[None],
                                                image_grid_thw=torch.tensor([layout.grid_thw]))
    return ids, pos[:, 0], int(delta)


def test_kept_tokens_keep_their_3d_positions_and_text_keeps_transformers(qwen, mixed):
    _, vis = mixed
    prep = qwen.prepare(QUESTIONS, PrunePlan("vispruner", 20, {"ratio": 0.5}), vision=vis)
    b_pos, valid = prep.batch.pos, prep.batch.valid  # (3, B, L), (B, L)
    assert b_pos.shape[0] == 3 and prep.lengths == [20, 20, 20]
    sel = qwen._select(PrunePlan("vispruner", 20, {"ratio": 0.5}).build(), vis, 20, None)[0]
    for b, q in enumerate(QUESTIONS):
        ids, full, _ = transformers_positions(qwen, q, vis.layouts[b])
        start = int((ids == qwen.image_token_id).nonzero()[0])
        N = vis.counts[b]
        want = torch.cat([full[:, :start], full[:, start + sel[b]], full[:, start + N:]], dim=1)
        assert torch.equal(b_pos[:, b][:, valid[b]], want)
        h, w = vis.layouts[b].grid_thw[1:]
        assert full[:, start + N].tolist() == [start + max(h, w) // 2] * 3  # text resumes at start + max(h, w)/2, not + N
        assert int(full[1, start + N - 1]) == start + h // 2 - 1 and int(full[2, start + N - 1]) == start + w // 2 - 1


def test_first_decode_position_is_the_last_prompt_position_plus_one(qwen, mixed):
    _, vis = mixed
    for plan in (PrunePlan("keep_all"), PrunePlan("random", 8)):
        prep = qwen.prepare(QUESTIONS, plan, vision=vis)
        state = qwen.loop.prefill(prep.embeds, prep.batch.valid, prep.batch.pos, prep.batch.img_start, max(prep.lengths))
        for b, q in enumerate(QUESTIONS):
            ids, full, delta = transformers_positions(qwen, q, vis.layouts[b])
            # transformers decodes token L at position L + rope_delta on every axis; pruning keeps the text's
            assert state.segments[0].next_pos[:, b].tolist() == [ids.numel() + delta] * 3 == [int(full.max()) + 1] * 3


@pytest.mark.parametrize("plan", [PrunePlan("keep_all"), PrunePlan("vispruner", 24, {"ratio": 0.5}),
                                  PrunePlan("divprune", 24), PrunePlan("random", 12), PrunePlan("fastv", 24, {"layer": 2})],
                         ids=lambda p: p.key)
def test_left_padded_batch_of_different_sizes_equals_per_sample(qwen, mixed, plan):
    _, vis = mixed
    keys = ["x", "y", "z"]
    batched = qwen.generate(QUESTIONS, plan, vision=vis, max_new_tokens=5, sample_keys=keys)
    for b in range(3):
        single = qwen.generate([QUESTIONS[b]], plan, vision=vis.take([b]), max_new_tokens=5, sample_keys=[keys[b]])[0]
        assert (single.text, single.n_visual_in, single.n_visual_kept, single.n_text, single.flops, single.kv_bytes) == \
               (batched[b].text, batched[b].n_visual_in, batched[b].n_visual_kept, batched[b].n_text,
                batched[b].flops, batched[b].kv_bytes)
        assert batched[b].n_visual_in == vis.counts[b]
        ids, _, _ = transformers_positions(qwen, QUESTIONS[b], vis.layouts[b])  # transformers' input_ids
        assert batched[b].n_text == ids.numel() - vis.counts[b]
        assert batched[b].n_visual_kept == (vis.counts[b] if plan.budget is None else min(plan.budget, vis.counts[b]))
    if plan.strategy == "vispruner":  # the prefill itself, not just the argmax: padded rows change nothing
        prep = qwen.prepare(QUESTIONS, plan, vision=vis)
        logits = qwen.loop.prefill(prep.embeds, prep.batch.valid, prep.batch.pos, prep.batch.img_start, 24).logits
        for b in range(3):
            one = qwen.prepare([QUESTIONS[b]], plan, vision=vis.take([b]))
            ref = qwen.loop.prefill(one.embeds, one.batch.valid, one.batch.pos, one.batch.img_start, 24).logits
            assert torch.allclose(logits[b], ref[0], atol=1e-4)


def test_budget_at_or_above_n_keeps_every_token(qwen, mixed):
    _, vis = mixed
    full = qwen.generate(QUESTIONS, PrunePlan("keep_all"), vision=vis, max_new_tokens=5)
    for plan in (PrunePlan("vispruner", 54, {"ratio": 0.5}), PrunePlan("divprune", 1000), PrunePlan("fastv", 64, {"layer": 2})):
        outs = qwen.generate(QUESTIONS, plan, vision=vis, max_new_tokens=5)
        for b, n in enumerate(vis.counts):
            if plan.budget >= n:
                assert (outs[b].n_visual_kept, outs[b].text) == (n, full[b].text)
    mid = qwen.generate(QUESTIONS, PrunePlan("vispruner", 54, {"ratio": 0.5}), vision=vis, max_new_tokens=5)
    assert [o.n_visual_kept for o in mid] == [54, 32, 54]  # T < N only for the 500x500 image


def test_fastv_prunes_at_layer_k_on_3d_positions(qwen, mixed):
    _, vis = mixed
    outs = qwen.generate(QUESTIONS, PrunePlan("fastv", 10, {"layer": 2}), vision=vis, max_new_tokens=3)
    for b, o in enumerate(outs):
        n = vis.counts[b]
        assert o.kept_per_layer == [n, n, 10, 10] and o.n_visual_kept == 10
        spec = qwen.spec
        assert o.kv_bytes == (2 * n + 2 * 10) * 2 * spec.kv_heads * spec.head_dim * 4
    # the kept tokens' positions after the prune are their original 3-D ones (FastV keeps position ids)
    prep = qwen.prepare(QUESTIONS[:1], PrunePlan("fastv", 10, {"layer": 2}), vision=vis.take([0]))
    state = qwen.loop.prefill(prep.embeds, prep.batch.valid, prep.batch.pos, prep.batch.img_start, 54, prep.hooks)
    kept = state.info["kept"][2][0]  # (10,) indices into the image span
    _, full, _ = transformers_positions(qwen, QUESTIONS[0], vis.layouts[0])
    start = int(prep.batch.img_start[0])
    assert state.segments[1].next_pos[:, 0].tolist() == [int(full.max()) + 1] * 3
    assert kept.numel() == 10 and bool((kept[1:] > kept[:-1]).all()) and int(kept.max()) < 54 and start > 0


def test_sparsevlm_is_refused_with_its_reason(qwen, mixed):
    _, vis = mixed
    assert not qwen.supports_strategy("sparsevlm") and not qwen.supports_strategy("visionzip")
    with pytest.raises(ValueError, match="3-D M-RoPE"):
        qwen.generate(QUESTIONS[:1], PrunePlan("sparsevlm", 64), vision=vis.take([0]))
    with pytest.raises(ValueError, match=r"\[CLS\]"):
        qwen.generate(QUESTIONS[:1], PrunePlan("visionzip", 16), vision=vis.take([0]))


def test_pixel_options_reach_the_image_processor(tiny_dir):
    vlm = load_vlm("tiny-qwen2.5-vl?max_pixels=3136&min_pixels=3136", device="cpu")  # 2x2 merged tokens
    assert vlm.name.endswith("?max_pixels=3136&min_pixels=3136")
    # smart_resize by hand: 64x64 -> 56x56 px = 2x2 tokens; 230x120 rounds to 224x112 > 3136 px, so it is scaled
    # by sqrt(27600 / 3136) and floored to multiples of 28: 56x28 px = 2 tokens (the default range gives 16..64)
    assert vlm.encode([Image.new("RGB", (64, 64)), Image.new("RGB", (230, 120))]).counts == [4, 2]
    with pytest.raises(ValueError, match="min_pixels=5000 exceeds max_pixels=3136"):
        load_vlm("tiny-qwen2.5-vl?max_pixels=3136&min_pixels=5000", device="cpu")
    with pytest.raises(ValueError, match="has no option 'pixels'"):
        load_vlm("tiny-qwen2.5-vl?pixels=3136", device="cpu")


def test_gqa_kv_bytes_of_the_7b_config():
    spec = model_spec("qwen2.5-vl-7b")
    assert (spec.model_type, spec.tokens, spec.depth, spec.heads, spec.kv_heads, spec.head_dim) == \
           ("qwen2_5_vl", None, 28, 28, 4, 128)
    from pruning.models import model_config

    tc = model_config("qwen2.5-vl-7b").get_text_config()
    # 2 (K, V) x 4 KV heads x 128 x 2 bytes x 28 layers per token: 57344 B, not 2 x 3584 x 2 x 28 (7x more)
    assert kv_cache_bytes(tc, 1, 2) == 2 * 4 * 128 * 2 * 28 == 57344
    s3 = model_spec("qwen2.5-vl-3b")
    assert (s3.depth, s3.heads, s3.kv_heads, s3.head_dim) == (36, 16, 2, 128)
