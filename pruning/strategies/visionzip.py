"""VisionZip (Yang et al., arXiv 2412.04467; github.com/dvlab-research/VisionZip): dominant + contextual tokens.

Reads from VisionTokens (all of the projector's input layer, -2 for LLaVA):
  features  (B, N, C)  patch hidden states (no [CLS]);
  attention (B, N)     [CLS]->patch attention, mean over heads (the reference sums over heads:
                       same order, so the same dominant set);
  keys      (B, N, Ch) head-averaged keys of the N patches (the reference's `metric`);
  cls       (B, C)     the [CLS] hidden state, always kept as the first dominant token.

A budget T splits into D dominant (counting [CLS]) + Cn contextual tokens. The published LLaVA-1.5
splits are 54+10 (T=64), 108+20 (128), 162+30 (192); other T use the same ratio,
D = round_half_up(T * 54 / 64), Cn = T - D, unless `dominant` / `contextual` are given.

Output: `tokens` (B, T, C) = [CLS, top-(D-1) patches in raster order, Cn contextual tokens], exactly T
tokens into the projector. A contextual token = its target's hidden state + the mean of the hidden
states assigned to it (assignment by cosine of keys; a target with nothing assigned stays itself).
`indices` (B, T-1) ascending: the patches whose own hidden state is in the output, the D-1 dominant
patches and the Cn targets ([CLS] has no patch index). num_kept = T. T >= N keeps all N patches
unmerged (no [CLS]), like keep_all.

Differences from the released CLIPVisionTower_VisionZip.forward (docs/ALGORITHMS.md): Cn = 0 (T <= 3 by the
split, or contextual=0) gives the D dominant tokens alone (the released `R // contextual_num` divides by zero);
key similarities in at least float32 (released: the model's dtype); ranking by the head-mean (released: sum,
same order) with ties to the lower index.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from pruning.registry import check_budget
from pruning.types import Selection, Stage, VisionTokens


def published_split(budget: int) -> tuple[int, int]:
    """T -> (D, Cn) by the published LLaVA-1.5 ratio 54:10 (64 -> 54+10, 128 -> 108+20, 192 -> 162+30)."""
    dominant = (budget * 54 + 32) // 64  # round half up, integer arithmetic
    return dominant, budget - dominant


@dataclass(frozen=True)
class VisionZip:
    dominant: int | None = None    # D: dominant tokens including [CLS]; None = from T by the 54:10 ratio
    contextual: int | None = None  # Cn: merged contextual tokens; None = T - D
    stage: ClassVar[Stage] = "encoder"

    def __post_init__(self) -> None:
        if self.dominant is not None and (isinstance(self.dominant, bool) or not isinstance(self.dominant, int) or self.dominant < 1):
            raise ValueError(f"VisionZip: dominant D must be an integer >= 1 (it counts [CLS]), got {self.dominant!r}")
        if self.contextual is not None and (isinstance(self.contextual, bool) or not isinstance(self.contextual, int) or self.contextual < 0):
            raise ValueError(f"VisionZip: contextual Cn must be an integer >= 0, got {self.contextual!r}")

    def split(self, budget: int) -> tuple[int, int]:
        """(D, Cn) for budget T; explicit parameters must add up to T."""
        if self.dominant is None and self.contextual is None:
            return published_split(budget)
        dominant = self.dominant if self.dominant is not None else budget - self.contextual
        contextual = self.contextual if self.contextual is not None else budget - self.dominant
        if dominant < 1 or contextual < 0 or dominant + contextual != budget:
            raise ValueError(f"VisionZip: dominant={self.dominant!r} + contextual={self.contextual!r} must split the "
                             f"budget T={budget} into D >= 1 and Cn >= 0 with D + Cn = T")
        return dominant, contextual

    def select(self, tokens: VisionTokens, budget: int) -> Selection:
        check_budget("VisionZip", budget)
        Z, a = tokens.features, tokens.attention  # (B, N, C), (B, N)
        B, N, C = Z.shape
        if budget >= N:
            return Selection(indices=torch.arange(N, device=Z.device).expand(B, N).contiguous())
        for name in ("keys", "cls"):
            if getattr(tokens, name) is None:
                raise ValueError(f"VisionZip needs VisionTokens.{name} (head-averaged keys (B, N, Ch) and [CLS] hidden "
                                 f"state (B, C) of the feature layer); the model adapter did not provide {name!r}")
        D, Cn = self.split(budget)

        # Dominant: [CLS] + top-(D-1) patches by [CLS] attention (stable sort: ties go to the lower index).
        order = a.argsort(dim=-1, descending=True, stable=True)  # (B, N)
        dom = order[:, : D - 1].sort(dim=-1).values  # (B, D-1) raster order
        is_dom = torch.zeros(B, N, dtype=torch.bool, device=Z.device).scatter_(1, dom, True)  # (B, N)
        rem = is_dom.to(torch.int8).argsort(dim=-1, stable=True)[:, : N - (D - 1)]  # (B, R) remaining, raster order
        take = lambda x, idx: x.gather(1, idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))  # noqa: E731
        parts = [tokens.cls.unsqueeze(1).to(Z.dtype), take(Z, dom)]  # (B, 1, C), (B, D-1, C)
        kept = [dom]

        if Cn > 0:
            # Contextual: Cn evenly spaced targets among the R remaining, the rest go to their most similar target.
            R = rem.shape[1]
            step = max(1, R // Cn)
            pos = torch.arange(0, R, step, device=Z.device)[:Cn]  # (Cn,) positions in rem
            is_target = torch.zeros(R, dtype=torch.bool, device=Z.device)
            is_target[pos] = True
            tgt, oth = rem[:, is_target], rem[:, ~is_target]  # (B, Cn), (B, R-Cn)
            K = F.normalize(tokens.keys.to(torch.promote_types(tokens.keys.dtype, torch.float32)), dim=-1)  # (B, N, Ch)
            sim = take(K, oth) @ take(K, tgt).transpose(1, 2)  # (B, R-Cn, Cn)
            assign = sim.argmax(dim=-1)  # (B, R-Cn) first max on ties
            sums = torch.zeros(B, Cn, C, dtype=Z.dtype, device=Z.device)
            sums.scatter_add_(1, assign.unsqueeze(-1).expand(-1, -1, C), take(Z, oth))  # (B, Cn, C)
            counts = torch.zeros(B, Cn, dtype=Z.dtype, device=Z.device).scatter_add_(
                1, assign, torch.ones_like(assign, dtype=Z.dtype))  # (B, Cn)
            parts.append(take(Z, tgt) + sums / counts.clamp(min=1).unsqueeze(-1))  # (B, Cn, C)
            kept.append(tgt)

        out = torch.cat(parts, dim=1)  # (B, T, C)
        indices = torch.cat(kept, dim=1).sort(dim=-1).values  # (B, T-1)
        return Selection(indices=indices, tokens=out, space="vision")
