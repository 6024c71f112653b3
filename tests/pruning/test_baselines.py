"""Baselines keep_all / random / spatial: shared properties, uniformity, reproducibility, grid geometry."""
import random

import pytest
import torch
from scipy import stats

from pruning.registry import get_strategy
from pruning.strategies.keep_all import KeepAll
from pruning.strategies.random_select import RandomSelect, splitmix64
from pruning.strategies.spatial import Spatial, grid_indices
from pruning.types import VisionTokens
from tests.pruning.strategy_properties import check_selection_properties


def make_tokens(B, N, C=8, seed=0, grid=None, keys=None):
    g = torch.Generator().manual_seed(seed)
    extra = {} if keys is None else {"sample_keys": torch.as_tensor(keys, dtype=torch.int64)}
    return VisionTokens(features=torch.randn(B, N, C, generator=g), attention=torch.rand(B, N, generator=g),
                        grid=grid, extra=extra)


def shapes(n, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        H, W = rng.choice([(24, 24), (4, 4), (3, 7), (12, 5), (1, 9), (16, 16)])
        out.append((rng.randint(1, 4), H, W, rng.choice([1, 2, rng.randint(1, H * W), H * W - 1, H * W + 2])))
    return out


SHAPES = shapes(40, seed=1)


# ---- keep_all ---------------------------------------------------------------------------------

def test_keep_all_keeps_every_token_in_order():
    tokens = make_tokens(3, 576, grid=(24, 24))
    sel = KeepAll().select(tokens, None)
    assert torch.equal(sel.indices, torch.arange(576).expand(3, 576)) and sel.indices.dtype == torch.int64
    assert torch.equal(sel.gather(tokens.features), tokens.features)


@pytest.mark.parametrize("B, H, W, T", SHAPES[:10])
def test_keep_all_properties(B, H, W, T):
    check_selection_properties(KeepAll(), make_tokens(B, H * W, grid=(H, W)), T, expected_kept=H * W)


# ---- random -----------------------------------------------------------------------------------

def splitmix64_plain(x: int) -> int:
    """SplitMix64 finaliser on Python ints mod 2^64 (Steele, Lea, Flood 2014)."""
    M = (1 << 64) - 1
    z = (x + 0x9E3779B97F4A7C15) & M
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    return z ^ (z >> 31)


def test_splitmix64_matches_unsigned_reference():
    xs = [0, 1, 2, 12345, (1 << 63) - 1, -1, -(1 << 63), 0xDEADBEEF, -987654321]
    got = splitmix64(torch.tensor(xs, dtype=torch.int64)).tolist()
    assert [g & ((1 << 64) - 1) for g in got] == [splitmix64_plain(x & ((1 << 64) - 1)) for x in xs]
    assert splitmix64_plain(0) == 0xE220A8397B1DCDAF  # first output of SplitMix64 seeded with 0


@pytest.mark.parametrize("B, H, W, T", SHAPES)
def test_random_properties(B, H, W, T):
    tokens = make_tokens(B, H * W, grid=(H, W), keys=[101 * b + 7 for b in range(B)])
    check_selection_properties(RandomSelect(seed=3), tokens, T)


def test_random_is_uniform_chi_square():
    # 4000 samples (distinct keys), T=36 of N=144 each: inclusion counts per token should be flat
    N, T, S = 144, 36, 4000
    tokens = make_tokens(S, N, C=1, keys=list(range(S)))
    sel = RandomSelect(seed=0).select(tokens, T).indices
    counts = torch.bincount(sel.flatten(), minlength=N).double()
    expected = S * T / N
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    # inclusion indicators are negatively correlated within a draw (fixed T), which shrinks the
    # statistic by (N - T) / (N - 1); the plain chi-square bound is therefore conservative
    p = stats.chi2.sf(chi2 * (N - 1) / (N - T), df=N - 1)
    assert p > 1e-3, f"token inclusion is not uniform: chi2={chi2:.1f}, p={p:.2e}"
    # pairs: how often two adjacent tokens are kept together matches T(T-1)/(N(N-1))
    both = ((sel.unsqueeze(-1) == torch.arange(0, N, 2)).any(1) & (sel.unsqueeze(-1) == torch.arange(1, N, 2)).any(1)).double()
    assert float(both.mean()) == pytest.approx(T * (T - 1) / (N * (N - 1)), rel=0.1)
    # the smallest kept index j of a uniform T-subset: P(j) = prod_{i<j} (N-T-i)/(N-i) * T/(N-j)
    first = torch.bincount(sel[:, 0], minlength=N)[:6].double() / S
    exact = [torch.tensor([(N - T - i) / (N - i) for i in range(j)]).prod().item() * T / (N - j) for j in range(6)]
    assert torch.allclose(first, torch.tensor(exact, dtype=torch.float64), atol=0.02)


def test_random_reproducible_and_keyed_by_sample_not_row():
    tokens = make_tokens(4, 576, keys=[11, 22, 33, 44])
    a = RandomSelect(seed=5).select(tokens, 64).indices
    assert torch.equal(a, RandomSelect(seed=5).select(tokens, 64).indices)
    # the same sample id gives the same tokens whatever its row or batch-mates
    swapped = make_tokens(2, 576, keys=[44, 11])
    b = RandomSelect(seed=5).select(swapped, 64).indices
    assert torch.equal(b[0], a[3]) and torch.equal(b[1], a[0])
    # other seeds, other keys, other T give other draws
    assert not torch.equal(a, RandomSelect(seed=6).select(tokens, 64).indices)
    assert not torch.equal(a[0], a[1])
    c = RandomSelect(seed=5).select(tokens, 65).indices
    assert len(set(c[0].tolist()) & set(a[0].tolist())) < 40  # ~64*65/576 ~ 7 expected in common
    # content keys (the adapter's image hashes) stand in for sample ids, with the same draw for the same key
    t = make_tokens(2, 576)
    t.extra["content_keys"] = torch.tensor([44, 11])
    assert torch.equal(RandomSelect(seed=5).select(t, 64).indices, b)


def feature_key_plain(row: torch.Tensor) -> int:
    """feature_keys for one float32 sample, in Python ints: sum over i of mix(bits_i ^ mix(i)), then mix."""
    import struct

    M = (1 << 64) - 1
    vals = row.flatten().tolist()
    total = 0
    for i, v in enumerate(vals):
        bits = struct.unpack("<i", struct.pack("<f", v))[0] & M  # the int32 bit pattern, sign-extended to 64
        total = (total + splitmix64_plain(bits ^ splitmix64_plain(i))) & M
    key = splitmix64_plain(total)
    return key - (1 << 64) if key >= 1 << 63 else key


def test_random_without_keys_is_keyed_by_content_not_row():
    from pruning.strategies.random_select import feature_keys

    tokens = make_tokens(4, 36, C=4, seed=9)
    keys = feature_keys(tokens.features)
    assert keys.tolist() == [feature_key_plain(tokens.features[b]) for b in range(4)]
    s = RandomSelect(seed=5)
    batched = s.select(tokens, 9).indices
    for b in range(4):  # per sample, and at another batch position, the same draw
        assert torch.equal(s.select(tokens.take([b]), 9).indices[0], batched[b])
    perm = s.select(tokens.take([3, 1, 0, 2]), 9).indices
    assert torch.equal(perm, batched[[3, 1, 0, 2]])
    # identical content at two positions draws identically; different content differently
    twin = tokens.take([2, 2])
    assert torch.equal(s.select(twin, 9).indices[0], s.select(twin, 9).indices[1])
    assert len({tuple(r) for r in batched.tolist()}) == 4
    # one changed value changes the key (and the order of values matters, not only their multiset)
    changed = tokens.features[:1].clone()
    changed[0, 5, 1] += 1e-3
    assert feature_keys(changed)[0] != keys[0]
    assert feature_keys(tokens.features[:1].flip(1))[0] != keys[0]
    # an explicit sample key still wins over content
    keyed = make_tokens(1, 36, C=4, seed=9, keys=[123])
    assert torch.equal(s.select(keyed, 9).indices, s.select(make_tokens(1, 36, C=4, seed=1, keys=[123]), 9).indices)


def test_random_known_values_are_pinned():
    # Guards the cross-device/cross-version contract: sample 7, seed 0, T=4 of N=16 must not drift.
    tokens = make_tokens(1, 16, keys=[7])
    got = RandomSelect(seed=0).select(tokens, 4).indices[0].tolist()
    scores = []
    h = splitmix64_plain(0)
    h = splitmix64_plain(h ^ 7)
    h = splitmix64_plain(h ^ 4)
    for t in range(16):
        s = splitmix64_plain(h ^ t)
        scores.append(s - (1 << 64) if s >= 1 << 63 else s)  # compared as int64
    want = sorted(sorted(range(16), key=lambda t: -scores[t])[:4])
    assert got == want


def test_random_rejects_bad_keys_and_seed():
    with pytest.raises(ValueError, match="sample_keys"):
        RandomSelect().select(make_tokens(2, 16, keys=[1, 2, 3]), 4)
    with pytest.raises(ValueError, match="seed must be a 64-bit integer"):
        RandomSelect(seed=1.5)


# ---- spatial ----------------------------------------------------------------------------------

@pytest.mark.parametrize("B, H, W, T", SHAPES)
def test_spatial_grid_properties(B, H, W, T):
    check_selection_properties(Spatial(), make_tokens(B, H * W, grid=(H, W)), T)


@pytest.mark.parametrize("B, H, W, T", [s for s in SHAPES if min(s[1], s[2]) > 1])
def test_spatial_pool_properties(B, H, W, T):
    s = min(int(T**0.5), H, W)
    check_selection_properties(Spatial(mode="pool"), make_tokens(B, H * W, grid=(H, W)), T,
                               expected_kept=lambda t, n: n if t >= n else s * s)


def test_spatial_grid_64_is_the_8x8_lattice_of_cell_centres():
    sel = Spatial().select(make_tokens(2, 576, grid=(24, 24)), 64).indices
    want = sorted(r * 24 + c for r in range(1, 24, 3) for c in range(1, 24, 3))
    assert sel.tolist() == [want, want]


def test_spatial_grid_is_spread_evenly():
    for (H, W) in [(24, 24), (12, 30)]:
        for T in (32, 100, 128, 192, 300):
            idx = torch.tensor(grid_indices(H, W, T))
            rows, cols = idx // W, idx % W
            per_row = torch.bincount(rows, minlength=H)
            used = per_row[per_row > 0]
            assert int(used.max() - used.min()) <= 1  # tokens dealt evenly over the used rows
            used_rows = rows.unique()
            gaps = used_rows[1:] - used_rows[:-1]
            assert int(gaps.max() - gaps.min()) <= 1  # rows evenly spaced
            assert abs(rows.double().mean() - (H - 1) / 2) <= 1.0 and abs(cols.double().mean() - (W - 1) / 2) <= 1.0


def test_spatial_pool_averages_cells():
    tokens = make_tokens(2, 576, C=4, grid=(24, 24))
    sel = Spatial(mode="pool").select(tokens, 70)  # nearest s*s <= 70 is 8 x 8
    assert sel.num_kept == 64 and sel.tokens.shape == (2, 64, 4)
    grid = tokens.features.view(2, 24, 24, 4)
    cell = grid[:, 3:6, 9:12].mean(dim=(1, 2))  # cell (1, 3)
    torch.testing.assert_close(sel.tokens[:, 1 * 8 + 3], cell)
    assert sel.indices[0, 1 * 8 + 3].item() == 4 * 24 + 10
    # uneven bins (s = 11 on 24): the pooled tokens are still cell means
    sel = Spatial(mode="pool").select(tokens, 128)
    assert sel.num_kept == 121
    torch.testing.assert_close(sel.tokens[:, 0], grid[:, 0:3, 0:3].mean(dim=(1, 2)))
    torch.testing.assert_close(sel.gather(tokens.features), sel.tokens)


def test_spatial_validation():
    with pytest.raises(ValueError, match="did you mean 'pool'"):
        Spatial(mode="poll")
    with pytest.raises(ValueError, match="needs a 2-D patch grid"):
        Spatial(mode="pool").select(make_tokens(1, 10), 4)
    assert Spatial().select(make_tokens(1, 10), 5).indices.tolist() == [[1, 3, 5, 7, 9]]  # 1-D fallback
    assert get_strategy("spatial", mode="pool") == Spatial(mode="pool")
