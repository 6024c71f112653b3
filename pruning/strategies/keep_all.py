"""keep_all: no pruning, the upper-bound row of every table."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from pruning.types import Selection, Stage, VisionTokens


@dataclass(frozen=True)
class KeepAll:
    stage: ClassVar[Stage] = "encoder"

    def select(self, tokens: VisionTokens, budget: int | None = None) -> Selection:
        B, N = tokens.attention.shape
        idx = torch.arange(N, device=tokens.features.device).expand(B, N).contiguous()  # (B, N)
        return Selection(indices=idx)
