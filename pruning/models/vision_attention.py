"""CLIP vision-tower pass for pruning: the projector's input layer, its [CLS]->patch attention and keys,
without output_attentions or an eager attention over the whole tower.

VisPruner / FasterVLM (github.com/Theia-4869/VisPruner, /FasterVLM): importance = [CLS] row of the attention of the layer
whose output feeds the projector (vision_feature_layer -2 = encoder layer 22 of 24), mean over heads.
VisionZip (arXiv 2412.04467): that layer's keys, averaged over heads.
PruMerge+ (arXiv 2403.15388): single-head attention from the LAST layer's full-width q/k, scale 1/sqrt(C).
Only the [CLS] query row is computed (one q row, all keys), so the tower itself keeps sdpa.
"""
from __future__ import annotations

import inspect

import torch
import torch.nn.functional as F


def feature_index(feature_layer: int, num_layers: int) -> int:
    """vision_feature_layer -> index into hidden_states (L + 1 entries: embeddings, then each layer's output)."""
    h = feature_layer % (num_layers + 1)
    if h == 0:
        raise ValueError("vision_feature_layer selects the embeddings, which have no attention to read")
    return h


def clip_body(tower):
    """The module holding embeddings / pre_layrnorm / encoder (transformers 4.x nests it in .vision_model)."""
    return getattr(tower, "vision_model", tower)


def run_tower(tower, pixel_values: torch.Tensor, upto: int) -> list[torch.Tensor]:
    """hidden_states[0..upto] of a CLIP vision model, running only the first `upto` encoder layers."""
    body = clip_body(tower)
    h = body.pre_layrnorm(body.embeddings(pixel_values))  # (B, N+1, C)
    states = [h]
    for layer in body.encoder.layers[:upto]:
        out = layer(h, attention_mask=None, **({"causal_attention_mask": None} if _takes_causal(layer) else {}))
        h = out[0] if isinstance(out, tuple) else out  # older transformers return a tuple
        states.append(h)
    return states


def _takes_causal(layer) -> bool:
    return "causal_attention_mask" in inspect.signature(layer.forward).parameters


def cls_row(layer, x: torch.Tensor, heads: int, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax attention of the [CLS] query over all N+1 keys in `layer`, whose input is x (B, N+1, C).

    Returns (probs (B, heads, N+1), keys (B, N+1, heads, C/heads)); q/k as the layer computes them.
    """
    B, S, C = x.shape
    attn = layer.self_attn
    ln = layer.layer_norm1(x)  # (B, N+1, C)
    q = attn.q_proj(ln[:, :1]).view(B, heads, 1, C // heads)  # (B, h, 1, hd)
    k = attn.k_proj(ln).view(B, S, heads, C // heads)  # (B, N+1, h, hd)
    logits = (q.float() @ k.float().permute(0, 2, 3, 1)).squeeze(2) * scale  # (B, h, N+1)
    return F.softmax(logits, dim=-1), k


def encode_clip(tower, pixel_values: torch.Tensor, feature_layer: int = -2) -> dict[str, torch.Tensor]:
    """One pass of the tower; every signal the encoder-stage strategies read.

    features (B, N, C) patches of the feature layer; cls (B, C); attention (B, N) CLS->patch, mean over heads;
    keys (B, N, hd) head-averaged patch keys of the feature layer; last_attention (B, N) single-head
    CLS->patch of the last layer; last_keys (B, N, C) that layer's full-width patch keys.
    """
    layers = clip_body(tower).encoder.layers
    L = len(layers)
    h = feature_index(feature_layer, L)
    # the last layer's input is hidden_states[L-1]; its output is never needed
    states = run_tower(tower, pixel_values, max(h, L - 1))
    heads = layers[h - 1].self_attn.num_heads
    probs, k = cls_row(layers[h - 1], states[h - 1], heads, layers[h - 1].self_attn.scale)
    C = states[h].shape[-1]
    last_probs, last_k = cls_row(layers[L - 1], states[L - 1], 1, C**-0.5)
    return {
        "features": states[h][:, 1:],  # (B, N, C)
        "cls": states[h][:, 0],  # (B, C)
        "attention": probs[:, :, 1:].mean(1),  # (B, N)
        "keys": k[:, 1:].mean(2),  # (B, N, hd)
        "num_heads": heads,
        "last_attention": last_probs[:, 0, 1:],  # (B, N)
        "last_keys": last_k[:, 1:, 0],  # (B, N, C)
    }
