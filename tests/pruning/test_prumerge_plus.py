"""PruMerge+ against a plain per-sample re-statement of ALGORITHMS.md / the released loop (numpy) and hand-worked values."""
import numpy as np
import pytest
import torch

from pruning import VisionTokens, get_strategy
from pruning.strategies.prumerge_plus import PruMergePlus, iqr_outliers, spatial_mask
from tests.pruning.strategy_properties import check_selection_properties


def make_tokens(B, N, C=12, seed=0, dtype=torch.float64, spikes=None):
    """Attention like a [CLS] row: softmax over N+1 logits; some samples spiky (few outliers), some heavy-tailed."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, N + 1, generator=g, dtype=dtype)
    for b in range(B):
        kind = (seed + b) % 3 if spikes is None else spikes
        if kind == 0:  # a few strong spikes, as CLIP's [CLS] attention has
            where = torch.randperm(N, generator=g)[: max(1, N // 60)]
            logits[b, where + 1] += 4 + torch.rand(len(where), generator=g, dtype=dtype) * 2
        elif kind == 1:
            logits[b] *= 2.0  # heavy tail: many outliers
    a = logits.softmax(-1)[:, 1:]  # (B, N) patch columns of the [CLS] row
    return VisionTokens(features=torch.randn(B, N, C, generator=g, dtype=dtype), attention=a,
                        extra={"last_attention": a, "last_keys": torch.randn(B, N, C, generator=g, dtype=dtype)})


def reference(Z, a, K, neighbours=32):
    """One sample, numpy, in the released code's terms: returns (kept indices ascending, tokens (L, C) in raster order)."""
    N = len(a)
    q1, q3 = np.percentile(a, 25), np.percentile(a, 75)
    outliers = [i for i in range(N) if a[i] > q3 + 1.5 * (q3 - q1)]
    ratio = len(outliers) / N
    step = int(int(1 / ratio) / 3) if outliers else N // 3
    spatial = [x for x in range(0, N - 1, step) if x not in outliers]  # released: arange(0, 575, step)
    kept = sorted(outliers + spatial)
    Kn = K / np.linalg.norm(K, axis=1, keepdims=True)
    tokens = []
    for i in kept:
        rest = [j for j in range(N) if j != i]
        sims = Kn[rest] @ Kn[i]
        top = [rest[t] for t in np.argsort(-sims, kind="stable")[: min(neighbours, N - 1)]]
        tokens.append(Z[i] + sum(a[j] * Z[j] for j in top))
    tokens.append(sum(a[j] * Z[j] for j in range(N) if j not in kept))
    return kept, np.stack(tokens)


def check_padded(sel, B, N):
    L = sel.lengths
    assert L.dtype == torch.int64 and L.shape == (B,)
    assert sel.tokens.shape[1] == sel.num_kept == int(L.max()) and sel.indices.shape == (B, int(L.max()) - 1)
    for b in range(B):
        n = int(L[b]) - 1
        idx = sel.indices[b, :n]
        assert (idx[1:] > idx[:-1]).all() and ((idx >= 0) & (idx < N)).all()
        assert (sel.indices[b, n:] == N).all()  # padding sentinel
        assert (sel.tokens[b, n + 1:] == 0).all()  # padding rows


def test_hand_worked():
    # Sorted a: 1,2,3,4,5,7,...,14,16,50,60 -> Q1 = 4.75, Q3 = 13.25, upper = 26: outliers 5 (50) and 14 (60).
    # n_out = 2 -> step (16 // 2) // 3 = 2 -> spatial 0, 2, ..., 14 (< 15). Kept: 0 2 4 5 6 8 10 12 14 -> 9 + 1 tokens.
    a = torch.tensor([[1, 2, 3, 4, 5, 50, 7, 8, 9, 10, 11, 12, 13, 14, 60, 16]], dtype=torch.float64)
    Z = torch.eye(16, dtype=torch.float64)[None]
    keys = torch.eye(8, dtype=torch.float64).repeat_interleave(2, dim=0)[None]  # tokens 2m, 2m+1 share a key
    vt = VisionTokens(features=Z, attention=a, extra={"last_attention": a, "last_keys": keys})
    kept = [0, 2, 4, 5, 6, 8, 10, 12, 14]
    pruned = [j for j in range(16) if j not in kept]

    sel = PruMergePlus(neighbours=0).select(vt)
    assert sel.lengths.tolist() == [10] and sel.indices.tolist() == [kept]
    assert torch.equal(sel.tokens[0, :9], Z[0, kept])
    summary = torch.zeros(16, dtype=torch.float64)
    summary[pruned] = a[0, pruned]
    assert torch.equal(sel.tokens[0, 9], summary)

    # One neighbour: each kept token absorbs its key twin (2m <-> 2m+1), weighted by the twin's attention.
    sel = PruMergePlus(neighbours=1).select(vt)
    for row, i in enumerate(kept):
        twin = i ^ 1
        want = Z[0, i].clone()
        want[twin] += a[0, twin]
        assert torch.equal(sel.tokens[0, row], want), i
    assert torch.equal(sel.tokens[0, 9], summary)


def test_iqr_and_spatial_parts():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(6, 576, generator=g, dtype=torch.float64) ** 6
    got = iqr_outliers(a)
    for b in range(6):
        x = a[b].numpy()
        q1, q3 = np.percentile(x, 25), np.percentile(x, 75)
        assert got[b].tolist() == (x > q3 + 1.5 * (q3 - q1)).tolist()
    # the released step int(int(1 / ratio) / 3), ratio = n_out / N, over arange(0, N - 1, step)
    for N in (576, 100, 16):
        for n_out in range(1, N // 4 + 1):
            step = int(int(1 / (n_out / N)) / 3)
            want = [j in range(0, N - 1, step) for j in range(N)]
            assert spatial_mask(torch.tensor([n_out]), N)[0].tolist() == want, (N, n_out)


@pytest.mark.parametrize("B,N,seed", [(3, 576, 0), (3, 576, 1), (2, 16, 2), (3, 36, 3), (3, 64, 4), (2, 100, 5), (3, 49, 6)])
def test_matches_reference(B, N, seed):
    vt = make_tokens(B, N, seed=seed)
    sel = get_strategy("prumerge_plus").select(vt)
    check_padded(sel, B, N)
    for b in range(B):
        kept, want = reference(vt.features[b].numpy(), vt.extra["last_attention"][b].numpy(), vt.extra["last_keys"][b].numpy())
        assert int(sel.lengths[b]) == len(kept) + 1
        assert sel.indices[b, : len(kept)].tolist() == kept
        np.testing.assert_allclose(sel.tokens[b, : len(kept) + 1].numpy(), want, rtol=1e-10, atol=1e-12)


def test_counts_are_adaptive_and_differ():
    # Spiky attention (as CLIP's [CLS] row): well under N kept, above the spatial floor, counts differ per sample.
    vt = make_tokens(4, 576, seed=8, spikes=0)
    sel = PruMergePlus().select(vt)
    assert (sel.lengths < 576 // 2).all() and (sel.lengths > 9).all()
    assert len(set(sel.lengths.tolist())) > 1  # counts really differ: padding is exercised


def test_batched_equals_per_sample_and_deterministic():
    vt = make_tokens(5, 144, seed=12, dtype=torch.float32)
    s = get_strategy("prumerge_plus")
    sel = s.select(vt)
    again = s.select(vt)
    assert torch.equal(sel.tokens, again.tokens) and torch.equal(sel.indices, again.indices)
    assert len(set(sel.lengths.tolist())) > 1
    for b in range(5):
        one = s.select(vt.take([b]))
        n = int(one.lengths[0])
        assert n == int(sel.lengths[b]) and one.num_kept == n
        assert torch.equal(one.indices[0], sel.indices[b, : n - 1])
        torch.testing.assert_close(one.tokens[0], sel.tokens[b, :n])


def test_budget():
    vt = make_tokens(2, 64, seed=3)
    s = PruMergePlus()
    adaptive = s.select(vt)
    capped = s.select(vt, 8)  # T < N is ignored: the count is the data's
    assert torch.equal(adaptive.tokens, capped.tokens) and torch.equal(adaptive.lengths, capped.lengths)
    for T in (64, 100):
        sel = s.select(vt, T)
        assert sel.tokens is None and sel.lengths is None and sel.indices.tolist() == [list(range(64))] * 2
    with pytest.raises(ValueError, match="budget"):
        s.select(vt, 0)


def test_errors():
    vt = make_tokens(1, 16)
    with pytest.raises(ValueError, match="last_attention"):
        PruMergePlus().select(VisionTokens(features=vt.features, attention=vt.attention,
                                           extra={"last_keys": vt.extra["last_keys"]}))
    with pytest.raises(ValueError, match="last_keys"):
        PruMergePlus().select(VisionTokens(features=vt.features, attention=vt.attention,
                                           extra={"last_attention": vt.attention}))
    with pytest.raises(ValueError, match="neighbours"):
        PruMergePlus(neighbours=-1)


@pytest.mark.parametrize("B,N", [(3, 576), (3, 36), (4, 16)])
def test_shared_properties(B, N):
    # per-sample counts come from `lengths` (checked against the reference above); T < N is ignored
    sel = check_selection_properties(PruMergePlus(), make_tokens(B, N, seed=N, dtype=torch.float32), budget=N // 4)
    assert sel.lengths is not None
