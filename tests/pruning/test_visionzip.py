"""VisionZip against a plain per-sample re-statement of ALGORITHMS.md (numpy, loops) and a hand-worked example."""
import numpy as np
import pytest
import torch

from pruning import VisionTokens, get_strategy
from pruning.strategies.visionzip import VisionZip, published_split
from tests.pruning.strategy_properties import check_selection_properties


def make_tokens(B, N, C=12, Ch=6, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return VisionTokens(
        features=torch.randn(B, N, C, generator=g, dtype=dtype),
        attention=torch.rand(B, N, generator=g, dtype=dtype),
        keys=torch.randn(B, N, Ch, generator=g, dtype=dtype),
        cls=torch.randn(B, C, generator=g, dtype=dtype),
    )


def reference(Z, a, K, cls, D, Cn):
    """One sample, as ALGORITHMS.md states it: returns (output tokens (T, C), kept patch indices)."""
    N = len(a)
    order = sorted(range(N), key=lambda i: (-a[i], i))
    dom = sorted(order[: D - 1])
    rem = [i for i in range(N) if i not in set(dom)]
    out = [cls] + [Z[i] for i in dom]
    targets = []
    if Cn > 0:
        step = max(1, len(rem) // Cn)
        pos = list(range(0, len(rem), step))[:Cn]
        targets = [rem[p] for p in pos]
        others = [rem[p] for p in range(len(rem)) if p not in pos]
        Kn = K / np.linalg.norm(K, axis=-1, keepdims=True)
        groups = {t: [] for t in targets}
        for o in others:
            sims = [float(Kn[o] @ Kn[t]) for t in targets]
            groups[targets[int(np.argmax(sims))]].append(o)
        for t in targets:
            out.append(Z[t] + (np.mean([Z[o] for o in groups[t]], axis=0) if groups[t] else 0.0))
    return np.stack(out), sorted(dom + targets)


def check_basic(sel, B, N, T):
    assert sel.tokens.shape[:2] == (B, T) and sel.num_kept == T
    assert sel.indices.dtype == torch.int64 and sel.indices.shape == (B, T - 1)
    assert (sel.indices[:, 1:] > sel.indices[:, :-1]).all()  # unique, ascending
    assert ((sel.indices >= 0) & (sel.indices < N)).all()


def test_published_splits():
    assert published_split(64) == (54, 10)
    assert published_split(128) == (108, 20)
    assert published_split(192) == (162, 30)
    assert published_split(32) == (27, 5)
    assert VisionZip(dominant=60).split(64) == (60, 4)
    assert VisionZip(contextual=4).split(64) == (60, 4)
    assert VisionZip(dominant=54, contextual=10).split(64) == (54, 10)


@pytest.mark.parametrize("B,N,T", [(3, 576, 64), (2, 576, 128), (2, 576, 192), (2, 576, 17), (4, 16, 5),
                                   (3, 36, 12), (2, 49, 2), (2, 64, 63), (3, 25, 1)])
def test_matches_reference(B, N, T):
    vt = make_tokens(B, N, seed=N * 1000 + T)
    sel = get_strategy("visionzip").select(vt, T)
    check_basic(sel, B, N, T)
    D, Cn = published_split(T)
    for b in range(B):
        want, kept = reference(vt.features[b].numpy(), vt.attention[b].numpy(), vt.keys[b].numpy(), vt.cls[b].numpy(), D, Cn)
        assert sel.indices[b].tolist() == kept
        np.testing.assert_allclose(sel.tokens[b].numpy(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("D,Cn", [(1, 9), (10, 0), (5, 5), (2, 1)])
def test_explicit_split_matches_reference(D, Cn):
    vt = make_tokens(2, 64, seed=D * 10 + Cn)
    sel = VisionZip(dominant=D, contextual=Cn).select(vt, D + Cn)
    check_basic(sel, 2, 64, D + Cn)
    for b in range(2):
        want, kept = reference(vt.features[b].numpy(), vt.attention[b].numpy(), vt.keys[b].numpy(), vt.cls[b].numpy(), D, Cn)
        assert sel.indices[b].tolist() == kept
        np.testing.assert_allclose(sel.tokens[b].numpy(), want, rtol=1e-12, atol=1e-12)


def test_hand_worked():
    # N = 8, T = 5 = D 3 ([CLS] + patches 1, 3) + Cn 2. Remaining 0,2,4,5,6,7: R = 6, step 3 -> targets 0 and 5.
    # Keys: 2 and 6 point like target 0, 4 and 7 like target 5.
    a = torch.tensor([[0.1, 0.9, 0.2, 0.8, 0.05, 0.3, 0.15, 0.25]])
    Z = torch.tensor([[[float(i), 1.0] for i in range(8)]])
    K = torch.tensor([[[1, 0], [0, 0.5], [1, 0.1], [1, 1], [0.1, 1], [0, 1], [1, -0.2], [0.3, 1]]])
    cls = torch.tensor([[-1.0, -1.0]])
    sel = VisionZip(dominant=3, contextual=2).select(VisionTokens(features=Z, attention=a, keys=K, cls=cls), 5)
    assert sel.indices.tolist() == [[0, 1, 3, 5]]
    want = [[-1, -1], [1, 1], [3, 1], [0 + (2 + 6) / 2, 2], [5 + (4 + 7) / 2, 2]]
    assert sel.tokens[0].tolist() == want


def test_batched_equals_per_sample_and_deterministic():
    vt = make_tokens(5, 100, seed=7, dtype=torch.float32)
    s = get_strategy("visionzip")
    sel = s.select(vt, 20)
    again = s.select(vt, 20)
    assert torch.equal(sel.indices, again.indices) and torch.equal(sel.tokens, again.tokens)
    for b in range(5):
        one = s.select(vt.take([b]), 20)
        assert torch.equal(one.indices[0], sel.indices[b])
        torch.testing.assert_close(one.tokens[0], sel.tokens[b])


def test_budget_at_least_n_keeps_all():
    vt = make_tokens(2, 16, seed=1)
    for T in (16, 40):
        sel = get_strategy("visionzip").select(vt, T)
        assert sel.tokens is None and sel.num_kept == 16
        assert sel.indices.tolist() == [list(range(16))] * 2


def test_errors():
    vt = make_tokens(1, 16)
    with pytest.raises(ValueError, match="keys"):
        VisionZip().select(VisionTokens(features=vt.features, attention=vt.attention, cls=vt.cls), 8)
    with pytest.raises(ValueError, match="cls"):
        VisionZip().select(VisionTokens(features=vt.features, attention=vt.attention, keys=vt.keys), 8)
    with pytest.raises(ValueError, match="dominant"):
        VisionZip(dominant=0)
    with pytest.raises(ValueError, match="contextual"):
        VisionZip(contextual=-1)
    with pytest.raises(ValueError, match="split the budget"):
        VisionZip(dominant=54, contextual=10).select(vt, 8)
    with pytest.raises(ValueError, match="budget"):
        VisionZip().select(vt, 0)
    with pytest.raises(TypeError, match="dominant"):
        get_strategy("visionzip", dominat=3)


@pytest.mark.parametrize("B,N,T", [(3, 576, 64), (2, 36, 9), (4, 16, 1)])
def test_shared_properties(B, N, T):
    # exactly T tokens to the LLM ([CLS] + D-1 dominant + Cn contextual)
    check_selection_properties(VisionZip(), make_tokens(B, N, seed=T, dtype=torch.float32), budget=T, expected_kept=T)
