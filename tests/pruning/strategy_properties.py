"""Properties every encoder-stage strategy's Selection must have; reusable by any strategy's tests.

    from tests.pruning.strategy_properties import check_selection_properties
    check_selection_properties(VisionZip(dominant=54, contextual=10), tokens, budget=64, expected_kept=64)

Checks: indices (B, K) int64 on the input's device, unique, ascending, in [0, N); the kept count
(Selection.num_kept, or each sample's `lengths`) equals `expected_kept` (default min(T, N));
two calls give identical results; the batched call equals per-sample calls (tokens.take([b]));
and a budget >= N keeps all N tokens (indices 0..N-1), unless keeps_all_at_n=False.
"""
from __future__ import annotations

from typing import Callable

import torch

from pruning.types import Selection, VisionTokens


def _rows(sel: Selection) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """Per-sample (indices, tokens) with `lengths` padding cut off where the strategy reports it."""
    B = sel.indices.shape[0]
    out = []
    for b in range(B):
        idx, tok = sel.indices[b], None if sel.tokens is None else sel.tokens[b]
        if sel.lengths is not None:
            n = int(sel.lengths[b])
            tok = None if tok is None else tok[:n]
            # tokens without a patch index ([CLS], a summary token) are the width difference, the same for every sample
            unindexed = (sel.tokens.shape[1] - sel.indices.shape[1]) if sel.tokens is not None else 0
            idx = idx[: n - unindexed]
        out.append((idx, tok))
    return out


def check_indices(sel: Selection, tokens: VisionTokens) -> None:
    B, N = tokens.attention.shape
    idx = sel.indices
    assert isinstance(idx, torch.Tensor), f"indices must be a tensor, got {type(idx)}"
    assert idx.dtype == torch.int64, f"indices must be int64, got {idx.dtype}"
    assert idx.dim() == 2 and idx.shape[0] == B, f"indices must be (B={B}, K), got {tuple(idx.shape)}"
    assert idx.device == tokens.features.device, f"indices on {idx.device}, input on {tokens.features.device}"
    if sel.tokens is not None:
        assert sel.tokens.dim() == 3 and sel.tokens.shape[0] == B, f"tokens must be (B, T', C), got {tuple(sel.tokens.shape)}"
        assert sel.tokens.device == tokens.features.device
    for b, (row, _) in enumerate(_rows(sel)):
        if row.numel() == 0:
            continue
        assert int(row.min()) >= 0 and int(row.max()) < N, f"sample {b}: indices out of [0, {N})"
        assert bool((row[1:] > row[:-1]).all()), f"sample {b}: indices must be strictly ascending (unique, raster order)"


def kept_counts(sel: Selection) -> list[int]:
    if sel.lengths is not None:
        return [int(x) for x in sel.lengths]
    return [sel.num_kept] * sel.indices.shape[0]


def assert_same(a: Selection, b: Selection, what: str, exact_tokens: bool = False) -> None:
    ra, rb = _rows(a), _rows(b)
    assert len(ra) == len(rb), f"{what}: batch sizes differ"
    for i, ((ia, ta), (ib, tb)) in enumerate(zip(ra, rb)):
        assert torch.equal(ia, ib), f"{what}: sample {i} indices differ:\n{ia.tolist()}\n{ib.tolist()}"
        assert (ta is None) == (tb is None), f"{what}: sample {i} merged tokens present in one call only"
        if ta is not None:
            if exact_tokens:
                assert torch.equal(ta, tb), f"{what}: sample {i} merged tokens differ"
            else:
                torch.testing.assert_close(ta, tb, msg=lambda m: f"{what}: sample {i} merged tokens differ: {m}")


def check_selection_properties(strategy, tokens: VisionTokens, budget: int,
                               expected_kept: int | Callable[[int, int], int] | None = None,
                               keeps_all_at_n: bool = True) -> Selection:
    """Assert the shared properties of `strategy.select(tokens, budget)`; returns the Selection.

    expected_kept: the real kept count per sample (int), or a function (budget, N) -> count for
    strategies whose real count differs from T (spatial pooling: s*s; merging: documented count).
    Default min(budget, N). Strategies reporting per-sample `lengths` are checked against those.
    """
    B, N = tokens.attention.shape
    sel = strategy.select(tokens, budget)
    check_indices(sel, tokens)

    if expected_kept is None:
        want = min(budget, N)
    elif callable(expected_kept):
        want = expected_kept(budget, N)
    else:
        want = expected_kept
    if sel.lengths is None:
        assert sel.num_kept == want, f"{type(strategy).__name__}: kept {sel.num_kept} tokens for T={budget}, N={N}; expected {want}"
        if sel.tokens is None:
            assert sel.indices.shape[1] == want

    again = strategy.select(tokens, budget)
    assert_same(sel, again, "two identical calls", exact_tokens=True)

    for b in range(B):
        one = strategy.select(tokens.take([b]), budget)
        check_indices(one, tokens.take([b]))
        part = Selection(indices=sel.indices[b:b + 1], tokens=None if sel.tokens is None else sel.tokens[b:b + 1],
                         space=sel.space, lengths=None if sel.lengths is None else sel.lengths[b:b + 1])
        if one.lengths is None and part.lengths is not None:
            part = Selection(indices=part.indices, tokens=None if part.tokens is None else part.tokens[:, : int(part.lengths[0])],
                             space=part.space)
        assert_same(part, one, f"batched vs per-sample (row {b})")

    if keeps_all_at_n:
        for T in (N, N + 7):
            full = strategy.select(tokens, T)
            assert torch.equal(full.indices.cpu(), torch.arange(N).expand(B, N)), f"budget {T} >= N={N} must keep all tokens"
            assert full.num_kept == N
    return sel
