"""encode(): the projector-input features and the [CLS] attention signals against HF's eager attention."""
import torch
from transformers import LlavaForConditionalGeneration

from tests.pruning.models.images import make_images


def test_encode_matches_eager_reference(vlm, tiny_dir, images):
    vis = vlm.encode(images)
    eager = LlavaForConditionalGeneration.from_pretrained(tiny_dir, attn_implementation="eager").eval()
    tower = eager.model.vision_tower
    last = tower.encoder.layers[-1].self_attn
    grabbed = {}
    hooks = [last.q_proj.register_forward_hook(lambda m, i, o: grabbed.__setitem__("q", o)),
             last.k_proj.register_forward_hook(lambda m, i, o: grabbed.__setitem__("k", o)),
             tower.encoder.layers[-2].self_attn.k_proj.register_forward_hook(lambda m, i, o: grabbed.__setitem__("k2", o))]
    px = vlm.processor.image_processor(images=images, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        ref = tower(px, output_hidden_states=True, output_attentions=True)
        proj = eager.model.get_image_features(pixel_values=px).pooler_output
    for h in hooks:
        h.remove()
    B, N = 3, 576
    # features: hidden_states[-2] without CLS; attention: the same layer's CLS row, patch columns, mean over heads
    torch.testing.assert_close(vis.features, ref.hidden_states[-2][:, 1:], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(vis.cls, ref.hidden_states[-2][:, 0], atol=1e-5, rtol=1e-5)
    attn = ref.attentions[-2][:, :, 0, 1:].mean(1)  # (B, N) eager layer 22-of-24 analogue
    torch.testing.assert_close(vis.attention, attn, atol=1e-5, rtol=1e-4)
    assert vis.attention.shape == (B, N) and vis.grid == (24, 24)
    assert vis.extra["num_heads"] == 4
    # keys: that layer's k_proj output, patches, averaged over heads
    k2 = grabbed["k2"].view(B, N + 1, 4, 16)[:, 1:].mean(2)
    torch.testing.assert_close(vis.keys, k2, atol=1e-5, rtol=1e-5)
    # PruMerge+: single-head softmax(q_cls k^T / sqrt(C)) of the LAST layer, patch columns; its full-width keys
    q, k = grabbed["q"], grabbed["k"]  # (B, N+1, C)
    a = torch.softmax(q[:, :1] @ k.transpose(1, 2) / 64**0.5, dim=-1)[:, 0, 1:]
    torch.testing.assert_close(vis.extra["last_attention"], a, atol=1e-6, rtol=1e-4)
    torch.testing.assert_close(vis.extra["last_keys"], k[:, 1:], atol=1e-5, rtol=1e-5)
    # DivPrune: projected = projector(features) as HF computes it
    torch.testing.assert_close(vis.extra["projected"], torch.stack(list(proj)), atol=1e-5, rtol=1e-5)


def test_attention_depends_on_image(vlm):
    a, b = vlm.encode(make_images(2, seed=1)).attention
    assert not torch.allclose(a, b)
    assert torch.allclose(a.sum(), torch.tensor(1.0), atol=0.05)  # patch share of a softmax row (CLS column left out)
