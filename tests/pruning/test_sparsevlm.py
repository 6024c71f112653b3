"""SparseVLM v1 tensor functions against a plain per-sample re-statement of the released algorithm
(github.com/Gumpest/SparseVLMs: raters from input embeddings, rater-attention scores, top-k, DPC-kNN
recycling), hand-worked schedules and clusterings, batched == per-sample, determinism.

    .venv/bin/python -m pytest -x -q tests/pruning/test_sparsevlm.py
"""
from __future__ import annotations

import math
import random

import pytest
import torch

from pruning.registry import get_strategy
from pruning.strategies.sparsevlm import SparseVLM, cluster_means, dpc_knn, rows_after_image


# ---- plain re-statement (Python loops, float64, one sample at a time) ----------------------------------
def dot(a, b):
    return sum(float(x) * float(y) for x, y in zip(a, b))


def ref_raters(text, vis):
    """text: list of L vectors (real tokens only), vis: list of N vectors -> list of rater positions."""
    L = len(text)
    rel = [0.0] * L
    for v in vis:
        logits = [dot(v, t) for t in text]
        m = max(logits)
        e = [math.exp(z - m) for z in logits]
        for t in range(L):
            rel[t] += e[t] / sum(e) / len(vis)
    mean = sum(rel) / L
    r = [t for t in range(L) if rel[t] > mean]
    return r if r else list(range(L))  # no rater: every text token rates (NaN guard)


def ref_score(attn, raters):
    """attn: [H][L][N] nested lists; raters: positions -> list of N scores."""
    H, N = len(attn), len(attn[0][0])
    return [sum(attn[h][r][v] for h in range(H) for r in raters) / (H * len(raters)) for v in range(N)]


def ref_dpc(xs, n_clusters, k):
    """Density peaks with kNN density, O(n^2) loops. xs: list of n vectors -> assignment list."""
    n, D = len(xs), len(xs[0])
    d = [[math.sqrt(sum((float(a) - float(b)) ** 2 for a, b in zip(xs[i], xs[j]))) / math.sqrt(D) for j in range(n)]
         for i in range(n)]
    k, c = min(k, n), min(n_clusters, n)
    rho = [math.exp(-sum(v * v for v in sorted(d[i])[:k]) / k) for i in range(n)]
    d_max = max(max(row) for row in d)
    delta = []
    for i in range(n):
        denser = [j for j in range(n) if rho[j] > rho[i] or (rho[j] == rho[i] and j < i)]
        delta.append(min(d[i][j] for j in denser) if denser else d_max)
    order = sorted(range(n), key=lambda i: (-rho[i] * delta[i], i))
    centers = order[:c]
    assign = []
    for i in range(n):
        best = 0
        for j in range(1, c):
            if d[centers[j]][i] < d[centers[best]][i]:
                best = j
        assign.append(best)
    for j, ctr in enumerate(centers):
        assign[ctr] = j
    return assign


def ref_prune(xs, scores, k, ratio=0.3, knn=None):
    """-> (kept positions ascending, recycled vectors in cluster order)."""
    N = len(xs)
    if k >= N:
        return list(range(N)), []
    order = sorted(range(N), key=lambda i: (-scores[i], i))
    kept, pruned = sorted(order[:k]), order[k:]
    if ratio == 0:
        return kept, []
    n = min(len(pruned), int(len(pruned) * ratio) + 1)
    c = int(n / 10) + 1
    top = [xs[i] for i in pruned[:n]]
    assign = ref_dpc(top, c, knn or c)
    means = []
    for j in range(c):
        members = [top[i] for i in range(n) if assign[i] == j]
        means.append([sum(float(m[t]) for m in members) / len(members) for t in range(len(top[0]))])
    return kept, means


def clustered(n, D, g):
    """n points around a few random centers (realistic for DPC: real clusters, distinct densities)."""
    centers = torch.randn(max(1, n // 6), D, generator=g) * 3
    pick = torch.randint(0, centers.shape[0], (n,), generator=g)
    return centers[pick] + 0.3 * torch.randn(n, D, generator=g)


# ---- schedules and counts ----------------------------------------------------------------------------
def test_keep_counts_released_schedules():
    s = SparseVLM()
    assert s.keep_counts(192) == [300, 200, 110]
    assert s.keep_counts(128) == [303, 110, 36]
    assert s.keep_counts(96) == [238, 48, 26]
    assert s.keep_counts(64) == [66, 30, 17]
    with pytest.raises(ValueError, match=r"T=100.*\[64, 96, 128, 192\].*schedule"):
        s.keep_counts(100)
    with pytest.raises(ValueError, match="budget"):
        s.keep_counts(0)
    assert SparseVLM(layers=(1, 2), schedule=(40, 20)).keep_counts(7) == [40, 20]


def test_config_validation_and_registry():
    with pytest.raises(ValueError, match="3 prune layers"):
        SparseVLM(layers=(1, 2))
    with pytest.raises(ValueError, match="one integer"):
        SparseVLM(schedule=(10, 5))
    with pytest.raises(ValueError, match="increasing"):
        SparseVLM(layers=(3, 2, 4))
    with pytest.raises(ValueError, match="recycle_ratio"):
        SparseVLM(recycle_ratio=1.5)
    s = get_strategy("sparsevlm", layers=[1, 2, 3], schedule=[30, 20, 10])  # YAML gives lists
    assert s.layers == (1, 2, 3) and s.schedule == (30, 20, 10) and s.stage == "decoder"
    hash(s)  # frozen and hashable after list -> tuple
    with pytest.raises(TypeError, match="did you mean 'layers'"):
        get_strategy("sparsevlm", layer=[2])


def test_select_explains_decoder_stage():
    from pruning.types import VisionTokens
    tok = VisionTokens(features=torch.randn(1, 4, 3), attention=torch.rand(1, 4))
    with pytest.raises(RuntimeError, match="decoder-stage.*adapter"):
        SparseVLM().select(tok, 192)


def test_recycle_sizes_hand_worked():
    s = SparseVLM()
    # 576 -> keep 300: 276 pruned, int(82.8)+1 = 83 recycled into int(8.3)+1 = 9 clusters
    assert s.recycle_sizes(276) == (83, 9)
    assert s.recycle_sizes(94) == (29, 3)   # 204 -> 110
    assert s.recycle_sizes(15) == (5, 1)    # 32 -> 17
    assert s.recycle_sizes(1) == (1, 1)
    assert s.recycle_sizes(0) == (0, 0)
    assert SparseVLM(recycle_ratio=0.0).recycle_sizes(50) == (0, 0)
    assert SparseVLM(recycle_ratio=1.0).recycle_sizes(50) == (50, 6)  # capped at n_pruned


def test_layer_average_is_the_budget_name():
    """Hand-worked: 192 -> 576 x2, 309 x4, 204 x9, 113 x17 over 32 layers (released 'equal token num')."""
    s = SparseVLM()
    assert s.visual_counts(576, 192) == [309, 204, 113]
    assert s.visual_counts(576, 128) == [312, 117, 39]
    assert s.visual_counts(576, 96) == [249, 55, 27]
    assert s.visual_counts(576, 64) == [82, 32, 18]
    per = s.visual_per_layer(576, 32, 192)
    assert per == [576] * 3 + [309] * 4 + [204] * 9 + [113] * 16  # prune layer K still sees the unpruned count
    assert s.layer_average(576, 32, 192) == 6145 / 32  # 192.03
    assert s.layer_average(576, 32, 128) == (2 * 576 + 4 * 312 + 9 * 117 + 17 * 39) / 32  # 128.63
    assert s.layer_average(576, 32, 96) == (2 * 576 + 4 * 249 + 9 * 55 + 17 * 27) / 32  # 96.94
    assert s.layer_average(576, 32, 64) == (2 * 576 + 4 * 82 + 9 * 32 + 17 * 18) / 32  # 64.81
    with pytest.raises(ValueError, match="does not exist"):
        s.visual_per_layer(576, 4, 192)
    tiny = SparseVLM(layers=(0, 1, 2), schedule=(10, 5, 100))
    # 20 -> 10 kept + 1 cluster (10 pruned, 4 recycled); 11 -> 5 + 1 (6 pruned, 2 recycled); k=100 >= 6 keeps all
    assert tiny.visual_per_layer(20, 4, 0) == [20, 11, 6, 6]


# ---- raters ------------------------------------------------------------------------------------------
def test_raters_match_reference_on_random_shapes():
    g = torch.Generator().manual_seed(0)
    s = SparseVLM()
    for trial in range(30):
        B, N, D = 1 + trial % 4, int(torch.randint(2, 24, (1,), generator=g)), int(torch.randint(2, 12, (1,), generator=g))
        lens = [int(torch.randint(1, 10, (1,), generator=g)) for _ in range(B)]
        L = max(lens)
        text = torch.randn(B, L, D, generator=g)
        vis = torch.randn(B, N, D, generator=g)
        mask = torch.zeros(B, L, dtype=torch.bool)
        for b, n in enumerate(lens):  # right-aligned (left padding) in even trials, left-aligned in odd ones
            if trial % 2 == 0:
                mask[b, L - n:] = True
            else:
                mask[b, :n] = True
        text_pad = text.masked_fill(~mask[..., None], 1e4)  # padding content must not matter
        got = s.raters(text_pad, vis, mask)
        assert got.dtype == torch.bool and got.shape == (B, L)
        assert not bool((got & ~mask).any())
        for b in range(B):
            pos = mask[b].nonzero().flatten().tolist()
            want = ref_raters([text[b, p].tolist() for p in pos], vis[b].tolist())
            assert [pos[i] for i in want] == got[b].nonzero().flatten().tolist(), f"trial {trial} sample {b}"


def test_raters_single_text_token_falls_back_to_all_and_empty_text_fails():
    s = SparseVLM()
    r = s.raters(torch.randn(1, 3, 4), torch.randn(1, 5, 4), torch.tensor([[False, False, True]]))
    assert r.tolist() == [[False, False, True]]
    with pytest.raises(ValueError, match="at least one text token"):
        s.raters(torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.tensor([[True, True, True], [False] * 3]))


# ---- scores ------------------------------------------------------------------------------------------
def test_score_matches_reference_and_ignores_non_rater_rows():
    g = torch.Generator().manual_seed(1)
    s = SparseVLM()
    for trial in range(25):
        B, H, L, N = 1 + trial % 3, 1 + trial % 4, 1 + trial % 7, 3 + trial
        attn = torch.rand(B, H, L, N, generator=g).softmax(-1)
        raters = torch.rand(B, L, generator=g) > 0.5
        raters[:, 0] = True
        attn_garbage = attn.clone()
        attn_garbage[~raters[:, None, :, None].expand(B, H, L, N)] = float("nan")
        got = s.score(attn_garbage, raters)
        assert got.shape == (B, N) and got.dtype == torch.float32
        for b in range(B):
            want = ref_score(attn[b].tolist(), raters[b].nonzero().flatten().tolist())
            torch.testing.assert_close(got[b], torch.tensor(want), rtol=1e-5, atol=1e-7)


# ---- DPC-kNN -----------------------------------------------------------------------------------------
def test_dpc_knn_hand_worked_three_clusters():
    """1-D points (D=1, so d is |a-b|), k = 3 neighbours (self included), 3 clusters, shuffled input.

    mean squared kNN distance: A = {0: .0333, .1: .0167, .3: .0433, .6: .1133}, B = {10: .1333,
    10.2: .0667, 10.6: .0833, 10.9: .1933}, C = {20: .3233, 20.4: .1367, 20.9: .2033, 21.5: .5233}.
    Peaks 0.1 (densest: delta = d_max = 21.5, score 21.1), 10.2 (delta 9.9 to 0.3, score 9.3), 20.4
    (delta 9.8 to 10.6, score 8.5); every other point has delta <= 0.6. So the centers, in order, are
    0.1, 10.2, 20.4 and the clusters are A, B, C with means 0.25, 10.425, 20.7.
    """
    pts = [10.6, 0.3, 21.5, 10.0, 0.1, 20.4, 10.9, 0.0, 20.0, 10.2, 0.6, 20.9]
    x = torch.tensor(pts, dtype=torch.float64)[None, :, None].float()  # (1, 12, 1)
    assign = dpc_knn(x, 3, 3)[0].tolist()
    want = [1 if 9 < p < 11 else 0 if p < 1 else 2 for p in pts]
    assert assign == want
    assert assign == ref_dpc([[p] for p in pts], 3, 3)
    means = cluster_means(x, dpc_knn(x, 3, 3), 3)[0, :, 0]
    torch.testing.assert_close(means, torch.tensor([0.25, 10.425, 20.7]))


def test_dpc_knn_matches_reference_on_random_shapes():
    g = torch.Generator().manual_seed(2)
    for trial in range(40):
        B, n, D = 1 + trial % 3, int(torch.randint(1, 40, (1,), generator=g)), int(torch.randint(1, 9, (1,), generator=g))
        c, k = int(torch.randint(1, n + 2, (1,), generator=g)), int(torch.randint(1, n + 2, (1,), generator=g))
        x = torch.stack([clustered(n, D, g) if trial % 2 else torch.randn(n, D, generator=g) for _ in range(B)])  # (B, n, D)
        got = dpc_knn(x, c, k)
        assert got.shape == (B, n) and got.dtype == torch.int64
        assert int(got.min()) >= 0 and int(got.max()) < min(c, n)
        assert all(len(set(row)) == min(c, n) for row in got.tolist())  # every cluster has its center
        for b in range(B):
            assert got[b].tolist() == ref_dpc(x[b].tolist(), c, k), f"trial {trial} sample {b}"


def test_dpc_knn_far_apart_points_do_not_underflow():
    """Far-apart hidden states: exp(-mean d^2) is 0.0 in float32 but not in float64; the result must equal
    the float64 re-statement (released float16/32 code would see all-zero densities here)."""
    g = torch.Generator().manual_seed(3)
    centers = torch.randn(5, 4, generator=g) * 3
    x = (centers.repeat_interleave(6, 0) + 0.3 * torch.randn(30, 4, generator=g)) * 40  # 5 clusters of 6
    x = x[torch.randperm(30, generator=g)][None]  # (1, 30, 4)
    d2 = torch.cdist(x[0].double(), x[0].double()) ** 2 / 4
    mean_knn = d2.topk(3, largest=False).values.mean(-1)  # (30,)
    assert bool((torch.exp(-mean_knn.float()) == 0).any()), "precondition: float32 density underflows"
    assert bool((torch.exp(-mean_knn) > 0).all()), "precondition: float64 density does not"
    got = dpc_knn(x, 5, 3)[0].tolist()
    assert got == ref_dpc(x[0].double().tolist(), 5, 3)
    assert len(set(got)) == 5


# ---- prune (top-k + recycling) ----------------------------------------------------------------------
def test_prune_hand_worked():
    """scores = position: keep the 6 highest (14..19); pruned 14 -> int(4.2)+1 = 5 recycled (13..9), one cluster."""
    x = torch.randn(1, 20, 5, generator=torch.Generator().manual_seed(4))
    keep, rec = SparseVLM().prune(x, torch.arange(20.0)[None], 6)
    assert keep.tolist() == [[14, 15, 16, 17, 18, 19]]
    torch.testing.assert_close(rec, x[:, 9:14].mean(1, keepdim=True))
    new = SparseVLM.assemble(x, keep, rec)
    torch.testing.assert_close(new, torch.cat([x[:, 14:], x[:, 9:14].mean(1, keepdim=True)], 1))


def test_prune_matches_reference_on_random_shapes():
    g = torch.Generator().manual_seed(5)
    for trial in range(40):
        B, N, D = 1 + trial % 3, int(torch.randint(1, 70, (1,), generator=g)), int(torch.randint(1, 8, (1,), generator=g))
        k = int(torch.randint(1, N + 3, (1,), generator=g))
        ratio = [0.3, 0.3, 0.5, 0.0, 1.0][trial % 5]
        knn = None if trial % 3 else int(torch.randint(1, 6, (1,), generator=g))
        s = SparseVLM(recycle_ratio=ratio, knn=knn)
        x = torch.stack([clustered(N, D, g) for _ in range(B)])  # (B, N, D)
        scores = torch.rand(B, N, generator=g)
        if trial % 4 == 0:
            scores = (scores * 4).floor()  # many ties: position must break them
        keep, rec = s.prune(x, scores, k)
        assert keep.dtype == torch.int64 and keep.shape == (B, min(k, N))
        n_rec, c = s.recycle_sizes(N - k) if k < N else (0, 0)
        assert rec.shape == (B, c, D)
        for b in range(B):
            want_keep, want_rec = ref_prune(x[b].tolist(), scores[b].tolist(), k, ratio, knn)
            assert keep[b].tolist() == want_keep, f"trial {trial} sample {b}"
            if c:
                torch.testing.assert_close(rec[b], torch.tensor(want_rec, dtype=torch.float32), rtol=1e-5, atol=1e-5)


def test_prune_keeps_dtype_and_device():
    x = torch.randn(2, 40, 8).half()
    keep, rec = SparseVLM().prune(x, torch.rand(2, 40), 10)
    assert rec.dtype == torch.float16 and keep.device == x.device
    assert SparseVLM.assemble(x, keep, rec).shape == (2, 10 + 2, 8)  # 30 pruned -> 10 recycled -> 2 clusters


# ---- whole step: batched == per-sample, determinism --------------------------------------------------
def one_step(s, text, vis_emb, mask, attn, hidden, k):
    r = s.raters(text, vis_emb, mask)
    keep, rec = s.prune(hidden, s.score(attn, r), k)
    return r, keep, rec


def test_batched_equals_per_sample_and_deterministic():
    g = torch.Generator().manual_seed(6)
    s = SparseVLM()
    B, L, N, D, H = 4, 9, 50, 16, 4
    text, vis_emb = torch.randn(B, L, D, generator=g), torch.randn(B, N, D, generator=g)
    mask = torch.arange(L)[None] >= torch.tensor([0, 3, 5, 8])[:, None]  # left padding, 9/6/4/1 text tokens
    attn = torch.rand(B, H, L, N, generator=g).softmax(-1)
    hidden = torch.stack([clustered(N, D, g) for _ in range(B)])
    full = one_step(s, text, vis_emb, mask, attn, hidden, 20)
    again = one_step(s, text, vis_emb, mask, attn, hidden, 20)
    for a, b in zip(full, again):
        assert torch.equal(a, b)
    for b in range(B):
        keep_b = mask[b]
        one = one_step(s, text[b:b + 1, keep_b], vis_emb[b:b + 1], mask[b:b + 1, keep_b], attn[b:b + 1, :, keep_b],
                       hidden[b:b + 1], 20)
        assert one[0][0].tolist() == full[0][b, keep_b].tolist()
        assert torch.equal(one[1][0], full[1][b])
        torch.testing.assert_close(one[2][0], full[2][b], rtol=0, atol=1e-6)


def test_rows_after_image():
    idx, mask = rows_after_image(torch.tensor([3, 5, 7]), 8)
    assert idx.tolist() == [[3, 4, 5, 6, 7], [5, 6, 7, 7, 7], [7, 7, 7, 7, 7]]
    assert mask.tolist() == [[True] * 5, [True] * 3 + [False] * 2, [True] + [False] * 4]
