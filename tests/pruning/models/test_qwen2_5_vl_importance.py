"""Qwen2.5-VL importance (pruning/models/qwen_importance.py) against transformers' own eager attention.

The reference runs the same weights with attn_implementation="eager" and records the softmax weights that
transformers' eager_attention_forward computes inside the last full-attention block (one call per image);
attention received = mean over heads and queries, then the 2x2 merge groups (4 consecutive rows in window
order) are averaged and the window order undone as the tower undoes it for the merger (argsort).
"""
import pytest
import torch
from PIL import Image

from pruning.models import load_vlm
from pruning.models.qwen_importance import last_full_block, merged_importance, received_attention
from tests.pruning.models.images import make_images


@pytest.fixture(scope="module")
def qwen(tiny_dir):
    return load_vlm("tiny-qwen2.5-vl", device="cpu")


def test_merge_groups_are_averaged_and_the_window_order_undone_by_hand():
    received = torch.arange(8, dtype=torch.float32)  # window order: group 0 = rows 0..3, group 1 = rows 4..7
    window_index = torch.tensor([1, 0])  # window position 0 holds merged token 1 of the raster order
    assert merged_importance(received, window_index, 4).tolist() == [5.5, 1.5]


def test_last_full_block_is_the_largest_full_attention_index(qwen):
    visual = qwen.model.model.visual
    assert list(visual.fullatt_block_indexes) == [1, 3] and last_full_block(visual) == 3 == len(visual.blocks) - 1


def test_importance_matches_eager_attention_per_image(qwen, monkeypatch):
    from transformers import Qwen2_5_VLForConditionalGeneration
    from transformers.models.qwen2_5_vl import modeling_qwen2_5_vl as mq
    from transformers.vision_utils import get_vision_window_index

    # sizes whose merged grids (6x9, 7x8, 4x8) are not multiples of the 4x4-token window: padded windows
    images = make_images(2, seed=3) + [Image.new("RGB", (230, 120), (200, 30, 30))]
    vis = qwen.encode(images)
    assert [lay.grid_thw for lay in vis.layouts] == [(1, 12, 18), (1, 14, 16), (1, 8, 16)]

    eager = Qwen2_5_VLForConditionalGeneration.from_pretrained(str(qwen_dir(qwen)), attn_implementation="eager").eval()
    target = eager.model.visual.blocks[last_full_block(eager.model.visual)].attn
    seen = []
    real = mq.eager_attention_forward

    def recording(module, *args, **kwargs):
        out, weights = real(module, *args, **kwargs)
        if module is target:
            seen.append(weights.detach())  # (1, H, n_i, n_i), one call per image
        return out, weights

    monkeypatch.setattr(mq, "eager_attention_forward", recording)
    inputs = qwen.image_processor(images=images, return_tensors="pt")
    with torch.no_grad():
        eager.model.visual(inputs["pixel_values"], grid_thw=inputs["image_grid_thw"])
    assert [w.shape[-1] for w in seen] == [4 * n for n in vis.counts]
    received = torch.cat([w[0].double().mean(dim=(0, 1)) for w in seen])  # (S,) window order
    window_index, _ = get_vision_window_index(inputs["image_grid_thw"], 2, 112, 14)
    assert not torch.equal(window_index, torch.arange(window_index.numel()))  # the order really is permuted
    ref = received.view(-1, 4).mean(1)[torch.argsort(window_index)]  # (sum N,) raster order
    ours = torch.cat([vis.attention[b, :n] for b, n in enumerate(vis.counts)])
    assert torch.allclose(ours.double(), ref, atol=1e-6, rtol=1e-5)
    for b, n in enumerate(vis.counts):  # a distribution over each image's patches, averaged over groups of 4
        assert abs(float(vis.attention[b, :n].sum()) * 4 - 1) < 1e-5
        assert bool((vis.attention[b, n:] == 0).all())  # right padding past N


def test_chunked_queries_equal_one_block(qwen):
    visual = qwen.model.model.visual
    block = visual.blocks[last_full_block(visual)]
    S, C = 2 * 72, visual.config.hidden_size
    torch.manual_seed(0)
    hidden = torch.randn(S, C)
    cos, sin = torch.randn(S, C // visual.config.num_heads).cos(), torch.randn(S, C // visual.config.num_heads).sin()
    cu = torch.tensor([0, 72, S], dtype=torch.int32)
    whole = received_attention(block, hidden, cu, (cos, sin), chunk=10_000)
    assert torch.allclose(received_attention(block, hidden, cu, (cos, sin), chunk=5), whole, atol=1e-6)
    assert torch.allclose(whole[:72].sum(), torch.tensor(1.0)) and torch.allclose(whole[72:].sum(), torch.tensor(1.0))


def test_merged_tokens_are_transformers_image_features(qwen):
    images = make_images(2, seed=3)
    vis = qwen.encode(images)
    inputs = qwen.image_processor(images=images, return_tensors="pt")
    with torch.no_grad():
        ref = qwen.model.model.get_image_features(inputs["pixel_values"], inputs["image_grid_thw"]).pooler_output
    for b, r in enumerate(ref):
        assert torch.allclose(vis.projected[b, :vis.counts[b]], r, atol=1e-6)
    assert vis.features is vis.projected  # duplicate removal and every similarity see the merged LLM-input tokens


def qwen_dir(vlm):
    from pruning.models.tiny_qwen2_5_vl import tiny_qwen_dir

    return tiny_qwen_dir()
