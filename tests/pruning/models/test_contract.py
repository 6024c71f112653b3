"""The adapter contract, once per family in the family table (pruning/models/families.py) that has a tiny alias.

A new family gets every check here by naming its tiny model in its Family entry: keep_all gives the tokens of
transformers' own generate (reference built only from vlm.model / tokenizer / image_processor / chat_template),
batched equals per-sample, exact visual-token counts, FLOPs and KV bytes from the spec, clear errors.
"""
import pytest
import torch

from pruning import PrunePlan
from pruning.accounting import kv_cache_bytes, prefill_flops
from pruning.models import FAMILIES, load_vlm
from pruning.protocols import Adapter
from tests.pruning.models.images import QUESTIONS, make_images

TINY = {t: f.tiny for t, f in FAMILIES.items() if f.adapter and f.tiny}


@pytest.fixture(scope="module", params=sorted(TINY), ids=lambda t: TINY[t])
def fam(request, tiny_dir):
    vlm = load_vlm(TINY[request.param])
    images = make_images(3, seed=7)
    return request.param, vlm, images, vlm.encode(images)


def test_every_adapter_family_has_a_tiny_alias():
    assert TINY and all(f.tiny for f in FAMILIES.values() if f.adapter)


def reference_ids(vlm, question, image, n_visual, max_new_tokens):
    """transformers generate on the unmodified model: chat template -> tokenizer, the image placeholder run
    expanded to the family's count, the image processor's tensors."""
    msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
    text = vlm.tokenizer.apply_chat_template(msgs, chat_template=vlm.chat_template, add_generation_prompt=True,
                                             tokenize=False)
    ids = torch.tensor(vlm.tokenizer(text)["input_ids"])
    at = (ids == vlm.image_token_id).nonzero().flatten()
    ids = torch.cat([ids[:at[0]], torch.full((n_visual,), vlm.image_token_id), ids[at[-1] + 1:]])[None]
    pixels = {k: v for k, v in vlm.image_processor(images=[image], return_tensors="pt").items()}
    out = vlm.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **pixels, do_sample=False,
                             max_new_tokens=max_new_tokens, eos_token_id=None, min_new_tokens=max_new_tokens)
    return out[0, ids.shape[1]:].tolist()


def test_adapter_meets_the_protocol_and_its_spec(fam):
    model_type, vlm, _, vis = fam
    assert isinstance(vlm, Adapter) and vlm.model.config.model_type == model_type
    spec = vlm.spec
    assert spec.depth == len(vlm.loop.layers) == vlm.text_config.num_hidden_layers
    if spec.tokens is not None and spec.per == "image":
        assert vis.counts == [spec.tokens] * 3
    elif spec.per == "crop":  # anyres: the packed keep_all length per image (unpadded rows + newlines + base)
        assert all(c > spec.tokens for c in vis.counts) and vis.num_rows > 3
    else:
        assert all(c > 0 for c in vis.counts)


def test_keep_all_gives_the_tokens_of_transformers_generate(fam):
    _, vlm, images, vis = fam
    outs = vlm.generate(QUESTIONS, PrunePlan("keep_all"), vision=vis, max_new_tokens=6)
    for i, (q, img) in enumerate(zip(QUESTIONS, images)):
        prep = vlm.prepare([q], PrunePlan("keep_all"), vision=vis.take_samples([i]))
        state = vlm.loop.prefill(prep.embeds, prep.batch.valid, prep.batch.pos, prep.batch.img_start, max(prep.lengths))
        ids = vlm.loop.greedy(state, vlm._embed, 6, set(), vlm.pad_id)[0]
        assert ids == reference_ids(vlm, q, img, outs[i].n_visual_in, 6)


PLANS = [PrunePlan("keep_all"), PrunePlan("vispruner", 32, {"ratio": 0.5}), PrunePlan("random", 16),
         PrunePlan("fastv", 32, {"layer": 2})]


@pytest.mark.parametrize("plan", PLANS, ids=lambda p: p.key)
def test_batched_equals_per_sample_with_exact_counts_flops_and_kv(fam, plan):
    _, vlm, _, vis = fam
    if not vlm.supports_strategy(plan.strategy):
        pytest.skip(f"{vlm.name} does not run {plan.strategy}")
    keys = ["a", "b", "c"]
    batched = vlm.generate(QUESTIONS, plan, vision=vis, max_new_tokens=4, sample_keys=keys)
    spec, tc, db = vlm.spec, vlm.text_config, vlm.dtype.itemsize
    for i in range(3):
        single = vlm.generate([QUESTIONS[i]], plan, vision=vis.take_samples([i]), max_new_tokens=4,
                              sample_keys=[keys[i]])[0]
        b = batched[i]
        assert (single.text, single.n_visual_kept, single.flops, single.kv_bytes) == \
               (b.text, b.n_visual_kept, b.flops, b.kv_bytes)
        n_in = vis.counts[i]
        assert b.n_visual_in == n_in
        if plan.budget is None:
            assert b.n_visual_kept == n_in
        elif spec.per == "image":
            assert b.n_visual_kept == min(plan.budget, n_in)
        # FLOPs / KV: the papers' convention on the kept count; KV by hand from the spec's KV heads
        if plan.strategy == "fastv":
            K = plan.params["layer"]
            assert b.flops == prefill_flops(tc, n_in, b.n_text, prune_layer=K, n_visual_after=b.n_visual_kept)
            tokens = K * n_in + (spec.depth - K) * b.n_visual_kept
        else:
            assert b.flops == prefill_flops(tc, b.n_visual_kept, b.n_text)
            tokens = spec.depth * b.n_visual_kept
            assert b.kv_bytes == kv_cache_bytes(tc, b.n_visual_kept, db)
        assert b.kv_bytes == tokens * 2 * spec.kv_heads * spec.head_dim * db


def test_clear_errors_for_bad_input(fam):
    _, vlm, images, vis = fam
    with pytest.raises(TypeError, match="single image"):
        vlm.encode(images[0])
    with pytest.raises(TypeError, match="image 1 is NoneType"):
        vlm.encode([images[0], None])
    if "video" not in FAMILIES[vlm.model.config.model_type].media:
        with pytest.raises(TypeError, match="takes image input, got a list of videos"):
            vlm.encode([[images[0], images[1]]])
    with pytest.raises(KeyError, match="unknown strategy"):
        vlm.generate(QUESTIONS[:1], PrunePlan("vispruned", 8), vision=vis.take_samples([0]))
    with pytest.raises(ValueError, match="2 prompts but vision holds 1"):
        vlm.generate(QUESTIONS[:2], PrunePlan("keep_all"), vision=vis.take_samples([0]))
    with pytest.raises(TypeError, match="prompt must be a str"):
        vlm.generate([3], PrunePlan("keep_all"), vision=vis.take_samples([0]))
    if vlm.spec.tokens is not None:
        with pytest.raises(ValueError, match=f"exceeds the {vlm.spec.tokens} visual tokens"):
            vlm.generate(QUESTIONS[:1], PrunePlan("vispruner", vlm.spec.tokens + 1), vision=vis.take_samples([0]))
