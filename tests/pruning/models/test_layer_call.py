"""The decoder loop against transformers itself: the cache keyword the installed layers take (and the older
`past_key_values=` form the 5.17 GPU machines take), and M-RoPE (3, B, L) positions through prefill and decode."""
import inspect

import pytest
import torch
from torch import nn

from pruning.models.decoder_loop import DecoderLoop
from pruning.models.layer_call import cache_keyword
from pruning.models.sequence import left_pad


def test_chosen_cache_keyword_matches_the_installed_layer_signature(vlm):
    layer = vlm.loop.layers[0]
    params = inspect.signature(layer.forward).parameters
    want = "cache" if "cache" in params else "past_key_values"
    assert vlm.loop.cache_kw == cache_keyword(layer) == want
    seen = []
    hook = layer.register_forward_pre_hook(lambda m, a, kw: seen.append(set(kw)), with_kwargs=True)
    try:
        e = vlm._embed(torch.tensor([[1, 5, 7]]))
        vlm.loop.prefill(e, torch.ones(1, 3, dtype=torch.bool), torch.arange(3)[None], torch.tensor([0]), 0)
    finally:
        hook.remove()
    assert want in seen[0] and ({"cache", "past_key_values"} - {want}).isdisjoint(seen[0])


class OldStyleLayer(nn.Module):
    """A real decoder layer behind the pre-5.24 signature (`past_key_values=`), as transformers 5.17 has it."""

    def __init__(self, layer, new_kw):
        super().__init__()
        self.layer, self.new_kw = layer, new_kw

    def forward(self, hidden_states, attention_mask=None, position_ids=None, past_key_values=None, use_cache=False,
                position_embeddings=None, **kwargs):
        return self.layer(hidden_states, attention_mask=attention_mask, position_embeddings=position_embeddings,
                          use_cache=use_cache, **{self.new_kw: past_key_values})


def test_old_past_key_values_signature_gives_the_same_tokens(vlm):
    lm = vlm.model.model.language_model
    old = nn.Module()
    old.layers = nn.ModuleList([OldStyleLayer(layer, vlm.loop.cache_kw) for layer in lm.layers])
    old.norm, old.rotary_emb = lm.norm, lm.rotary_emb
    loop = DecoderLoop(old, vlm.model.lm_head, vlm.loop.impl)
    assert loop.cache_kw == "past_key_values"
    ids = torch.tensor([[3, 9, 11, 40, 2], [0, 0, 7, 8, 9]])
    valid = torch.tensor([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]], dtype=torch.bool)
    pos = (valid.long().cumsum(1) - 1).clamp(min=0)
    runs = []
    for lp in (vlm.loop, loop):
        state = lp.prefill(vlm._embed(ids), valid, pos, torch.tensor([0, 2]), 0)
        runs.append(lp.greedy(state, vlm._embed, 5, set(), vlm.pad_id))
    assert runs[0] == runs[1]


@pytest.fixture(scope="module")
def qwen_text():
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLTextConfig, Qwen2_5_VLTextModel

    cfg = Qwen2_5_VLTextConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=3, num_attention_heads=4,
                               num_key_value_heads=2, vocab_size=100, bos_token_id=1, eos_token_id=2,
                               rope_scaling={"rope_type": "default", "mrope_section": [2, 3, 3]})
    torch.manual_seed(0)
    return Qwen2_5_VLTextModel(cfg).eval()


def mrope_positions(n_before: int, grid: tuple[int, int], n_after: int) -> torch.Tensor:
    """(3, L) ids as Qwen2.5-VL's get_rope_index lays them out: text, an image of (h, w) merged tokens at
    (t, h, w) = (s, s + i, s + j), then text resuming at s + max(h, w)."""
    h, w = grid
    text = torch.arange(n_before).expand(3, -1)
    s = n_before
    img = torch.stack([torch.full((h * w,), s), s + torch.arange(h).repeat_interleave(w), s + torch.arange(w).repeat(h)])
    after = s + max(h, w) + torch.arange(n_after).expand(3, -1)
    return torch.cat([text, img, after], dim=1)


@torch.no_grad()
def test_mrope_positions_prefill_and_decode_match_the_text_model(qwen_text):
    m = qwen_text
    loop = DecoderLoop(m, nn.Identity(), "sdpa")
    torch.manual_seed(1)
    seqs = [torch.arange(5 + 6 + 3), torch.arange(3 + 4 + 2)]         # ids only fix the lengths here
    positions = [mrope_positions(5, (2, 3), 3), mrope_positions(3, (2, 2), 2)]
    batch = left_pad(seqs, [5, 3], [6, 4], 0, positions=positions)
    assert batch.pos.shape == (3, 2, 14)
    embeds = torch.randn(2, 14, 64)
    state = loop.prefill(embeds, batch.valid, batch.pos, batch.img_start, 6)
    x = torch.randn(2, 1, 64)
    step = loop.decode_step(state, x)
    for b, (seq, p) in enumerate(zip(seqs, positions)):
        L = seq.numel()
        e = embeds[b:b + 1, -L:]
        ref = m(inputs_embeds=e, position_ids=p[:, None]).last_hidden_state[0, -1]
        torch.testing.assert_close(state.logits[b], ref, atol=1e-5, rtol=1e-5)
        p2 = torch.cat([p, p[:, -1:] + 1], dim=1)                       # first decode position: last + 1
        ref2 = m(inputs_embeds=torch.cat([e, x[b:b + 1]], 1), position_ids=p2[:, None]).last_hidden_state[0, -1]
        torch.testing.assert_close(step[b], ref2, atol=1e-5, rtol=1e-5)
