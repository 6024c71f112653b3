"""Prefill and greedy decode over a transformers decoder's own layers, with token pruning between layers.

Decoder-stage pruning (FastV, arXiv 2403.06764; SparseVLM, arXiv 2410.04417) drops image tokens at layer K:
layers < K see (and cache) every token, layers >= K only the kept ones. The loop below calls the real HF decoder
layers (model.language_model.layers) with the model's rotary embedding and attention kernel (sdpa by default);
each run of layers between two prune points is a Segment with its own KV length, padding mask and positions.
A prune point is a hook (layer K, keep_fn); keep_fn gets a PruneContext and returns the kept sequence.

Positions are (B, L) ids, or (3, B, L) for M-RoPE families (Qwen2.5-VL: temporal, height, width); the first
decode position is the family's rule (`next_position`, default: the last prompt position + 1 on every axis).
Layers are called with the cache keyword their signature takes (layer_call.py): `cache=` from transformers
5.24 on, `past_key_values=` before.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F

from pruning.models.layer_call import cache_keyword
from pruning.models.sequence import attention_mask, gather_pos, gather_seq, keep_index


def last_plus_one(pos: torch.Tensor) -> torch.Tensor:
    """Default first decode position: the last prompt position + 1, (B,) or (3, B) for M-RoPE."""
    return pos[..., -1] + 1


class KVCache:
    """Per-layer keys/values; each layer may hold a different number of tokens. Duck-types the one Cache
    method the HF attention modules call (update)."""

    def __init__(self, n_layers: int):
        self.k: list[torch.Tensor | None] = [None] * n_layers
        self.v: list[torch.Tensor | None] = [None] * n_layers

    def update(self, key: torch.Tensor, value: torch.Tensor, layer_idx: int, *args, **kwargs):
        if self.k[layer_idx] is None:
            self.k[layer_idx], self.v[layer_idx] = key, value  # (B, Hkv, S, hd)
        else:
            self.k[layer_idx] = torch.cat([self.k[layer_idx], key], dim=-2)
            self.v[layer_idx] = torch.cat([self.v[layer_idx], value], dim=-2)
        return self.k[layer_idx], self.v[layer_idx]

    def lengths(self) -> list[int]:
        return [0 if k is None else int(k.shape[-2]) for k in self.k]


@dataclass
class Segment:
    """Layers [start, next segment's start) share a KV length: valid (B, S) real slots, next_pos (B,) or
    (3, B) the position id the next generated token gets in these layers."""

    start: int
    valid: torch.Tensor
    next_pos: torch.Tensor


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


@dataclass
class PruneContext:
    """What a prune hook at layer K sees. hidden (B, L, D) is layer K's input, prev_input layer K-1's input;
    valid/pos (B, L); the image span is [img_start, img_start + n_img) per sample; the last n_tail tokens follow
    the prompt (uncached recomputation), so the last prompt token is at L - 1 - n_tail. pos may be (3, B, L)."""

    layer: int
    hidden: torch.Tensor
    prev_input: torch.Tensor
    valid: torch.Tensor
    pos: torch.Tensor
    img_start: torch.Tensor
    n_img: int
    n_tail: int
    loop: "DecoderLoop"
    cache: KVCache
    info: dict = field(default_factory=dict)

    @property
    def last_prompt(self) -> int:
        return self.hidden.shape[1] - 1 - self.n_tail

    def image_index(self) -> torch.Tensor:
        """(B, n_img) sequence indices of the image tokens."""
        return self.img_start[:, None] + torch.arange(self.n_img, device=self.hidden.device)

    def attention_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """Softmax attention (B, H, R, L) of query rows (B, R) in layer K-1, as that layer computed it:
        q from its input (norm, q_proj, RoPE at the rows' positions), keys (with RoPE) from its cache."""
        layer = self.loop.layers[self.layer - 1]
        attn = layer.self_attn
        B, R = rows.shape
        x = gather_seq(self.prev_input, rows)  # (B, R, D)
        q = attn.q_proj(layer.input_layernorm(x)).view(B, R, -1, attn.head_dim).transpose(1, 2)  # (B, H, R, hd)
        cos, sin = self.loop.rotary(x, gather_pos(self.pos, rows))  # (B, R, hd)
        q = q * cos[:, None] + _rotate_half(q) * sin[:, None]
        k = self.cache.k[self.layer - 1]  # (B, Hkv, L, hd), RoPE applied by the layer
        k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)  # (B, H, L, hd)
        logits = (q.float() @ k.float().transpose(-1, -2)) * attn.scaling  # (B, H, R, L)
        L = k.shape[-2]
        allowed = self.valid[:, None, None, :] & (torch.arange(L, device=x.device) <= rows[:, :, None])[:, None]
        return F.softmax(logits.masked_fill(~allowed, float("-inf")), dim=-1)

    def keep(self, kept: torch.Tensor) -> "PruneContext":
        """Keep the image tokens `kept` (B, T) (indices within the span, ascending) and every other token, with
        their original position ids (FastV: gaps where tokens were dropped)."""
        idx = keep_index(self.hidden.shape[1], self.img_start, self.n_img, kept)  # (B, L')
        return dataclasses.replace(self, hidden=gather_seq(self.hidden, idx), valid=gather_seq(self.valid, idx),
                                   pos=gather_pos(self.pos, idx), n_img=int(kept.shape[1]))

    def replace_image(self, vis: torch.Tensor) -> "PruneContext":
        """Put the new visual block vis (B, M, D) in place of the image span, and renumber positions
        contiguously over the real tokens (SparseVLM)."""
        if self.pos.dim() == 3:
            raise NotImplementedError("renumbering positions after a merge (SparseVLM) is defined for 1-D positions "
                                      "only; M-RoPE families do not run SparseVLM")
        B, L, _ = self.hidden.shape
        M = vis.shape[1]
        j = torch.arange(L - self.n_img + M, device=vis.device)[None]  # (1, L')
        s = self.img_start[:, None]  # (B, 1)
        src = torch.where(j < s, j, torch.where(j < s + M, L + j - s, j - M + self.n_img))  # (B, L') into [seq | vis]
        hidden = gather_seq(torch.cat([self.hidden, vis.to(self.hidden.dtype)], dim=1), src)  # (B, L', D)
        valid = gather_seq(torch.cat([self.valid, self.valid.new_ones(B, M)], dim=1), src)  # (B, L')
        pos = (valid.long().cumsum(1) - 1).clamp(min=0)  # (B, L')
        return dataclasses.replace(self, hidden=hidden, valid=valid, pos=pos, n_img=M)


Hook = tuple[int, Callable[[PruneContext], PruneContext]]


@dataclass
class Prefilled:
    logits: torch.Tensor  # (B, V) next-token logits at the last position
    segments: list[Segment]
    cache: KVCache
    kept_per_layer: list[int]  # image tokens each layer saw
    info: dict


class DecoderLoop:
    """Prefill / decode over language_model.layers with the model's norm, rotary embedding and lm_head."""

    def __init__(self, language_model, lm_head, attn_implementation: str,
                 next_position: Callable[[torch.Tensor], torch.Tensor] = last_plus_one):
        self.layers = language_model.layers
        self.norm = language_model.norm
        self.rotary = language_model.rotary_emb
        self.lm_head = lm_head
        self.impl = attn_implementation
        self.next_position = next_position
        self.cache_kw = cache_keyword(self.layers[0])  # "cache" (transformers >= 5.24) or "past_key_values"

    def _run(self, i: int, h: torch.Tensor, mask, pe, cache: KVCache) -> torch.Tensor:
        out = self.layers[i](h, attention_mask=mask, position_embeddings=pe, use_cache=True, **{self.cache_kw: cache})
        return out[0] if isinstance(out, tuple) else out  # older transformers return a tuple

    @torch.no_grad()
    def prefill(self, embeds: torch.Tensor, valid: torch.Tensor, pos: torch.Tensor, img_start: torch.Tensor,
                n_img: int, hooks: list[Hook] = (), n_tail: int = 0) -> Prefilled:
        """embeds (B, L, D) left-padded; valid (B, L); pos (B, L) or (3, B, L); hooks sorted by layer,
        1 <= K < num_layers."""
        n_layers = len(self.layers)
        by_layer = dict(hooks)
        if len(by_layer) != len(hooks) or any(not 1 <= k < n_layers for k in by_layer):
            raise ValueError(f"prune layers must be distinct and in [1, {n_layers - 1}], got {[k for k, _ in hooks]}")
        cache = KVCache(n_layers)
        ctx = PruneContext(layer=0, hidden=embeds, prev_input=embeds, valid=valid, pos=pos, img_start=img_start,
                           n_img=n_img, n_tail=n_tail, loop=self, cache=cache, info={"input_embeds": embeds})
        segments = [Segment(0, valid, self.next_position(pos))]
        mask = attention_mask(valid, valid.shape[1], self.impl, embeds.dtype)
        pe = self.rotary(embeds, pos)
        kept_per_layer, prev_input = [], embeds
        h = embeds
        for i in range(n_layers):
            if i in by_layer:
                ctx = by_layer[i](dataclasses.replace(ctx, layer=i, hidden=h, prev_input=prev_input))
                h = ctx.hidden
                segments.append(Segment(i, ctx.valid, self.next_position(ctx.pos)))
                mask = attention_mask(ctx.valid, ctx.valid.shape[1], self.impl, h.dtype)
                pe = self.rotary(h, ctx.pos)
            kept_per_layer.append(ctx.n_img)
            prev_input = h
            h = self._run(i, h, mask, pe, cache)
        logits = self.lm_head(self.norm(h[:, -1]))  # (B, V)
        return Prefilled(logits=logits, segments=segments, cache=cache, kept_per_layer=kept_per_layer,
                         info={k: v for k, v in ctx.info.items() if k != "input_embeds"})

    @torch.no_grad()
    def decode_step(self, state: Prefilled, embeds: torch.Tensor) -> torch.Tensor:
        """One generated token per sample: embeds (B, 1, D) -> logits (B, V); every segment's cache grows by one."""
        seg_of = {}
        for seg in state.segments:
            seg.valid = torch.cat([seg.valid, seg.valid.new_ones(seg.valid.shape[0], 1)], dim=1)  # (B, S+1)
            pos = seg.next_pos[..., None]  # (B, 1) or (3, B, 1)
            seg_of[seg.start] = (attention_mask(seg.valid, 1, self.impl, embeds.dtype), self.rotary(embeds, pos))
            seg.next_pos = seg.next_pos + 1
        h = embeds
        mask, pe = seg_of[0]
        for i in range(len(self.layers)):
            if i in seg_of:
                mask, pe = seg_of[i]
            h = self._run(i, h, mask, pe, state.cache)
        return self.lm_head(self.norm(h[:, -1]))  # (B, V)

    @torch.no_grad()
    def greedy(self, state: Prefilled, embed: Callable[[torch.Tensor], torch.Tensor], max_new_tokens: int,
               eos_ids: set[int], pad_id: int) -> list[list[int]]:
        """Greedy tokens per sample, stopping a sample at its first EOS (kept out of the result)."""
        B = state.logits.shape[0]
        out: list[list[int]] = [[] for _ in range(B)]
        done = torch.zeros(B, dtype=torch.bool, device=state.logits.device)
        eos = torch.tensor(sorted(eos_ids), dtype=torch.long, device=state.logits.device)
        logits = state.logits
        for step in range(max_new_tokens):
            nxt = logits.argmax(-1)  # (B,)
            nxt = torch.where(done, torch.full_like(nxt, pad_id), nxt)
            is_eos = torch.isin(nxt, eos) & ~done
            for b, (t, d, e) in enumerate(zip(nxt.tolist(), done.tolist(), is_eos.tolist())):
                if not d and not e:
                    out[b].append(t)
            done = done | is_eos
            if bool(done.all()) or step == max_new_tokens - 1:
                break
            logits = self.decode_step(state, embed(nxt[:, None]))
        return out
