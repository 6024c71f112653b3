"""pruning.accounting against the VisPruner paper's compute table (reference/ALGORITHMS.md) and hand arithmetic."""
from types import SimpleNamespace

import pytest

from pruning.accounting import decode_flops, kv_cache_bytes, layer_flops, prefill_flops, prefill_flops_per_layer

LLAMA_7B = SimpleNamespace(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32)
LLAMA_13B = SimpleNamespace(hidden_size=5120, intermediate_size=13824, num_hidden_layers=40)
MIB = 2**20

# (config, n_text, n_visual, TFLOPs pruned before the LLM, TFLOPs FastV K=2 from 576 or None, KV MiB)
PAPER_ROWS = [
    (LLAMA_7B, 29, 576, 8.02, None, 288.00),
    (LLAMA_7B, 29, 432, 6.08, 6.20, 216.00),
    (LLAMA_7B, 29, 288, 4.16, 4.40, 144.00),
    (LLAMA_7B, 29, 144, 2.26, 2.62, 72.00),
    (LLAMA_7B, 29, 58, 1.13, 1.57, 29.00),
    (LLAMA_7B, 29, 29, 0.76, 1.22, 14.50),
    (LLAMA_13B, 15, 576, 15.28, None, 450.00),
    (LLAMA_13B, 15, 144, 4.05, 4.62, 112.50),
    (LLAMA_13B, 15, 29, 1.12, 1.83, 22.66),
]


@pytest.mark.parametrize("cfg, n_text, n_visual, tflops, fastv_tflops, kv_mib", PAPER_ROWS)
def test_paper_table_rows(cfg, n_text, n_visual, tflops, fastv_tflops, kv_mib):
    assert prefill_flops(cfg, n_visual, n_text) / 1e12 == pytest.approx(tflops, rel=0.015)
    if fastv_tflops is not None:
        got = prefill_flops(cfg, 576, n_text, prune_layer=2, n_visual_after=n_visual) / 1e12
        assert got == pytest.approx(fastv_tflops, rel=0.015)
    assert kv_cache_bytes(cfg, n_visual) / MIB == pytest.approx(kv_mib, abs=0.005)


def test_fastv_kv_cache_at_144_kept():
    # 2 layers x 576 + 30 layers x 144 tokens, 0.5 MiB per token-model -> 85.50 MiB
    got = kv_cache_bytes(LLAMA_7B, 576, prune_layer=2, n_visual_after=144)
    assert got == (2 * 576 + 30 * 144) * 2 * 4096 * 2
    assert got / MIB == pytest.approx(85.50, abs=1e-9)


def test_real_llama_config_as_text_config():
    from transformers import LlamaConfig

    cfg = LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32)
    assert prefill_flops(cfg, 576, 29) == prefill_flops(LLAMA_7B, 576, 29)
    assert prefill_flops(cfg, 576, 29) / 1e12 == pytest.approx(8.02, rel=0.015)
    assert kv_cache_bytes(cfg, 144) == 72 * MIB


def test_layer_flops_hand_worked():
    tiny = SimpleNamespace(hidden_size=2, intermediate_size=3, num_hidden_layers=4)
    # n=5: 8*5*4 + 4*25*2 + 6*5*2*3 = 160 + 200 + 180
    assert layer_flops(tiny, 5) == 540
    assert prefill_flops(tiny, 3, 2) == 4 * 540
    # K=1: one layer at 5 tokens, three at 1 + 2 = 3 tokens: 8*3*4 + 4*9*2 + 6*3*2*3 = 96 + 72 + 108
    assert prefill_flops(tiny, 3, 2, prune_layer=1, n_visual_after=1) == 540 + 3 * 276
    assert prefill_flops_per_layer(tiny, [3, 1, 1, 1], 2) == 540 + 3 * 276
    # decode: per layer 8*4 + 4*ctx*2 + 6*2*3 = 32 + 8*ctx + 36
    assert decode_flops(tiny, 10) == 4 * (68 + 80)
    assert decode_flops(tiny, 10, prune_layer=2, context_len_after=4) == 2 * (68 + 80) + 2 * (68 + 32)


def test_prune_layer_edges_equal_unpruned_forms():
    assert prefill_flops(LLAMA_7B, 576, 29, prune_layer=0, n_visual_after=144) == prefill_flops(LLAMA_7B, 144, 29)
    assert prefill_flops(LLAMA_7B, 576, 29, prune_layer=32, n_visual_after=144) == prefill_flops(LLAMA_7B, 576, 29)
    assert kv_cache_bytes(LLAMA_7B, 576, prune_layer=0, n_visual_after=144) == kv_cache_bytes(LLAMA_7B, 144)
    assert prefill_flops_per_layer(LLAMA_7B, [576] * 2 + [144] * 30, 29) == prefill_flops(
        LLAMA_7B, 576, 29, prune_layer=2, n_visual_after=144)
    assert kv_cache_bytes(LLAMA_7B, 144, dtype_bytes=4) == 2 * kv_cache_bytes(LLAMA_7B, 144)


@pytest.mark.parametrize("call, match", [
    (lambda: prefill_flops(LLAMA_7B, -1, 29), "n_visual"),
    (lambda: prefill_flops(LLAMA_7B, 576, -3), "n_text"),
    (lambda: prefill_flops(LLAMA_7B, 576, 29, prune_layer=33, n_visual_after=10), r"prune_layer K must be an integer in \[0, 32\]"),
    (lambda: prefill_flops(LLAMA_7B, 576, 29, prune_layer=-1, n_visual_after=10), "prune_layer"),
    (lambda: prefill_flops(LLAMA_7B, 576, 29, prune_layer=2), "needs n_visual_after"),
    (lambda: prefill_flops(LLAMA_7B, 576, 29, n_visual_after=10), "without prune_layer"),
    (lambda: prefill_flops(LLAMA_7B, 144, 29, prune_layer=2, n_visual_after=576), "cannot add tokens"),
    (lambda: kv_cache_bytes(LLAMA_7B, 576, dtype_bytes=0), "dtype_bytes"),
    (lambda: kv_cache_bytes(LLAMA_7B, 1.5), "n_visual"),
    (lambda: decode_flops(LLAMA_7B, 100, prune_layer=40, context_len_after=10), "prune_layer"),
    (lambda: prefill_flops_per_layer(LLAMA_7B, [576] * 31, 29), "one visual count per decoder layer"),
    (lambda: prefill_flops_per_layer(LLAMA_7B, [576] * 31 + [-1], 29), r"counts_per_layer\[31\]"),
])
def test_invalid_inputs_fail_clearly(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_text_config_missing_fields():
    with pytest.raises(TypeError, match="hidden_size, intermediate_size and num_hidden_layers"):
        prefill_flops(SimpleNamespace(hidden_size=8), 1, 1)
