"""Sequence plumbing for pruned prompts: image span from the image token id, splicing kept image tokens into
the prompt, left padding, position ids and attention masks for the shapes each attention kernel expects.

No hard-coded offsets: the image span of every sample is found from input_ids == image_token_id.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


def image_span(ids: torch.Tensor, image_token_id: int) -> tuple[int, int]:
    """ids (L,) -> (start, count) of the one contiguous run of image tokens; anything else is an error."""
    where = (ids == image_token_id).nonzero().flatten()
    if where.numel() == 0:
        raise ValueError("prompt has no image token; the adapter adds exactly one image per question")
    start, count = int(where[0]), int(where.numel())
    if int(where[-1]) - start + 1 != count:
        raise ValueError("prompt has more than one image placeholder run (is '<image>' inside the question?); "
                         "one image per question is supported")
    return start, count


def splice(ids: torch.Tensor, image_token_id: int, n_image: int) -> tuple[torch.Tensor, int]:
    """Replace the image placeholder run of ids (L,) by n_image placeholders; returns (ids', image start)."""
    start, count = image_span(ids, image_token_id)
    fill = torch.full((n_image,), image_token_id, dtype=ids.dtype, device=ids.device)
    return torch.cat([ids[:start], fill, ids[start + count:]]), start


@dataclass
class Batch:
    """A left-padded prompt batch. ids/valid (B, L), pos (B, L) or (3, B, L) (M-RoPE); image span per sample:
    img_start (B,), n_img (B,)."""

    ids: torch.Tensor
    valid: torch.Tensor
    pos: torch.Tensor
    img_start: torch.Tensor
    n_img: torch.Tensor

    @property
    def n_text(self) -> list[int]:
        return (self.valid.sum(1) - self.n_img).tolist()


def left_pad(seqs: list[torch.Tensor], starts: list[int], counts: list[int], pad_id: int,
             positions: list[torch.Tensor] | None = None) -> Batch:
    """Left-pad 1-D id sequences into a batch. Positions count real tokens only (HF convention), unless the
    family gives each sample's own ids, (L_b,) or (3, L_b) (M-RoPE); padding slots get position 0."""
    L = max(int(s.numel()) for s in seqs)
    device = seqs[0].device
    ids = torch.full((len(seqs), L), pad_id, dtype=torch.long, device=device)  # (B, L)
    valid = torch.zeros(len(seqs), L, dtype=torch.bool, device=device)  # (B, L)
    shift = []
    for b, s in enumerate(seqs):
        ids[b, L - s.numel():] = s
        valid[b, L - s.numel():] = True
        shift.append(L - s.numel())
    if positions is None:
        pos = (valid.long().cumsum(1) - 1).clamp(min=0)  # (B, L)
    else:
        if len(positions) != len(seqs) or any(p.shape[-1] != s.numel() for p, s in zip(positions, seqs)):
            raise ValueError("positions must give one (L_b,) or (3, L_b) tensor per sequence, of its length")
        lead = positions[0].shape[:-1]  # () or (3,)
        pos = torch.zeros(*lead, len(seqs), L, dtype=torch.long, device=device)  # (B, L) or (3, B, L)
        for b, (p, sh) in enumerate(zip(positions, shift)):
            pos[..., b, sh:] = p.to(device)
    img_start = torch.tensor([st + sh for st, sh in zip(starts, shift)], device=device)
    return Batch(ids=ids, valid=valid, pos=pos, img_start=img_start, n_img=torch.tensor(counts, device=device))


def gather_pos(pos: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Position ids (B, L) or (3, B, L) (M-RoPE), idx (B, L') -> (B, L') or (3, B, L')."""
    if pos.dim() == 3:
        return torch.stack([gather_seq(p, idx) for p in pos])
    return gather_seq(pos, idx)


def gather_seq(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """x (B, L, ...) , idx (B, L') -> (B, L', ...)."""
    shape = idx.shape + x.shape[2:]
    return x.gather(1, idx.view(*idx.shape, *([1] * (x.dim() - 2))).expand(shape))


def keep_index(L: int, img_start: torch.Tensor, n_img: int, kept: torch.Tensor) -> torch.Tensor:
    """Sequence indices (B, L - n_img + T), ascending, that keep every non-image token and the image tokens
    `kept` (B, T) (indices within the image span, 0..n_img-1)."""
    B = kept.shape[0]
    ar = torch.arange(L, device=kept.device).expand(B, L)  # (B, L)
    in_span = (ar >= img_start[:, None]) & (ar < img_start[:, None] + n_img)  # (B, L)
    keep = ~in_span
    keep.scatter_(1, kept + img_start[:, None], True)
    return ar[keep].view(B, -1)  # boolean pick preserves order; same count per row


def attention_mask(valid: torch.Tensor, q_len: int, impl: str, dtype: torch.dtype) -> torch.Tensor:
    """The mask the layers' attention kernel expects for queries = the last q_len of the keys `valid` (B, S).

    sdpa: (B, 1, q, S) bool, causal by sequence order and padding; a padded query row may see itself (so no
    row is empty, which would give NaN). eager: the same as an additive float mask. flash_attention_*: the
    (B, S) padding mask (the kernel applies causality, bottom-right aligned).
    """
    if impl.startswith("flash_attention"):
        return valid.int()
    B, S = valid.shape
    qi = torch.arange(S - q_len, S, device=valid.device)[:, None]  # (q, 1) key index of each query
    kj = torch.arange(S, device=valid.device)[None, :]  # (1, S)
    allowed = (kj <= qi)[None] & valid[:, None, :]  # (B, q, S)
    allowed = allowed | (kj == qi)[None]
    allowed = allowed[:, None]  # (B, 1, q, S)
    if impl == "sdpa":
        return allowed
    return torch.zeros(allowed.shape, dtype=dtype, device=valid.device).masked_fill(~allowed, torch.finfo(dtype).min)
