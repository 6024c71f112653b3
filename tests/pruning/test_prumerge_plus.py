"""PruMerge+ against a plain per-sample restatement of the released function (token order and merged values) and hand-worked values."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

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


def released(Z, a, K):
    """One sample, restated from the released token_prune_merge_advanced_plus (42Shawn/LLaVA-PruMerge, clip_encoder.py)
    in its own steps: numpy IQR ratio, topk of int(N * ratio), spatial arange(0, N - 1, int(int(1 / ratio) / 3)) minus
    the outliers, each kept token + sum of a * x over its 32 most key-similar tokens among (other kept, then the
    complement), summary of the complement last. Z (N, C), a (N,), K (N, C) tensors -> (N_kept + 1, C), the LLM order."""
    N = a.shape[0]
    x = a.to(torch.float32).numpy()
    q1, q3 = np.percentile(x, 25), np.percentile(x, 75)
    ratio = len(np.where(x > q3 + 1.5 * (q3 - q1))[0]) / N
    idx = torch.topk(a, int(N * ratio), largest=True).indices  # sorted: descending attention
    sequence = torch.arange(0, N - 1, int(int(1 / ratio) / 3))  # released: arange(0, 575, ...) for N = 576
    idx = torch.cat([idx, torch.tensor([s for s in sequence.tolist() if s not in idx.tolist()], dtype=torch.long)])
    compl = torch.tensor(sorted(set(range(N)) - set(idx.tolist())), dtype=torch.long)
    Kn, Kc = F.normalize(K[idx], dim=-1), F.normalize(K[compl], dim=-1)
    out = torch.zeros(len(idx), Z.shape[1], dtype=Z.dtype)
    for i in range(len(idx)):
        rest_x = torch.cat([Z[idx[:i]], Z[idx[i + 1:]], Z[compl]])
        rest_a = torch.cat([a[idx[:i]], a[idx[i + 1:]], a[compl]])
        rest_k = torch.cat([Kn[:i], Kn[i + 1:], Kc])
        top = torch.topk(rest_k @ Kn[i], 32).indices
        out[i] = Z[idx[i]] + (rest_x[top] * rest_a[top].unsqueeze(-1)).sum(0)
    summary = (Z[compl] * a[compl].unsqueeze(-1)).sum(0, keepdim=True)
    return idx, torch.cat([out, summary])


def released_domain(a) -> bool:
    """Inputs on which the released function runs and rounds exactly: 1 <= n_out <= N / 3, N > 32."""
    N = a.shape[0]
    x = a.to(torch.float32).numpy()
    q1, q3 = np.percentile(x, 25), np.percentile(x, 75)
    n_out = int((x > q3 + 1.5 * (q3 - q1)).sum())
    return N > 32 and 1 <= n_out and int(int(1 / (n_out / N)) / 3) >= 1 and int(N * (n_out / N)) == n_out


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
    llm_order = [14, 5, 0, 2, 4, 6, 8, 10, 12]  # outliers by attention (60, 50), then spatial ascending
    pruned = [j for j in range(16) if j not in kept]

    sel = PruMergePlus(neighbours=0).select(vt)
    assert sel.lengths.tolist() == [10] and sel.indices.tolist() == [kept]
    assert torch.equal(sel.tokens[0, :9], Z[0, llm_order])
    summary = torch.zeros(16, dtype=torch.float64)
    summary[pruned] = a[0, pruned]
    assert torch.equal(sel.tokens[0, 9], summary)

    # One neighbour: each kept token absorbs its key twin (2m <-> 2m+1), weighted by the twin's attention.
    sel = PruMergePlus(neighbours=1).select(vt)
    for row, i in enumerate(llm_order):
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


@pytest.mark.parametrize("B,N,seed", [(3, 576, 0), (3, 576, 1), (4, 576, 9), (3, 36, 3), (3, 64, 4), (3, 144, 5),
                                      (2, 256, 6)])
def test_matches_released_order_and_values(B, N, seed):
    vt = make_tokens(B, N, seed=seed)
    sel = get_strategy("prumerge_plus").select(vt)
    check_padded(sel, B, N)
    ran = 0
    for b in range(B):
        Z, a, K = vt.features[b], vt.extra["last_attention"][b], vt.extra["last_keys"][b]
        if not released_domain(a):
            continue
        ran += 1
        idx, want = released(Z, a, K)
        n = len(idx)
        assert int(sel.lengths[b]) == n + 1
        assert sel.indices[b, :n].tolist() == sorted(idx.tolist())  # public indices stay ascending
        # token by token in the released order: outliers by attention, spatial ascending, summary last
        torch.testing.assert_close(sel.tokens[b, : n + 1], want, rtol=1e-12, atol=1e-12)
    assert ran >= 1


def test_order_is_not_raster():
    # Guard that the cases above tell the released order from raster order (the order test could not pass by accident).
    vt = make_tokens(3, 576, seed=0)
    sel = PruMergePlus().select(vt)
    for b in range(3):
        idx, want = released(vt.features[b], vt.extra["last_attention"][b], vt.extra["last_keys"][b])
        assert idx.tolist() != sorted(idx.tolist())
        n = len(idx)
        raster = want[:n][idx.argsort()]  # the same merged tokens in raster order
        assert not torch.allclose(sel.tokens[b, :n], raster)


def test_random_cases_many_shapes():
    # many random samples in the released domain (float64: in float32 a near-tie at the 32nd neighbour can
    # flip between two summation orders, ours batched and the released per token)
    checked = 0
    for seed in range(30):
        N = (144, 64, 256)[seed % 3]
        vt = make_tokens(1, N, seed=100 + seed)
        a = vt.extra["last_attention"][0]
        if not released_domain(a):
            continue
        checked += 1
        sel = PruMergePlus().select(vt)
        idx, want = released(vt.features[0], a, vt.extra["last_keys"][0])
        assert int(sel.lengths[0]) == len(idx) + 1
        torch.testing.assert_close(sel.tokens[0, : len(idx) + 1], want, rtol=1e-12, atol=1e-12)
    assert checked >= 20


def test_defined_where_the_released_code_raises():
    # flat attention: no outlier (the released int(1 / ratio) divides by zero) -> spatial step N // 3
    N = 64
    flat = torch.full((1, N), 1.0 / (N + 1), dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    vt = VisionTokens(features=torch.randn(1, N, 8, generator=g, dtype=torch.float64), attention=flat,
                      extra={"last_attention": flat, "last_keys": torch.randn(1, N, 8, generator=g, dtype=torch.float64)})
    sel = PruMergePlus().select(vt)
    assert sel.indices[0].tolist() == [0, 21, 42] and sel.lengths.tolist() == [4]
    # more than N / 3 outliers (the released arange step int(int(1 / ratio) / 3) is 0) -> step 1: all but the last
    assert spatial_mask(torch.tensor([5, 4]), 12).tolist() == [[True] * 11 + [False], [True] * 11 + [False]]
    assert spatial_mask(torch.tensor([2]), 12)[0].tolist() == [j % 2 == 0 and j < 11 for j in range(12)]  # (12 // 2) // 3


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
