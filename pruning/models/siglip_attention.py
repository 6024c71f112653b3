"""SigLIP vision-tower pass for pruning: an encoder without [CLS] (LLaVA-OneVision's SigLIP-so400m/14-384).

Features: the output of the last encoder layer WITHOUT `post_layernorm` -- in transformers 5.x the tower's
`hidden_states[-1]`, which is what LlavaOnevisionModel.get_image_features feeds the projector
(vision_feature_layer -1, select strategy "full": all 729 tokens, nothing dropped).

Importance, the no-[CLS] rule (ALGORITHMS.md, VisPruner for SigLIP encoders): the attention each token
RECEIVES in the last layer, mean over heads and over query rows. q and k come from that layer as it computes
them: `layers[-1].self_attn.{q,k}_proj(layers[-1].layer_norm1(hidden_states[-2]))`, scale head_dim^-0.5.
The (N, N) rows are computed in chunks of queries, so the tower itself keeps sdpa and nothing materialises
R x heads x N x N at once.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def siglip_body(tower):
    """The module holding embeddings / encoder (older transformers nest it in .vision_model)."""
    return getattr(tower, "vision_model", tower)


def received_attention(layer, x: torch.Tensor, query_chunk: int = 256) -> torch.Tensor:
    """Mean attention each token receives in `layer` (input x (R, N, C)), over heads and queries -> (R, N), in fp32
    (fp64 for an fp64 input).

    a_j = 1/(H N) * sum_h sum_i softmax_j(q_hi . k_hj * s)     (rows of every query sum to 1, so sum_j a_j = 1)
    """
    R, N, C = x.shape
    attn = layer.self_attn
    H = attn.num_heads
    hd = C // H
    ln = layer.layer_norm1(x)  # (R, N, C)
    acc = torch.promote_types(x.dtype, torch.float32)
    q = attn.q_proj(ln).view(R, N, H, hd).transpose(1, 2).to(acc)  # (R, H, N, hd)
    k = attn.k_proj(ln).view(R, N, H, hd).transpose(1, 2).to(acc)  # (R, H, N, hd)
    received = torch.zeros(R, N, dtype=acc, device=x.device)  # (R, N)
    for s in range(0, N, query_chunk):
        probs = F.softmax((q[:, :, s:s + query_chunk] @ k.transpose(-1, -2)) * attn.scale, dim=-1)  # (R, H, c, N)
        received += probs.sum(dim=(1, 2))
    return received / (H * N)


def encode_siglip(tower, pixel_values: torch.Tensor) -> dict[str, torch.Tensor]:
    """One pass of a SigLIP vision tower over crops pixel_values (R, 3, S, S).

    features (R, N, C): last layer output, no post_layernorm (== tower(...).hidden_states[-1]);
    attention (R, N): mean attention received in the last layer (no-[CLS] rule); num_heads.
    """
    body = siglip_body(tower)
    layers = body.encoder.layers
    h = body.embeddings(pixel_values)  # (R, N, C) hidden_states[0]
    for layer in layers[:-1]:
        out = layer(h, attention_mask=None)
        h = out[0] if isinstance(out, tuple) else out  # older transformers return a tuple
    attention = received_attention(layers[-1], h)  # (R, N) from hidden_states[-2]
    out = layers[-1](h, attention_mask=None)
    features = out[0] if isinstance(out, tuple) else out  # (R, N, C) hidden_states[-1]
    return {"features": features, "attention": attention, "num_heads": layers[-1].self_attn.num_heads}
