"""load_vlm: aliases, local saved paths, clear errors; the tiny build is deterministic and concurrency-safe;
generate/encode reject bad images and plans with clear messages."""
import io
import threading

import pytest
import torch
from PIL import Image

from pruning import PrunePlan
from pruning.models import MODELS, load_vlm
from pruning.models.llava import Llava
from pruning.models.tiny import build_tokenizer, tiny_llava_dir
from tests.pruning.models.images import QUESTIONS, make_images


def test_local_saved_path_loads_and_matches(vlm, vision, tmp_path):
    vlm.model.save_pretrained(tmp_path / "m")
    vlm.processor.save_pretrained(tmp_path / "m")
    other = load_vlm(str(tmp_path / "m"), device="cpu")
    assert isinstance(other, Llava) and other.num_visual_tokens == 576 and other.text_config.num_hidden_layers == 8
    plan = PrunePlan("vispruner", 32, {"ratio": 0.5})
    a = vlm.generate(QUESTIONS[:2], plan, vision=vision.take([0, 1]), max_new_tokens=4)
    b = other.generate(QUESTIONS[:2], plan, vision=other.encode(make_images(2)), max_new_tokens=4)
    assert [o.text for o in a] == [o.text for o in b]


def test_unknown_model_name_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown model 'tiny-lava'.*did you mean 'tiny-llava'"):
        load_vlm("tiny-lava")
    with pytest.raises(OSError, match="could not load model 'nobody-vissweep/no-such-model'.*HF_HUB_OFFLINE"):
        load_vlm("nobody-vissweep/no-such-model")  # a plausible hub id, offline (tests/conftest.py) and not cached
    with pytest.raises(ValueError, match="eager"):
        load_vlm("tiny-llava", attn_implementation="eager")
    assert "tiny-llava" in MODELS


def test_tiny_build_is_deterministic_and_concurrency_safe(tmp_path):
    t1, t2 = build_tokenizer(), build_tokenizer()
    assert t1.get_vocab() == t2.get_vocab()
    for word in ["yes", "no", "red", "blue", "3", "USER", "ASSISTANT"]:
        assert len(t1(word, add_special_tokens=False)["input_ids"]) == 1, word
    results, errors = [], []

    def build():
        try:
            results.append(tiny_llava_dir(tmp_path))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 1 and (results[0] / "config.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == [results[0].name]  # no temp dirs left behind


def test_adapter_surface(vlm):
    assert vlm.name == "tiny-llava" and vlm.num_visual_tokens == 576
    assert vlm.supports == frozenset({"encoder", "decoder"})
    assert vlm.supports_strategy("vispruner") and vlm.supports_strategy("fastv")
    assert not vlm.supports_strategy("no-such-strategy")


def test_bad_images_are_clear_errors(vlm):
    good = make_images(1)[0]
    with pytest.raises(TypeError, match="image 1 is NoneType"):
        vlm.encode([good, None])
    with pytest.raises(TypeError, match="image 0 is str"):
        vlm.encode(["cat.jpg"])
    with pytest.raises(TypeError, match="single image"):
        vlm.encode(good)
    buf = io.BytesIO()
    good.save(buf, format="PNG")
    corrupt = Image.open(io.BytesIO(buf.getvalue()[:200]))  # header fine, data truncated
    with pytest.raises(ValueError, match="image 0 could not be decoded"):
        vlm.encode([corrupt])


def test_bad_plans_are_clear_errors(vlm, vision):
    v1 = vision.take([0])
    with pytest.raises(KeyError, match="unknown strategy 'vispruned'.*vispruner"):
        vlm.generate(QUESTIONS[:1], PrunePlan("vispruned", 64), vision=v1)
    with pytest.raises(ValueError, match="budget T=600 exceeds the 576 visual tokens"):
        vlm.generate(QUESTIONS[:1], PrunePlan("vispruner", 600), vision=v1)
    with pytest.raises(ValueError, match="2 prompts but vision holds 1"):
        vlm.generate(QUESTIONS[:2], PrunePlan("keep_all"), vision=v1)
    with pytest.raises(ValueError, match="vision= .* or images="):
        vlm.generate(QUESTIONS[:1], PrunePlan("keep_all"))
    with pytest.raises(ValueError, match="more than one image"):
        vlm.generate(["<image> again?"], PrunePlan("keep_all"), vision=v1)

    with pytest.raises(ValueError, match="layer K=8 does not exist in a 8-layer decoder"):
        vlm.generate(QUESTIONS[:1], PrunePlan("fastv", 64, {"layer": 8}), vision=v1)
    with pytest.raises(ValueError, match=r"SparseVLM: prune layers \(2, 6, 15\) need a decoder deeper"):
        vlm.generate(QUESTIONS[:1], PrunePlan("sparsevlm", 64), vision=v1)

    class EncoderOnly(Llava):
        supports = frozenset({"encoder"})

    enc_only = EncoderOnly(vlm.model, vlm.processor, "encoder-only")
    assert not enc_only.supports_strategy("fastv") and enc_only.supports_strategy("vispruner")
    with pytest.raises(ValueError, match="'fastv' \\(decoder stage\\) is not supported"):
        enc_only.generate(QUESTIONS[:1], PrunePlan("fastv", 64), vision=v1)


def test_outputs_fill_every_field(vlm, vision):
    out = vlm.generate(QUESTIONS[:1], PrunePlan("fastv", 144), vision=vision.take([0]), max_new_tokens=3)[0]
    from pruning.accounting import kv_cache_bytes, prefill_flops

    assert out.n_visual_in == 576 and out.n_visual_kept == 144 and out.n_text > 0 and out.error is None
    assert out.flops == prefill_flops(vlm.text_config, 576, out.n_text, prune_layer=2, n_visual_after=144)
    assert out.kv_bytes == kv_cache_bytes(vlm.text_config, 576, 4, prune_layer=2, n_visual_after=144)
    assert all(out.timings[k] >= 0 for k in ("vision", "select", "prefill", "decode"))
    assert isinstance(out.text, str) and out.peak_mem_bytes is None   # CPU fixture: no CUDA peak memory


def test_7b_shaped_model_has_llava15_7b_shapes():
    """The benchmark's 7B-shaped model (built on the meta device here: no memory, no download)."""
    from pruning.models.tiny import build_llava7b_shaped

    model, processor = build_llava7b_shaped(device="meta", dtype=torch.float16)
    n = sum(p.numel() for p in model.parameters())
    assert 7.0e9 < n < 7.1e9  # LLaVA-1.5-7B: 7.06B parameters
    adapter = Llava(model, processor, "7b-shaped")
    tc = adapter.text_config
    assert (tc.hidden_size, tc.intermediate_size, tc.num_hidden_layers) == (4096, 11008, 32)
    assert adapter.num_visual_tokens == 576 and model.config.vision_config.num_hidden_layers == 24
