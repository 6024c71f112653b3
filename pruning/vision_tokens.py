"""VisionTokens: one batch of vision-tower output, shared by every plan applied to it.

Rows are what the vision tower saw (one image, one anyres crop, one video frame); every row has the same N
tokens. `row_sample` maps rows to samples and `layouts` carries one family-defined layout per sample
(crop grid, frame count, image size), so an adapter can turn a selection over rows back into each sample's
LLM sequence, and the replica can take a subset of samples (`take_samples`).

The signals strategies read are typed fields. The older constructor form
`VisionTokens(..., extra={"projected": P, "last_attention": a, "last_keys": K})` still works: known keys are
mapped onto the fields, and `extra` stays a mapping that reads and writes those fields (other keys are
kept as they are).
"""
from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field, fields
from typing import Any, Iterator

import torch

# extra[...] keys that are typed fields (the names strategies and checks used before)
SIGNALS = ("projected", "last_attention", "last_keys", "sample_keys", "content_keys", "decoder_attention")


class Signals(MutableMapping):
    """`VisionTokens.extra`: the typed signal fields under their old keys, plus any other family extras."""

    def __init__(self, owner: "VisionTokens", other: dict[str, Any]):
        self._owner, self.other = owner, other

    def __getitem__(self, key: str) -> Any:
        if key in SIGNALS:
            value = getattr(self._owner, key)
            if value is None:
                raise KeyError(key)
            return value
        return self.other[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if key in SIGNALS:
            setattr(self._owner, key, value)
        else:
            self.other[key] = value

    def __delitem__(self, key: str) -> None:
        if key in SIGNALS:
            if getattr(self._owner, key) is None:
                raise KeyError(key)
            setattr(self._owner, key, None)
        else:
            del self.other[key]

    def __iter__(self) -> Iterator[str]:
        yield from (k for k in SIGNALS if getattr(self._owner, k) is not None)
        yield from self.other

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"Signals({sorted(self)})"


@dataclass
class VisionTokens:
    """features:  (R, N, C) patch hidden states of the projector's input layer, before the projector (R rows).
    attention: (R, N) importance: [CLS]->patch attention of that layer, mean over heads (VisPruner/FasterVLM
               convention), or the family's no-[CLS] rule (mean attention received).
    keys:      (R, N, C') optional head-averaged keys of that layer (VisionZip).
    cls:       (R, C) optional [CLS] hidden state of that layer (VisionZip keeps it as a dominant token).
    grid:      (H, W) patch grid, H * W == N (24 x 24 for CLIP-L/14-336).
    projected:       (R, N, D) LLM-input embeddings of the rows (DivPrune's space="llm").
    last_attention:  (R, N) single-head [CLS]->patch attention of the LAST vision layer (PruMerge+).
    last_keys:       (R, N, C) that layer's full-width patch keys (PruMerge+).
    sample_keys:     (R,) int64 stable per-row keys for seeded strategies (random), from sample ids.
    content_keys:    (R,) int64 hash of each row's input pixels (random's key when no sample ids are given).
    decoder_attention: (R, N) an LLM attention row over the image tokens (FastV outside an adapter).
    row_sample: (R,) sample index of each row, non-decreasing; None = one row per sample.
    layouts:    one family-defined layout per sample (None when the family has nothing to add).
    sample_counts: tokens each sample puts into the LLM with nothing pruned, where that is not rows x N
                (anyres: unpadding and newline rows); None = rows x N. `counts` reads it.
    extra:      a mapping view: the signal fields under their old keys, plus other family extras.
    """

    features: torch.Tensor
    attention: torch.Tensor
    keys: torch.Tensor | None = None
    cls: torch.Tensor | None = None
    grid: tuple[int, int] | None = None
    extra: Any = field(default_factory=dict)
    projected: torch.Tensor | None = None
    last_attention: torch.Tensor | None = None
    last_keys: torch.Tensor | None = None
    sample_keys: torch.Tensor | None = None
    content_keys: torch.Tensor | None = None
    decoder_attention: torch.Tensor | None = None
    row_sample: tuple[int, ...] | None = None
    layouts: tuple[Any, ...] | None = None
    sample_counts: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        other = dict(self.extra.other if isinstance(self.extra, Signals) else (self.extra or {}))
        for key in SIGNALS:  # the extra={...} constructor form: mapped onto the typed fields
            if key in other:
                value = other.pop(key)
                if value is not None:  # an explicit extra entry wins (dataclasses.replace(v, extra={...}))
                    setattr(self, key, value)
        self.extra = Signals(self, other)
        if self.features.dim() != 3:
            raise ValueError(f"VisionTokens.features must be (B, N, C), got shape {tuple(self.features.shape)}")
        B, N, _ = self.features.shape
        if self.attention.shape != (B, N):
            raise ValueError(
                f"VisionTokens.attention must be (B, N) = ({B}, {N}) to match features, got {tuple(self.attention.shape)}"
            )
        if self.keys is not None and self.keys.shape[:2] != (B, N):
            raise ValueError(f"VisionTokens.keys must be (B, N, C') with (B, N) = ({B}, {N}), got {tuple(self.keys.shape)}")
        if self.grid is None:
            side = int(round(N**0.5))
            if side * side == N:
                self.grid = (side, side)
        elif self.grid[0] * self.grid[1] != N:
            raise ValueError(f"VisionTokens.grid {self.grid} does not cover N={N} tokens")
        if self.row_sample is not None:
            rs = tuple(int(s) for s in self.row_sample)
            if len(rs) != B or any(b < a for a, b in zip(rs, rs[1:])) or (rs and (rs[0] != 0 or len(set(rs)) != rs[-1] + 1)):
                raise ValueError(f"VisionTokens.row_sample must give each of the {B} rows its sample, samples 0.. "
                                 f"in order with none skipped, got {rs}")
            self.row_sample = rs
        if self.layouts is not None:
            self.layouts = tuple(self.layouts)
            if len(self.layouts) != self.num_samples:
                raise ValueError(f"VisionTokens.layouts has {len(self.layouts)} entries for {self.num_samples} samples")
        if self.sample_counts is not None:
            self.sample_counts = tuple(int(c) for c in self.sample_counts)
            if len(self.sample_counts) != self.num_samples:
                raise ValueError(f"VisionTokens.sample_counts has {len(self.sample_counts)} entries for "
                                 f"{self.num_samples} samples")

    # ---------------------------------------------------------------- rows and samples
    @property
    def batch_size(self) -> int:
        """Samples in the batch (equal to the row count when every sample is one image)."""
        return self.num_samples

    @property
    def num_rows(self) -> int:
        return self.features.shape[0]

    @property
    def num_tokens(self) -> int:
        """N: tokens per row."""
        return self.features.shape[1]

    @property
    def num_samples(self) -> int:
        return self.num_rows if self.row_sample is None else (self.row_sample[-1] + 1 if self.row_sample else 0)

    def rows_of(self, sample: int) -> list[int]:
        if self.row_sample is None:
            return [sample]
        return [r for r, s in enumerate(self.row_sample) if s == sample]

    @property
    def counts(self) -> list[int]:
        """Visual tokens per sample before any selection: rows x N, or the family's sample_counts."""
        if self.sample_counts is not None:
            return list(self.sample_counts)
        return [len(self.rows_of(s)) * self.num_tokens for s in range(self.num_samples)]

    def take(self, rows: torch.Tensor | list[int]) -> "VisionTokens":
        """The same tokens for a subset of the batch. With one row per sample, rows are samples; otherwise
        `rows` names samples and every row of each is kept (take_samples)."""
        if self.row_sample is not None:
            return self.take_samples([int(r) for r in torch.as_tensor(rows).flatten().tolist()])
        rows = torch.as_tensor(rows, dtype=torch.long, device=self.features.device)
        return self._pick(rows, None, self._per_sample(rows.tolist()))

    def take_samples(self, samples: list[int]) -> "VisionTokens":
        """Every row of the given samples, renumbered 0.. in the given order."""
        if self.row_sample is None:
            return self.take(samples)
        rows, row_sample = [], []
        for new, s in enumerate(samples):
            own = self.rows_of(int(s))
            rows += own
            row_sample += [new] * len(own)
        idx = torch.tensor(rows, dtype=torch.long, device=self.features.device)
        return self._pick(idx, tuple(row_sample), self._per_sample(samples))

    def _per_sample(self, samples: list[int]) -> dict[str, Any]:
        """layouts and sample_counts of the given samples."""
        pick = lambda xs: None if xs is None else [xs[int(s)] for s in samples]  # noqa: E731
        return {"layouts": pick(self.layouts), "sample_counts": pick(self.sample_counts)}

    def _pick(self, rows: torch.Tensor, row_sample, per_sample: dict[str, Any]) -> "VisionTokens":
        R = self.num_rows
        pick = lambda t: t.index_select(0, rows.to(t.device)) if isinstance(t, torch.Tensor) and t.dim() > 0 and t.shape[0] == R else t  # noqa: E731
        tensors = {f.name: pick(getattr(self, f.name)) for f in fields(self)
                   if f.name not in ("grid", "extra", "row_sample", "layouts", "sample_counts")}
        return VisionTokens(**tensors, grid=self.grid, extra={k: pick(v) for k, v in self.extra.other.items()},
                            row_sample=row_sample, **per_sample)
