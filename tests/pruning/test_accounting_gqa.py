"""GQA-aware accounting: k/v widths and KV bytes from num_key_value_heads x head_dim, checked by hand arithmetic
on real transformers configs; the multi-head (LLaVA-1.5) numbers stay the paper's."""
from transformers import LlamaConfig, Qwen2Config

from pruning.accounting import attention_widths, decode_flops, kv_cache_bytes, layer_flops, prefill_flops

QWEN2_7B = Qwen2Config(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
                       num_key_value_heads=4)
VICUNA_7B = LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                        num_key_value_heads=32)


def test_qwen2_7b_kv_bytes_are_seven_times_smaller_than_hidden_size_would_say():
    assert attention_widths(QWEN2_7B) == (28 * 128, 4 * 128)
    n = 1000
    got = kv_cache_bytes(QWEN2_7B, n, dtype_bytes=2)
    assert got == n * 28 * 2 * (4 * 128) * 2                  # tokens x layers x (K, V) x kv width x bytes
    assert (n * 28 * 2 * 3584 * 2) // got == 7                 # the old hidden_size convention: 7x too high
    assert kv_cache_bytes(QWEN2_7B, 576, 2, prune_layer=2, n_visual_after=144) == (2 * 576 + 26 * 144) * 2 * 512 * 2


def test_gqa_layer_flops_by_hand():
    d, m, q, k, n = 3584, 18944, 3584, 512, 300
    want = 2 * n * d * q + 2 * n * d * k * 2 + 2 * n * q * d  # q, k, v, o projections (2 FLOPs per MAC)
    want += 2 * 2 * n * n * q                                  # QK^T and AV over the query heads
    want += 3 * 2 * n * d * m                                  # gate, up, down
    assert layer_flops(QWEN2_7B, n) == want
    assert prefill_flops(QWEN2_7B, 200, 100) == 28 * want
    assert decode_flops(QWEN2_7B, 10) == 28 * (4 * d * (q + k) + 4 * 10 * q + 6 * d * m)


def test_multi_head_configs_keep_the_papers_formula():
    d, m, n = 4096, 11008, 605
    assert layer_flops(VICUNA_7B, n) == 8 * n * d * d + 4 * n * n * d + 6 * n * d * m
    assert kv_cache_bytes(VICUNA_7B, 576) == 576 * 32 * 2 * 4096 * 2       # 288 MiB, the paper's row
