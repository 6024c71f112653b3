"""Adapter generate(): keep_all == unmodified transformers, batching, vision reuse, encoder-stage token counts."""
import importlib

import pytest
import torch

from pruning import PrunePlan, STRATEGIES
from pruning.models.llava import PROMPT
from pruning.registry import strategy_class
from tests.pruning.models.images import QUESTIONS

ENCODER_PLANS = [
    PrunePlan("vispruner", 64, {"ratio": 0.5}),
    PrunePlan("visionzip", 64),
    PrunePlan("divprune", 58),
    PrunePlan("prumerge_plus", 64),
    PrunePlan("random", 64),
    PrunePlan("spatial", 144),
]


def available(plan: PrunePlan) -> bool:
    try:
        strategy_class(plan.strategy)
    except ImportError:
        return False
    return True


def test_keep_all_matches_transformers_generate(vlm, images, vision):
    outs = vlm.generate(QUESTIONS, PrunePlan("keep_all"), vision=vision, max_new_tokens=8)
    tok = vlm.tokenizer
    for i, (q, img) in enumerate(zip(QUESTIONS, images)):
        inputs = vlm.processor(images=img, text=PROMPT.format(question=q), return_tensors="pt")
        ref = vlm.model.generate(**inputs, do_sample=False, max_new_tokens=8)
        new = ref[0, inputs["input_ids"].shape[1]:].tolist()
        new = new[:next((j for j, t in enumerate(new) if t in vlm.eos_ids), len(new))]
        assert outs[i].text == tok.decode(new, skip_special_tokens=True).strip()
        assert outs[i].n_visual_in == outs[i].n_visual_kept == 576
        assert outs[i].n_text == int(inputs["input_ids"].shape[1]) - 576


def test_keep_all_token_ids_match(vlm, images, vision):
    """Token-for-token: the greedy ids of the adapter's loop equal HF generate's (not only the text)."""
    prep = vlm.prepare(QUESTIONS[:1], PrunePlan("keep_all"), vision=vision.take([0]))
    state = vlm.loop.prefill(prep.embeds, prep.batch.valid, prep.batch.pos, prep.batch.img_start, 576)
    ids = vlm.loop.greedy(state, vlm._embed, 10, set(), vlm.pad_id)[0]  # no EOS stop: compare all 10
    inputs = vlm.processor(images=images[0], text=PROMPT.format(question=QUESTIONS[0]), return_tensors="pt")
    ref = vlm.model.generate(**inputs, do_sample=False, max_new_tokens=10, eos_token_id=None, min_new_tokens=10)
    assert ids == ref[0, inputs["input_ids"].shape[1]:].tolist()
    # the adapter's prefill input is exactly HF's merged embeddings
    emb = vlm.model.get_input_embeddings()(inputs["input_ids"])
    feats = vlm.model.model.get_image_features(pixel_values=inputs["pixel_values"]).pooler_output[0]
    emb[inputs["input_ids"] == vlm.image_token_id] = feats
    torch.testing.assert_close(prep.embeds, emb, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("plan", ENCODER_PLANS + [PrunePlan("fastv", 64)], ids=lambda p: p.label)
def test_batched_equals_per_sample(vlm, vision, plan):
    if not available(plan):
        pytest.skip(f"{plan.strategy} module not importable yet")
    keys = [11, "sample-b", 33]
    batched = vlm.generate(QUESTIONS, plan, vision=vision, max_new_tokens=4, sample_keys=keys)
    for i in range(3):
        single = vlm.generate([QUESTIONS[i]], plan, vision=vision.take([i]), max_new_tokens=4, sample_keys=[keys[i]])[0]
        assert (single.text, single.n_visual_kept, single.n_text, single.flops) == \
            (batched[i].text, batched[i].n_visual_kept, batched[i].n_text, batched[i].flops)


@pytest.mark.parametrize("plan", ENCODER_PLANS, ids=lambda p: p.label)
def test_encoder_stage_sends_only_kept_tokens(vlm, vision, plan):
    """The LLM's first layer receives the prompt with exactly the kept image embeddings, nothing else."""
    if not available(plan):
        pytest.skip(f"{plan.strategy} module not importable yet")
    seen = []
    hook = vlm.model.model.language_model.layers[0].register_forward_pre_hook(
        lambda m, args, kwargs: seen.append(args[0] if args else kwargs["hidden_states"]), with_kwargs=True)
    try:
        outs = vlm.generate(QUESTIONS, plan, vision=vision, max_new_tokens=2, sample_keys=[1, 2, 3])
    finally:
        hook.remove()
    prefill = seen[0]  # (B, L, D)
    strategy = plan.build()
    tokens = vision.take([0, 1, 2])
    tokens.extra["sample_keys"] = torch.tensor([1, 2, 3])
    sel = strategy.select(tokens, plan.budget)
    proj = vlm.model.model.multi_modal_projector
    for b in range(3):
        n = outs[b].n_visual_kept
        if sel.lengths is None:
            assert n == (plan.budget if sel.tokens is None else sel.tokens.shape[1])
        ids = vlm.prompt_ids(QUESTIONS[b])
        L_b = ids.numel() - 1 + n  # one placeholder -> n image tokens
        lead = prefill.shape[1] - L_b  # left padding
        start = int((ids == vlm.image_token_id).nonzero()[0]) + lead
        expected = proj(sel.tokens[b, :n]) if sel.tokens is not None else proj(vision.features[b, sel.indices[b]])
        torch.testing.assert_close(prefill[b, start:start + n], expected, atol=1e-5, rtol=1e-5)
        text = vlm._embed(ids[ids != vlm.image_token_id])
        got_text = torch.cat([prefill[b, lead:start], prefill[b, start + n:]])
        torch.testing.assert_close(got_text, text)
        assert outs[b].n_text == ids.numel() - 1
        assert outs[b].flops > 0 and outs[b].kv_bytes == n * 2 * 64 * 8 * 4  # fp32, d=64, 8 layers


def test_vision_reuse_equals_encoding_inside(vlm, images, vision):
    plan = PrunePlan("vispruner", 64, {"ratio": 0.75})
    a = vlm.generate(QUESTIONS, plan, vision=vision, max_new_tokens=6)
    b = vlm.generate(QUESTIONS, plan, images=images, max_new_tokens=6)
    assert [o.text for o in a] == [o.text for o in b]
    assert set(a[0].timings) == {"vision", "select", "prefill", "decode"} and a[0].peak_mem_bytes is None


def test_pruning_changes_the_answer(vlm, vision):
    """The tiny model is sensitive to which tokens it sees (else the tests above could not tell plans apart)."""
    full = [o.text for o in vlm.generate(QUESTIONS, PrunePlan("keep_all"), vision=vision, max_new_tokens=4)]
    few = [o.text for o in vlm.generate(QUESTIONS, PrunePlan("spatial", 16), vision=vision, max_new_tokens=4)]
    assert full != few


@pytest.mark.gpu
def test_cuda_fp16_keep_all_and_fastv(tiny_dir, images):
    """On a GPU: fp16 + the default attention kernel; keep_all follows transformers generate, FastV runs and
    reports peak memory. Skipped without CUDA."""
    from pruning.models import load_vlm

    gpu = load_vlm("tiny-llava", device="cuda")
    assert gpu.dtype == torch.float16
    vis = gpu.encode(images)
    outs = gpu.generate(QUESTIONS, PrunePlan("keep_all"), vision=vis, max_new_tokens=4)
    inputs = gpu.processor(images=images[0], text=PROMPT.format(question=QUESTIONS[0]), return_tensors="pt").to("cuda")
    inputs["pixel_values"] = inputs["pixel_values"].half()
    ref = gpu.model.generate(**inputs, do_sample=False, max_new_tokens=4)
    assert outs[0].text == gpu.tokenizer.decode(ref[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()
    fast = gpu.generate(QUESTIONS, PrunePlan("fastv", 64), vision=vis, max_new_tokens=4)
    assert all(o.peak_mem_bytes and o.peak_mem_bytes > 0 and o.n_visual_kept == 64 for o in fast)
