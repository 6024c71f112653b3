"""Decoder-stage pruning in the adapter's own prefill/decode loop: FastV and SparseVLM against eager-attention
references, per-layer KV lengths, original vs renumbered positions, and cached == uncached recomputation."""
import pytest
import torch
from transformers import LlavaForConditionalGeneration

from pruning import PrunePlan
from pruning.models.llava import PROMPT
from tests.pruning.models.images import QUESTIONS

N, LAYERS = 576, 8
SPARSE = PrunePlan("sparsevlm", 64, {"layers": (1, 3, 5)})


@pytest.fixture(scope="module")
def eager_attn(tiny_dir, images):
    """Per-sample eager attention maps of the unmodified model on the unpruned prompt (test-only reference)."""
    eager = LlavaForConditionalGeneration.from_pretrained(tiny_dir, attn_implementation="eager").eval()
    from transformers import AutoProcessor

    proc = AutoProcessor.from_pretrained(tiny_dir)
    out = []
    for q, img in zip(QUESTIONS, images):
        inputs = proc(images=img, text=PROMPT.format(question=q), return_tensors="pt")
        with torch.no_grad():
            res = eager(**inputs, output_attentions=True)
        emb = eager.get_input_embeddings()(inputs["input_ids"])
        emb[inputs["input_ids"] == eager.config.image_token_id] = eager.model.get_image_features(
            pixel_values=inputs["pixel_values"]).pooler_output[0]
        start = int((inputs["input_ids"][0] == eager.config.image_token_id).nonzero()[0])
        out.append({"attn": [a[0] for a in res.attentions], "embeds": emb[0], "start": start,
                    "L": inputs["input_ids"].shape[1]})
    return out


def prefill(vlm, plan, vision):
    prep = vlm.prepare(QUESTIONS, plan, vision=vision)
    b = prep.batch
    return prep, vlm.loop.prefill(prep.embeds, b.valid, b.pos, b.img_start, N, prep.hooks)


@pytest.mark.parametrize("budget", [64, 144])
def test_fastv_keeps_top_attended_by_last_prompt_token(vlm, vision, eager_attn, budget):
    K = 2
    _, state = prefill(vlm, PrunePlan("fastv", budget), vision)
    kept = state.info["kept"][K]  # (B, T)
    for b, ref in enumerate(eager_attn):
        row = ref["attn"][K - 1][:, -1, ref["start"]:ref["start"] + N].mean(0)  # (N,) layer K-1, last prompt query
        assert set(kept[b].tolist()) == set(row.topk(budget).indices.tolist())
    assert state.kept_per_layer == [N] * K + [budget] * (LAYERS - K)


def test_fastv_cache_lengths_and_original_positions(vlm, vision):
    K, T = 3, 58
    prep, state = prefill(vlm, PrunePlan("fastv", T, {"layer": K}), vision)
    L = prep.embeds.shape[1]
    assert state.cache.lengths() == [L] * K + [L - N + T] * (LAYERS - K)
    vlm.loop.decode_step(state, vlm._embed(torch.tensor([[5], [6], [7]])))
    assert state.cache.lengths() == [L + 1] * K + [L - N + T + 1] * (LAYERS - K)
    # layer K's rotary embedding uses the kept tokens' ORIGINAL position ids (gaps where tokens were dropped)
    seen = {}

    def grab(module, args, kwargs):
        seen.setdefault("cos", kwargs["position_embeddings"][0])  # (B, L', hd)

    hook = vlm.loop.layers[K].register_forward_pre_hook(grab, with_kwargs=True)
    try:
        _, state = prefill(vlm, PrunePlan("fastv", T, {"layer": K}), vision)
    finally:
        hook.remove()
    kept = state.info["kept"][K]
    b = prep.batch
    for s in range(3):
        span = b.img_start[s] + kept[s]  # sequence indices of the kept image tokens
        keep = torch.ones(L, dtype=torch.bool)
        keep[b.img_start[s]:b.img_start[s] + N] = False
        keep[span] = True
        want = b.pos[s][keep]
        cos, _ = vlm.loop.rotary(prep.embeds[:1], want[None])
        torch.testing.assert_close(seen["cos"][s], cos[0])
        real = want[b.valid[s][keep]]
        assert bool((real[1:] > real[:-1]).all()) and int((real[1:] - real[:-1]).max()) > 1  # gaps exist


def test_fastv_keeping_everything_equals_keep_all(vlm, vision):
    a = vlm.generate(QUESTIONS, PrunePlan("fastv", N), vision=vision, max_new_tokens=4)
    b = vlm.generate(QUESTIONS, PrunePlan("keep_all"), vision=vision, max_new_tokens=4)
    assert [o.text for o in a] == [o.text for o in b]
    r = vlm.generate(QUESTIONS[:1], PrunePlan("fastv", None, {"ratio": 0.75}), vision=vision.take([0]),
                     max_new_tokens=2)[0]
    assert r.n_visual_kept == 144 and r.kept_per_layer == [N, N] + [144] * 6


def test_sparsevlm_counts_and_first_prune_against_eager(vlm, vision, eager_attn):
    strategy = SPARSE.build()
    _, state = prefill(vlm, SPARSE, vision)
    assert state.kept_per_layer == strategy.visual_per_layer(N, LAYERS, 64)
    K, k = 1, strategy.keep_counts(64)[0]
    kept = state.info["kept"][K + 1]  # the hook for layer K's output runs before layer K + 1
    for b, ref in enumerate(eager_attn):
        s, L = ref["start"], ref["L"]
        emb = ref["embeds"]
        raters = strategy.raters(emb[None, s + N:], emb[None, s:s + N], torch.ones(1, L - s - N, dtype=torch.bool))[0]
        a = ref["attn"][K][:, s + N:, s:s + N].mean(0)[raters].mean(0)  # (N,) layer K, mean over heads and raters
        assert set(kept[b].tolist()) == set(a.topk(k).indices.tolist())
    outs = vlm.generate(QUESTIONS, SPARSE, vision=vision, max_new_tokens=3)
    assert outs[0].kept_per_layer == state.kept_per_layer and outs[0].n_visual_kept == state.kept_per_layer[-1]


def test_sparsevlm_batched_equals_per_sample(vlm, vision):
    batched = vlm.generate(QUESTIONS, SPARSE, vision=vision, max_new_tokens=4)
    for i in range(3):
        single = vlm.generate([QUESTIONS[i]], SPARSE, vision=vision.take([i]), max_new_tokens=4)[0]
        assert single.text == batched[i].text and single.flops == batched[i].flops


@pytest.mark.parametrize("plan", [PrunePlan("fastv", 64), SPARSE, PrunePlan("vispruner", 64, {"ratio": 0.5})],
                         ids=lambda p: p.strategy)
def test_cached_decode_equals_uncached_recomputation(vlm, vision, plan):
    """Each cached decode step's logits equal a fresh prefill over prompt + generated tokens (same kept set:
    the prune still reads the last PROMPT token / the prompt's text rows)."""
    prep = vlm.prepare(QUESTIONS, plan, vision=vision)
    b = prep.batch
    n_img = max(prep.lengths)
    state = vlm.loop.prefill(prep.embeds, b.valid, b.pos, b.img_start, n_img, prep.hooks)
    if not prep.hooks:  # encoder stage: the KV cache holds the prompt with exactly T image tokens, every layer
        L = max(vlm.prompt_ids(q).numel() for q in QUESTIONS) - 1 + plan.budget
        assert state.cache.lengths() == [L] * LAYERS
    logits, tail = state.logits, torch.zeros(3, 0, dtype=torch.long)
    for t in range(4):
        ar = torch.arange(1, t + 1)
        fresh = vlm.loop.prefill(torch.cat([prep.embeds, vlm._embed(tail)], 1),
                                 torch.cat([b.valid, torch.ones(3, t, dtype=torch.bool)], 1),
                                 torch.cat([b.pos, b.pos[:, -1:] + ar], 1), b.img_start, n_img, prep.hooks, n_tail=t)
        torch.testing.assert_close(logits, fresh.logits, atol=1e-4, rtol=1e-4)
        if prep.hooks:
            assert all(torch.equal(state.info["kept"][k], fresh.info["kept"][k]) for k in state.info["kept"])
        nxt = logits.argmax(-1, keepdim=True)  # (B, 1)
        tail = torch.cat([tail, nxt], 1)
        logits = vlm.loop.decode_step(state, vlm._embed(nxt))


def test_eos_stops_each_sample_on_its_own(vlm, vision):
    """Batched greedy: a sample stops at its first EOS (not emitted), the others go on unchanged."""
    prep = vlm.prepare(QUESTIONS, PrunePlan("fastv", 64), vision=vision)
    b = prep.batch

    def run(eos):
        state = vlm.loop.prefill(prep.embeds, b.valid, b.pos, b.img_start, N, prep.hooks)
        return vlm.loop.greedy(state, vlm._embed, 6, eos, vlm.pad_id)

    free = run(set())
    eos = free[0][2]  # pretend sample 0's third token is EOS
    stopped = run({eos})
    for seq, ref in zip(stopped, free):
        assert seq == (ref[:ref.index(eos)] if eos in ref else ref)
    assert len(stopped[0]) == free[0].index(eos) <= 2
    assert any(len(s) > len(stopped[0]) for s in stopped[1:])  # the others did not stop with sample 0
