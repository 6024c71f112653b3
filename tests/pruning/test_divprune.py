"""DivPrune against a plain per-sample re-statement of ALGORITHMS.md (numpy, loops) and a hand-worked clustered example."""
import math

import numpy as np
import pytest
import torch

from pruning import VisionTokens, get_strategy
from pruning.strategies.divprune import DivPrune, greedy_maxmin
from tests.pruning.strategy_properties import check_selection_properties


def make_tokens(B, N, C=10, D=8, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(B, N, C, generator=g, dtype=dtype)
    return VisionTokens(features=feats, attention=torch.rand(B, N, generator=g, dtype=dtype),
                        extra={"projected": torch.randn(B, N, D, generator=g, dtype=dtype)})


def reference_order(X, k):
    """One sample (n, d) numpy: the greedy max-min pick order, as ALGORITHMS.md states it."""
    n = len(X)
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    dist = 1.0 - U @ U.T
    nearest = [min(dist[i, j] for i in range(n) if i != j) for j in range(n)]
    picks = [int(np.argmax(nearest))]
    while len(picks) < k:
        best, best_score = None, -math.inf
        for j in range(n):
            if j in picks:
                continue
            score = dist[picks, j].min()
            if score > best_score:
                best, best_score = j, score
        picks.append(best)
    return picks


def check_basic(sel, B, N, k):
    assert sel.indices.dtype == torch.int64 and sel.indices.shape == (B, k) and sel.num_kept == k
    assert sel.tokens is None
    assert (sel.indices[:, 1:] > sel.indices[:, :-1]).all()  # unique, ascending
    assert ((sel.indices >= 0) & (sel.indices < N)).all()


@pytest.mark.parametrize("B,N,T", [(2, 576, 64), (1, 576, 144), (3, 16, 5), (2, 36, 1), (2, 49, 48), (3, 100, 30)])
def test_matches_reference(B, N, T):
    vt = make_tokens(B, N, seed=N + T)
    sel = get_strategy("divprune").select(vt, T)
    check_basic(sel, B, N, T)
    assert sel.space == "llm"
    order = greedy_maxmin(vt.extra["projected"], T)
    for b in range(B):
        want = reference_order(vt.extra["projected"][b].numpy(), T)
        assert order[b].tolist() == want
        assert sel.indices[b].tolist() == sorted(want)


def test_max_min_property_at_576():
    # Every greedy step at N = 576, stated as a property: the pick maximises the distance to the
    # already selected set over all unselected tokens.
    vt = make_tokens(1, 576, seed=3)
    X = vt.extra["projected"][0].numpy()
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    dist = 1.0 - U @ U.T
    order = greedy_maxmin(vt.extra["projected"], 100)[0].tolist()
    assert len(set(order)) == 100
    for i in range(1, 100):
        score = dist[order[:i]].min(axis=0)
        score[order[:i]] = -np.inf
        assert order[i] == int(np.argmax(score))


def test_hand_worked_clusters():
    # Three clusters of directions in the plane, with different norms (cosine ignores them).
    # Order by index: 120, 0, 243, 6, 122, 10, 240, 121 degrees.
    # First pick: largest nearest-neighbour distance -> 0 deg (its neighbour is 6 deg away; 6 and 10 are 4 apart).
    # Second: farthest from 0 -> 122 deg. Third: max of min distance -> 240 (118 from 122) beats 243 (117 from 0).
    # Fourth: 10 deg (10 deg from 0) beats 6 (6), 120 (2), 121 (1), 243 (3).
    angles = [120, 0, 243, 6, 122, 10, 240, 121]
    norms = [1.0, 3.0, 0.5, 2.0, 1.5, 0.7, 4.0, 1.0]
    X = torch.tensor([[r * math.cos(math.radians(t)), r * math.sin(math.radians(t))] for t, r in zip(angles, norms)])
    assert greedy_maxmin(X[None], 4).tolist() == [[1, 4, 6, 5]]
    vt = VisionTokens(features=X[None], attention=torch.zeros(1, 8), extra={"projected": X[None]})
    assert DivPrune().select(vt, 3).indices.tolist() == [[1, 4, 6]]  # one per cluster
    assert DivPrune().select(vt, 4).indices.tolist() == [[1, 4, 5, 6]]


def test_ratio_used_only_without_budget():
    vt = make_tokens(2, 100, seed=5)
    assert DivPrune().select(vt).num_kept == round(0.098 * 100)  # k = 10
    assert DivPrune(ratio=0.25).select(vt).num_kept == 25
    assert DivPrune(ratio=0.25).select(vt, 7).num_kept == 7
    assert DivPrune().select(make_tokens(1, 576)).num_kept == 56  # round(0.098 * 576) = round(56.448)


def test_vision_space_uses_features():
    vt = make_tokens(2, 64, seed=9)
    sel = DivPrune(space="vision").select(vt, 12)
    assert sel.space == "vision"
    for b in range(2):
        assert sel.indices[b].tolist() == sorted(reference_order(vt.features[b].numpy(), 12))


def test_batched_equals_per_sample_and_deterministic():
    vt = make_tokens(5, 144, seed=11, dtype=torch.float32)
    s = get_strategy("divprune")
    sel = s.select(vt, 32)
    assert torch.equal(sel.indices, s.select(vt, 32).indices)
    for b in range(5):
        assert torch.equal(s.select(vt.take([b]), 32).indices[0], sel.indices[b])


def test_duplicates_never_repicked():
    # All tokens identical except two: after those, every distance is ~0; a selected token must not come back.
    X = torch.ones(1, 20, 4, dtype=torch.float32)
    X[0, 3] = torch.tensor([1.0, -1, 0, 0])
    X[0, 11] = torch.tensor([0.0, 0, -1, 1])
    order = greedy_maxmin(X, 10)
    assert len(set(order[0].tolist())) == 10


def test_budget_at_least_n_keeps_all():
    vt = make_tokens(2, 16)
    for T in (16, 99):
        sel = DivPrune().select(vt, T)
        assert sel.indices.tolist() == [list(range(16))] * 2


def test_errors():
    vt = make_tokens(1, 16)
    with pytest.raises(ValueError, match=r"extra\['projected'\]"):
        DivPrune().select(VisionTokens(features=vt.features, attention=vt.attention), 4)
    with pytest.raises(ValueError, match="ratio"):
        DivPrune(ratio=0.0)
    with pytest.raises(ValueError, match="ratio"):
        DivPrune(ratio=1.5)
    with pytest.raises(ValueError, match="space"):
        DivPrune(space="text")
    with pytest.raises(ValueError, match="budget"):
        DivPrune().select(vt, 0)


@pytest.mark.parametrize("B,N,T", [(3, 576, 64), (2, 36, 9), (4, 16, 1)])
def test_shared_properties(B, N, T):
    check_selection_properties(DivPrune(), make_tokens(B, N, seed=T, dtype=torch.float32), budget=T)
