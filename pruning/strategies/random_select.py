"""random: a uniform sample of T patch tokens without replacement, seeded per (seed, sample id, T).

A control every sweep should include (UniPruneBench, VTC-Bench find it strong). Each token gets
a pseudo-random score from an integer hash (SplitMix64, Steele et al. 2014) of
(seed, sample key, T, token index) and the T highest scores are kept: a uniformly random
T-subset, batched, with no generator state, identical on every device and for any batch
composition. The sample key is, in this order: `tokens.sample_keys` ((B,) int64, the adapter's
from sample ids when the caller gives them); `tokens.content_keys` ((B,) int64, the adapter's hash
of each image's pixels); else a hash of each sample's own feature bits (`feature_keys`). Never the
row index: a sample draws the same tokens at any batch position.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from pruning.registry import check_budget
from pruning.types import Selection, Stage, VisionTokens


def _signed(x: int) -> int:
    """A 64-bit constant as the int64 value with the same bits."""
    return x - (1 << 64) if x >= 1 << 63 else x


GOLDEN = _signed(0x9E3779B97F4A7C15)
MIX1 = _signed(0xBF58476D1CE4E5B9)
MIX2 = _signed(0x94D049BB133111EB)


def _shr(x: torch.Tensor, s: int) -> torch.Tensor:
    """Logical right shift on int64 (torch's >> is arithmetic)."""
    return (x >> s) & ((1 << (64 - s)) - 1)


def splitmix64(x: torch.Tensor) -> torch.Tensor:
    """SplitMix64 finaliser on int64 tensors (wrapping arithmetic, same bits as the uint64 original)."""
    z = x + GOLDEN
    z = (z ^ _shr(z, 30)) * MIX1
    z = (z ^ _shr(z, 27)) * MIX2
    return z ^ _shr(z, 31)


def token_scores(seed: int, sample_keys: torch.Tensor, budget: int, n_tokens: int) -> torch.Tensor:
    """(B, N) int64 pseudo-random scores, a pure function of (seed, key, T, token index)."""
    keys = sample_keys.to(torch.int64)  # (B,)
    h = splitmix64(torch.full_like(keys, seed))
    h = splitmix64(h ^ keys)
    h = splitmix64(h ^ budget)  # (B,)
    token = torch.arange(n_tokens, dtype=torch.int64, device=keys.device)  # (N,)
    return splitmix64(h.unsqueeze(1) ^ token)  # (B, N)


def feature_keys(features: torch.Tensor) -> torch.Tensor:
    """features (B, N, C) -> (B,) int64: a hash of each sample's feature bits (on device, no host sync).

    Each element's bit pattern is mixed with its position and the mixes are summed (wrapping), so the key
    depends on the sample's values and their order only, not on the rest of the batch."""
    B = features.shape[0]
    x = features.reshape(B, -1)  # (B, N*C)
    if x.dtype.is_floating_point or x.dtype == torch.bool:
        bits = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[x.element_size()]
        x = x.contiguous().view(bits)
    x = x.to(torch.int64)  # (B, N*C) the bit patterns
    pos = splitmix64(torch.arange(x.shape[1], dtype=torch.int64, device=x.device))  # (N*C,)
    return splitmix64(splitmix64(x ^ pos).sum(dim=-1))  # (B,)


@dataclass(frozen=True)
class RandomSelect:
    seed: int = 0
    stage: ClassVar[Stage] = "encoder"

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not (-(1 << 63) <= self.seed < 1 << 63):
            raise ValueError(f"RandomSelect: seed must be a 64-bit integer, got {self.seed!r}")

    def select(self, tokens: VisionTokens, budget: int) -> Selection:
        check_budget("RandomSelect", budget)
        B, N = tokens.attention.shape
        device = tokens.features.device
        if budget >= N:
            return Selection(indices=torch.arange(N, device=device).expand(B, N).contiguous())
        name = next((k for k in ("sample_keys", "content_keys") if getattr(tokens, k) is not None), None)
        keys = getattr(tokens, name) if name else feature_keys(tokens.features)
        keys = torch.as_tensor(keys, dtype=torch.int64, device=device)
        if keys.shape != (B,):
            raise ValueError(f"RandomSelect: tokens.extra[{name!r}] (VisionTokens.{name}) must be (B,) = ({B},), "
                             f"got {tuple(keys.shape)}")
        scores = token_scores(self.seed, keys, budget, N)  # (B, N)
        top = scores.argsort(dim=-1, descending=True, stable=True)[:, :budget]  # (B, T)
        return Selection(indices=top.sort(dim=-1).values)
