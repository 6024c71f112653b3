"""The no-[CLS] importance signal and features of a SigLIP tower (LLaVA-OneVision), against transformers' own
eager attention weights and hidden states."""
import pytest
import torch

from pruning.models.siglip_attention import encode_siglip, received_attention


def siglip(attn: str, dtype=torch.float64, layers: int = 3):
    from transformers import SiglipVisionConfig, SiglipVisionModel

    torch.manual_seed(0)
    cfg = SiglipVisionConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=layers, num_attention_heads=4,
                             image_size=384, patch_size=14, vision_use_head=False, initializer_range=0.2)
    model = SiglipVisionModel._from_config(cfg, attn_implementation=attn, dtype=dtype).eval()
    with torch.no_grad():  # layer norms away from identity, so dropping post_layernorm is visible
        model.post_layernorm.weight.uniform_(0.5, 1.5)
        model.post_layernorm.bias.uniform_(-0.5, 0.5)
    return model


@pytest.fixture(scope="module")
def pixels():
    torch.manual_seed(1)
    return torch.randn(3, 3, 384, 384, dtype=torch.float64)  # (R, 3, 384, 384): three crops


def test_importance_is_the_attention_each_token_receives_in_the_last_layer(pixels):
    eager = siglip("eager")
    with torch.no_grad():
        ref = eager(pixels, output_attentions=True, output_hidden_states=True)
        sig = encode_siglip(eager, pixels)
    probs = ref.attentions[-1]  # (R, H, N, N): row i = query i's softmax over keys
    assert probs.shape == (3, 4, 729, 729)
    expected = probs.mean(dim=1).mean(dim=1)  # mean over heads, then over queries -> (R, N) per key
    assert sig["attention"].shape == (3, 729)
    torch.testing.assert_close(sig["attention"], expected, rtol=0, atol=1e-9)  # eager softmax runs in fp32
    # not the attention a token pays (mean over keys is 1/N everywhere) nor that of layer -2
    assert not torch.allclose(expected, ref.attentions[-2].mean(1).mean(1), atol=1e-4)
    assert sig["num_heads"] == 4


def test_features_are_the_last_layer_without_post_layernorm(pixels):
    model = siglip("sdpa")
    with torch.no_grad():
        ref = model(pixels, output_hidden_states=True)
        sig = encode_siglip(model, pixels)
    assert len(ref.hidden_states) == 4  # embeddings + 3 layers
    torch.testing.assert_close(sig["features"], ref.hidden_states[-1], rtol=0, atol=0)
    assert not torch.allclose(sig["features"], ref.last_hidden_state, atol=1e-3)  # post_layernorm is not applied
    torch.testing.assert_close(model.post_layernorm(sig["features"]), ref.last_hidden_state, rtol=0, atol=1e-12)


def test_sdpa_and_eager_towers_give_the_same_signal(pixels):
    """The tower keeps sdpa: the signal is recomputed from q/k, not read from attention weights."""
    with torch.no_grad():
        a = encode_siglip(siglip("sdpa"), pixels)["attention"]
        b = encode_siglip(siglip("eager"), pixels)["attention"]
    torch.testing.assert_close(a, b, rtol=0, atol=1e-9)  # earlier layers differ: eager softmax runs in fp32


def test_received_attention_by_hand_and_independent_of_the_query_chunk():
    """One head, C = 2, identity q/k: layer_norm1 maps every token to +-[1, -1], so logits are +-2/sqrt(2)."""
    from transformers import SiglipVisionConfig
    from transformers.models.siglip.modeling_siglip import SiglipEncoderLayer

    layer = SiglipEncoderLayer(SiglipVisionConfig(hidden_size=2, intermediate_size=4, num_attention_heads=1)).double()
    with torch.no_grad():
        for lin in (layer.self_attn.q_proj, layer.self_attn.k_proj):
            lin.weight.copy_(torch.eye(2))
            lin.bias.zero_()
    x = torch.tensor([[[3.0, 1.0], [5.0, 2.0], [0.0, 4.0]]], dtype=torch.float64)  # -> [1,-1], [1,-1], [-1,1]
    e = 2.718281828459045 ** (2 ** 0.5)  # exp(logit) for a same-sign pair; 1/e for an opposite pair
    q01 = [e / (2 * e + 1 / e), e / (2 * e + 1 / e), (1 / e) / (2 * e + 1 / e)]  # rows of queries 0 and 1
    q2 = [(1 / e) / (2 / e + e), (1 / e) / (2 / e + e), e / (2 / e + e)]  # row of query 2
    expected = torch.tensor([[(2 * q01[j] + q2[j]) / 3 for j in range(3)]], dtype=torch.float64)
    torch.testing.assert_close(received_attention(layer, x), expected, rtol=0, atol=1e-5)
    assert expected[0, 2] < expected[0, 0]  # the odd one out receives less
    # chunking the queries changes nothing, and the mean attention received sums to 1 over the keys
    torch.manual_seed(3)
    y = torch.randn(2, 7, 2, dtype=torch.float64)
    whole, chunked = received_attention(layer, y, query_chunk=7), received_attention(layer, y, query_chunk=2)
    torch.testing.assert_close(whole, chunked, rtol=0, atol=1e-15)
    torch.testing.assert_close(whole.sum(-1), torch.ones(2, dtype=torch.float64), rtol=0, atol=1e-12)
