"""Analytic LLM compute and KV-cache accounting in the pruning papers' convention, GQA-aware.

Convention (FastV, SparseVLM, VisPruner Table/appendix): 2 FLOPs per multiply-add, LLM only,
no LM head, no vision tower. A decoder layer over n tokens with hidden size d, query width
q = H * head_dim, key/value width k = H_kv * head_dim and SwiGLU FFN width m costs

    F(n) = 4*n*d*(q + k) + 4*n^2*q + 6*n*d*m
           (q,o and k,v projections) + (QK^T and AV) + (gate, up, down)

which for multi-head attention (q = k = d: LLaMA/Vicuna, the papers' models) is the published
8*n*d^2 + 4*n^2*d + 6*n*d*m. Prefill is the sum over layers of F(n_layer). Pruning before the LLM:
every layer sees n_visual + n_text tokens. Pruning at decoder layer K (FastV): layers 0..K-1 see
n_visual + n_text, layers K.. see n_visual_after + n_text. Visual KV cache = sum over layers of the
visual tokens whose K and V that layer stores x 2 x k x dtype bytes (k = d without GQA; Qwen2-7B:
4 KV heads x 128 = 512, not 3584).

`text_config` is any object with hidden_size, intermediate_size and num_hidden_layers (a
transformers LlamaConfig works); num_attention_heads, num_key_value_heads and head_dim are read
when present (absent: multi-head, q = k = d). Results are exact integers carried as Python ints.
"""
from __future__ import annotations

from typing import Any, Sequence


def _dims(text_config: Any) -> tuple[int, int, int]:
    """(d, m, L) from a text config, with a clear error when a field is missing."""
    try:
        d = int(text_config.hidden_size)
        m = int(text_config.intermediate_size)
        L = int(text_config.num_hidden_layers)
    except AttributeError as exc:
        raise TypeError(
            "text_config must have hidden_size, intermediate_size and num_hidden_layers "
            f"(e.g. a transformers LlamaConfig); got {type(text_config).__name__}: {exc}"
        ) from None
    if d < 1 or m < 1 or L < 1:
        raise ValueError(f"text_config sizes must be positive, got hidden_size={d}, intermediate_size={m}, num_hidden_layers={L}")
    return d, m, L


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer token count, got {value!r}")
    return value


def _split(L: int, n_visual: int, prune_layer: int | None, n_visual_after: int | None,
           names: tuple[str, str] = ("n_visual", "n_visual_after")) -> tuple[int, int]:
    """Validate a one-shot prune at layer K; returns (K, n_after) with K = L when nothing is pruned."""
    if prune_layer is None:
        if n_visual_after is not None:
            raise ValueError(f"{names[1]} was given without prune_layer (the decoder layer K where pruning happens)")
        return L, n_visual
    if isinstance(prune_layer, bool) or not isinstance(prune_layer, int) or not (0 <= prune_layer <= L):
        raise ValueError(f"prune_layer K must be an integer in [0, {L}] (num_hidden_layers={L}), got {prune_layer!r}")
    if n_visual_after is None:
        raise ValueError(f"prune_layer={prune_layer} needs {names[1]} (the count kept from layer K on)")
    _count(names[1], n_visual_after)
    if n_visual_after > n_visual:
        raise ValueError(f"{names[1]}={n_visual_after} exceeds {names[0]}={n_visual}: pruning cannot add tokens")
    return prune_layer, n_visual_after


def attention_widths(text_config: Any) -> tuple[int, int]:
    """(q, k): query width H * head_dim and key/value width H_kv * head_dim; (d, d) without head fields."""
    d, _, _ = _dims(text_config)
    heads = getattr(text_config, "num_attention_heads", None)
    if not heads:
        return d, d
    kv_heads = getattr(text_config, "num_key_value_heads", None) or heads
    head_dim = getattr(text_config, "head_dim", None) or d // int(heads)
    return int(heads) * int(head_dim), int(kv_heads) * int(head_dim)


def layer_flops(text_config: Any, n: int) -> int:
    """F(n) = 4*n*d*(q + k) + 4*n^2*q + 6*n*d*m (MHA: 8*n*d^2 + 4*n^2*d + 6*n*d*m): one layer's prefill FLOPs."""
    d, m, _ = _dims(text_config)
    q, k = attention_widths(text_config)
    _count("n", n)
    return 4 * n * d * (q + k) + 4 * n * n * q + 6 * n * d * m


def prefill_flops(text_config: Any, n_visual: int, n_text: int,
                  prune_layer: int | None = None, n_visual_after: int | None = None) -> float:
    """LLM prefill FLOPs: layers < K at n_visual + n_text tokens, layers >= K at n_visual_after + n_text.

    Without prune_layer every layer sees n_visual + n_text (encoder-stage pruning passes the kept
    count as n_visual). FastV K=2 keeping 144 of 576: prune_layer=2, n_visual_after=144.
    """
    _, _, L = _dims(text_config)
    _count("n_visual", n_visual)
    _count("n_text", n_text)
    K, after = _split(L, n_visual, prune_layer, n_visual_after)
    full = layer_flops(text_config, n_visual + n_text)
    pruned = layer_flops(text_config, after + n_text)
    return float(K * full + (L - K) * pruned)


def prefill_flops_per_layer(text_config: Any, counts_per_layer: Sequence[int], n_text: int) -> float:
    """Prefill FLOPs when the visual count changes at several layers (SparseVLM): one count per layer."""
    _, _, L = _dims(text_config)
    _count("n_text", n_text)
    counts = list(counts_per_layer)
    if len(counts) != L:
        raise ValueError(f"counts_per_layer needs one visual count per decoder layer ({L}), got {len(counts)}")
    for i, c in enumerate(counts):
        _count(f"counts_per_layer[{i}]", c)
    return float(sum(layer_flops(text_config, c + n_text) for c in counts))


def kv_cache_bytes(text_config: Any, n_visual: int, dtype_bytes: int = 2,
                   prune_layer: int | None = None, n_visual_after: int | None = None) -> int:
    """Visual-token KV-cache bytes over all layers: tokens x 2 (K, V) x k x dtype_bytes per layer,
    k = num_key_value_heads * head_dim (hidden_size for multi-head models such as LLaVA-1.5's Vicuna).

    FastV keeps every token's K/V in layers < K and only the kept ones from layer K on
    (7B, K=2, 144 of 576 kept: 85.5 MiB).
    """
    _, _, L = _dims(text_config)
    _, kv_width = attention_widths(text_config)
    _count("n_visual", n_visual)
    if isinstance(dtype_bytes, bool) or not isinstance(dtype_bytes, int) or dtype_bytes < 1:
        raise ValueError(f"dtype_bytes must be a positive integer (2 for fp16/bf16), got {dtype_bytes!r}")
    K, after = _split(L, n_visual, prune_layer, n_visual_after)
    tokens = K * n_visual + (L - K) * after  # token-layers stored
    return tokens * 2 * kv_width * dtype_bytes


def decode_flops(text_config: Any, context_len: int,
                 prune_layer: int | None = None, context_len_after: int | None = None) -> float:
    """FLOPs of one generated token: per layer 4*d*(q + k) + 4*L_ctx*q + 6*d*m (MHA: 8*d^2 + 4*L_ctx*d + 6*d*m),
    L_ctx = tokens attended.

    context_len counts the tokens in the cache the new token attends to (itself included).
    With prune_layer K, layers >= K attend to context_len_after tokens (FastV's smaller cache).
    """
    d, m, L = _dims(text_config)
    q, k = attention_widths(text_config)
    _count("context_len", context_len)
    K, after = _split(L, context_len, prune_layer, context_len_after, names=("context_len", "context_len_after"))
    per_layer = lambda ctx: 4 * d * (q + k) + 4 * ctx * q + 6 * d * m  # noqa: E731
    return float(K * per_layer(context_len) + (L - K) * per_layer(after))


def kv_bytes_per_layer_counts(text_config: Any, counts_per_layer: Sequence[int], dtype_bytes: int = 2) -> int:
    """Visual KV-cache bytes when the visual count changes at several layers (SparseVLM): one count per layer."""
    _, _, L = _dims(text_config)
    counts = list(counts_per_layer)
    if len(counts) != L:
        raise ValueError(f"counts_per_layer needs one visual count per decoder layer ({L}), got {len(counts)}")
    _, kv_width = attention_widths(text_config)
    return sum(_count(f"counts_per_layer[{i}]", c) for i, c in enumerate(counts)) * 2 * kv_width * dtype_bytes
