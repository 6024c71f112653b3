"""FastV's ranking step: per-sample top attention (not batch element 0's), kept counts, clear errors."""
import pytest
import torch

from pruning.registry import get_strategy
from pruning.strategies.fastv import FastV
from pruning.types import VisionTokens


def reference_batch0(attn_heads: torch.Tensor, keep: int) -> list[list[int]]:
    """The released ranking: mean over heads then [0] -> every sample gets sample 0's top tokens."""
    avg = torch.mean(attn_heads, dim=1)[0]  # (N_img,) of batch element 0
    top = avg.topk(keep).indices.sort().values.tolist()
    return [top for _ in range(attn_heads.shape[0])]


def plain_topk(attn: torch.Tensor, keep: int) -> list[list[int]]:
    out = []
    for row in attn.tolist():
        order = sorted(range(len(row)), key=lambda i: -row[i])
        out.append(sorted(order[:keep]))
    return out


@pytest.mark.parametrize("B, N, T, seed", [(1, 576, 144, 0), (4, 576, 288, 1), (3, 576, 29, 2), (5, 100, 7, 3), (2, 16, 16, 4)])
def test_per_sample_top_t(B, N, T, seed):
    g = torch.Generator().manual_seed(seed)
    heads = torch.rand(B, 32, N, generator=g)  # last prompt token's attention to image tokens, per head
    attn = heads.mean(dim=1)  # (B, N): already reduced over heads, as the adapter passes it
    sel = FastV().select_from_attention(attn, T)
    assert sel.indices.dtype == torch.int64 and sel.indices.shape == (B, min(T, N))
    assert sel.indices.tolist() == plain_topk(attn, T)
    # batched == per-sample
    for b in range(B):
        assert torch.equal(FastV().select_from_attention(attn[b:b + 1], T).indices[0], sel.indices[b])
    if B > 1 and T < N:
        # the reference's [0] indexing would hand every sample sample 0's tokens: we do not
        assert sel.indices.tolist() != reference_batch0(heads, T)
        assert sel.indices[0].tolist() == reference_batch0(heads, T)[0]


def test_keep_count_ratio_budget_and_default():
    assert FastV(ratio=0.5).keep_count(576) == 288
    assert FastV(ratio=0.75).keep_count(576) == 144
    assert FastV(ratio=0.9).keep_count(576) == 58  # round(57.6)
    assert FastV(ratio=0.5).keep_count(576, budget=64) == 64  # an absolute T wins
    assert FastV().keep_count(576, budget=1000) == 576
    assert FastV().keep_count(576) == 576  # neither: keep all
    attn = torch.rand(2, 576)
    assert FastV(ratio=0.75).select_from_attention(attn).indices.shape == (2, 144)


def test_ties_break_by_position():
    sel = FastV().select_from_attention(torch.tensor([[0.1, 0.5, 0.5, 0.5, 0.2]]), 2)
    assert sel.indices.tolist() == [[1, 2]]


def test_select_without_decoder_attention_explains_itself():
    tokens = VisionTokens(features=torch.randn(1, 16, 4), attention=torch.rand(1, 16))
    with pytest.raises(ValueError, match="decoder-stage strategy.*model adapter"):
        FastV().select(tokens, 4)
    attn = torch.rand(1, 16)
    tokens.extra["decoder_attention"] = attn
    assert torch.equal(FastV().select(tokens, 4).indices, FastV().select_from_attention(attn, 4).indices)


def test_validation_and_registry():
    assert FastV.stage == "decoder"
    assert get_strategy("fastv", layer=3, ratio=0.5) == FastV(layer=3, ratio=0.5)
    with pytest.raises(ValueError, match="layer K must be an integer >= 1"):
        FastV(layer=0)
    with pytest.raises(ValueError, match=r"must be in \[0, 1\]"):
        FastV(ratio=-0.1)
    with pytest.raises(ValueError, match="must be < 1"):
        FastV(ratio=1.0)
    with pytest.raises(ValueError, match="budget T must be an integer >= 1"):
        FastV().select_from_attention(torch.rand(1, 8), 0)
    with pytest.raises(ValueError, match=r"\(B, N_img\)"):
        FastV().select_from_attention(torch.rand(1, 2, 8), 4)


@pytest.mark.parametrize("B, N, T", [(1, 576, 144), (4, 576, 64), (3, 49, 10), (2, 16, 1), (5, 100, 99)])
def test_shared_properties_with_decoder_attention(B, N, T):
    from tests.pruning.strategy_properties import check_selection_properties

    g = torch.Generator().manual_seed(B * N + T)
    tokens = VisionTokens(features=torch.randn(B, N, 4, generator=g), attention=torch.rand(B, N, generator=g),
                          extra={"decoder_attention": torch.rand(B, N, generator=g)})
    check_selection_properties(FastV(), tokens, T)
