"""Offline Qwen2.5-VL stand-in: a tiny random-weight Qwen2_5_VLForConditionalGeneration from the real config
class with Qwen2.5-VL's vision geometry (patch 14, temporal patch 2, 2x2 merger, window 112, a full-attention
block every other block: [1, 3] of 4, as [7, 15, 23, 31] of 32), its special tokens, its chat template and a
GQA text model (4 heads, 2 KV heads), narrow widths. Built once into the cache dir (VISSWEEP_CACHE) with
save_pretrained + Parts.save_pretrained, then loaded through the same from_pretrained path as a checkpoint.

Build: python -c "from pruning.models.tiny_qwen2_5_vl import tiny_qwen_dir; print(tiny_qwen_dir())"
"""
from __future__ import annotations

from pathlib import Path

from pruning.models.tiny import corpus
from pruning.models.tiny_cache import saved_config, saved_dir
from pruning.models.tiny_tokenizer import bpe_tokenizer

BUILD_VERSION = "v1"  # bump when the recipe changes, so stale caches are rebuilt
NAME = "tiny-qwen2.5-vl"
# Qwen2.5-VL-7B-Instruct's chat_template.json (the default system turn, <|vision_start|><|image_pad|><|vision_end|>)
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "<|im_end|>\n{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in "
    "content or 'image_url' in content %}{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}"
    "Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] "
    "== 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}"
    "Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content %}"
    "{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}"
    "<|im_start|>assistant\n{% endif %}"
)
# Qwen2's special tokens, in the checkpoint's order (151643.. there; 0.. here)
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
           "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
           "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]
MERGED = 28 * 28  # pixels per merged (LLM) token: 2x2 patches of 14x14
# small pixel range so tests are fast: 16..64 merged tokens per image (the checkpoint: 4..16384)
MIN_PIXELS, MAX_PIXELS = 16 * MERGED, 64 * MERGED
TINY = dict(vision_width=32, vision_depth=4, vision_heads=2, vision_ffn=64, fullatt=(1, 3), width=64, layers=4,
            heads=4, kv_heads=2, ffn=128, mrope_section=(2, 3, 3), init_range=0.1)


def build_tokenizer():
    """A deterministic byte-level BPE with Qwen2's special tokens (no BOS, like Qwen2), as a fast tokenizer."""
    return bpe_tokenizer(corpus() + ["system user assistant You are a helpful assistant."], SPECIAL,
                         eos="<|im_end|>", pad="<|endoftext|>", model_max_length=32768)


def build_image_processor(min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS):
    from transformers import Qwen2VLImageProcessorPil

    return Qwen2VLImageProcessorPil(size={"shortest_edge": min_pixels, "longest_edge": max_pixels}, patch_size=14,
                                    temporal_patch_size=2, merge_size=2,
                                    image_mean=[0.48145466, 0.4578275, 0.40821073],
                                    image_std=[0.26862954, 0.26130258, 0.27577711])


def qwen_config(tokenizer, *, vision_width, vision_depth, vision_heads, vision_ffn, fullatt, width, layers, heads,
                kv_heads, ffn, mrope_section, init_range=0.02, vocab_size=None):
    """A Qwen2_5_VLConfig with Qwen2.5-VL's vision geometry and the given widths (GQA: kv_heads < heads)."""
    from transformers import Qwen2_5_VLConfig

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL}
    vision = dict(depth=vision_depth, hidden_size=vision_width, intermediate_size=vision_ffn, num_heads=vision_heads,
                  out_hidden_size=width, patch_size=14, temporal_patch_size=2, spatial_merge_size=2, window_size=112,
                  fullatt_block_indexes=list(fullatt), tokens_per_second=2, hidden_act="silu",
                  initializer_range=init_range)
    text = dict(hidden_size=width, intermediate_size=ffn, num_hidden_layers=layers, num_attention_heads=heads,
                num_key_value_heads=kv_heads, vocab_size=vocab_size or len(tokenizer), max_position_embeddings=32768,
                rms_norm_eps=1e-6, use_sliding_window=False, initializer_range=init_range,
                rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": list(mrope_section)},
                bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"])
    return Qwen2_5_VLConfig(vision_config=vision, text_config=text, image_token_id=ids["<|image_pad|>"],
                            video_token_id=ids["<|video_pad|>"], vision_start_token_id=ids["<|vision_start|>"],
                            vision_end_token_id=ids["<|vision_end|>"], tie_word_embeddings=False)


def build_tiny_qwen(seed: int = 0):
    """(model, Parts): 4-block vision tower (width 32) + 4-layer GQA Qwen2 text model (width 64), fp32."""
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    from pruning.models.parts import Parts

    tokenizer = build_tokenizer()
    config = qwen_config(tokenizer, **TINY)
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    eos = [tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.convert_tokens_to_ids("<|endoftext|>")]
    model.generation_config.eos_token_id = eos  # as the checkpoint's generation_config.json
    model.generation_config.pad_token_id = eos[1]
    return model, Parts(tokenizer=tokenizer, image_processor=build_image_processor(), chat_template=CHAT_TEMPLATE)


def tiny_qwen_dir(root: Path | None = None) -> Path:
    """Path of the saved tiny model, built on first use (tiny_cache.saved_dir: private temp dir renamed into place)."""
    return saved_dir(NAME, BUILD_VERSION, build_tiny_qwen, root)


def load_tiny_qwen(device=None, dtype=None, attn_implementation: str = "sdpa") -> Path:
    """load_vlm loader: the saved tiny model's directory (loaded with from_pretrained like any checkpoint)."""
    return tiny_qwen_dir()


def config_tiny_qwen():
    """The tiny model's Qwen2_5_VLConfig without building weights (its saved config once built, else the recipe)."""
    return saved_config(NAME, BUILD_VERSION, lambda: qwen_config(build_tokenizer(), **TINY))


# Qwen2.5-VL-7B-Instruct's shapes (pinned.py): 32 x 1280 vision blocks, 28 x 3584 text layers, 28 heads / 4 KV heads
SHAPED_7B = dict(vision_width=1280, vision_depth=32, vision_heads=16, vision_ffn=3420, fullatt=(7, 15, 23, 31),
                 width=3584, layers=28, heads=28, kv_heads=4, ffn=18944, mrope_section=(16, 24, 24), vocab_size=152064)
SHAPED_PIXELS = 1024 * MERGED  # sweeps/configs/qwen25vl.yaml's range (min = max): N = 1036 for a 4:3 image


def build_qwen7b_shaped(device=None, dtype=None, attn_implementation: str = "sdpa"):
    """(model, Parts): Qwen2.5-VL-7B shapes with random weights, built straight on the device (nothing downloaded
    or saved; the tiny tokenizer's ids fit the 152064-row vocabulary). For latency / memory only."""
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    from pruning.models.parts import Parts

    tokenizer = build_tokenizer()
    config = qwen_config(tokenizer, **SHAPED_7B)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = dtype or (torch.bfloat16 if device.type == "cuda" else torch.float32)
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=dtype,
                                                                attn_implementation=attn_implementation)
    model.generation_config.eos_token_id = [tokenizer.convert_tokens_to_ids("<|im_end|>")]
    parts = Parts(tokenizer=tokenizer, image_processor=build_image_processor(SHAPED_PIXELS, SHAPED_PIXELS),
                  chat_template=CHAT_TEMPLATE)
    return model.eval(), parts


def load_qwen7b_shaped(device=None, dtype=None, attn_implementation: str = "sdpa"):
    """load_vlm loader: (model, Parts) of the 7B-shaped random model, built in memory on `device`."""
    return build_qwen7b_shaped(device=device, dtype=dtype, attn_implementation=attn_implementation)


def config_qwen7b_shaped():
    return qwen_config(build_tokenizer(), **SHAPED_7B)
