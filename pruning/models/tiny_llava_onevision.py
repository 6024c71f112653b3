"""Offline LLaVA-OneVision stand-in: a tiny random-weight LlavaOnevisionForConditionalGeneration with the real
vision geometry (SigLIP-so400m/14-384: 27 x 27 = 729 tokens per crop, the checkpoint's 36 image_grid_pinpoints,
anyres_max_9, vision_feature_layer -1, select strategy "full"), a Qwen2 text model with GQA, Qwen2's special
tokens and the llava-hf chat template, narrow widths. Built once into the cache dir (VISSWEEP_CACHE) with
save_pretrained + Parts.save_pretrained, then loaded through the same from_pretrained path as a real checkpoint
(Parts: tokenizer, LlavaOnevisionImageProcessorPil, chat template; the composite processor needs torchvision).

Build: python -c "from pruning.models.tiny_llava_onevision import tiny_onevision_dir; print(tiny_onevision_dir())"
"""
from __future__ import annotations

from pathlib import Path

from pruning.models.tiny import corpus
from pruning.models.tiny_cache import saved_config, saved_dir
from pruning.models.tiny_tokenizer import bpe_tokenizer

BUILD_VERSION = "v2"  # bump when the recipe below changes, so stale caches are rebuilt
NAME = "tiny-llava-onevision"
# the llava-hf OneVision chat template as transformers' LlavaOnevisionProcessor tests carry it (images first, then
# videos, then text; "<|im_start|>user <image>\nQ<|im_end|><|im_start|>assistant\n"); a real checkpoint brings its own
CHAT_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + ' '}}"
    "{# Render all images first #}{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>' }}{% endfor %}"
    "{# Render all video then #}{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}"
    "{{ '<video>' }}{% endfor %}"
    "{# Render all text next #}{% if message['role'] != 'assistant' %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ '\n' + content['text'] }}"
    "{% endfor %}{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{% generation %}{{ '\n' + content['text'] }}{% endgeneration %}{% endfor %}{% endif %}{{'<|im_end|>'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# Qwen2's special tokens as the OneVision checkpoints carry them (no BOS; EOS <|im_end|>, pad <|endoftext|>)
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>"]
SIGLIP_384 = dict(image_size=384, patch_size=14)  # 27 x 27 = 729 tokens per crop
TINY = dict(vision_width=64, vision_layers=2, vision_heads=4, vision_ffn=128, width=64, layers=3, heads=4,
            kv_heads=2, ffn=160, init_range=0.2)


def build_tokenizer():
    """A deterministic byte-level BPE with Qwen2's special tokens, wrapped as a transformers fast tokenizer."""
    return bpe_tokenizer(corpus() + ["user", "assistant", "system", " user\n", "assistant\n"], SPECIAL,
                         eos="<|im_end|>", pad="<|endoftext|>", model_max_length=32768)


def build_image_processor():
    from transformers import LlavaOnevisionImageProcessorPil

    return LlavaOnevisionImageProcessorPil()  # its defaults are the checkpoints': 384, CLIP mean/std, 36 pinpoints


def onevision_config(tokenizer, *, vision_width: int, vision_layers: int, vision_heads: int, vision_ffn: int,
                     width: int, layers: int, heads: int, kv_heads: int, ffn: int, vocab_size: int | None = None,
                     init_range: float = 0.02):
    """A LlavaOnevisionConfig with SigLIP-so400m/14-384 geometry and the given widths (Qwen2 text with GQA)."""
    from transformers import LlavaOnevisionConfig, Qwen2Config, SiglipVisionConfig

    vision = SiglipVisionConfig(hidden_size=vision_width, intermediate_size=vision_ffn,
                                num_hidden_layers=vision_layers, num_attention_heads=vision_heads,
                                vision_use_head=False, **SIGLIP_384)
    text = Qwen2Config(hidden_size=width, intermediate_size=ffn, num_hidden_layers=layers, num_attention_heads=heads,
                       num_key_value_heads=kv_heads, vocab_size=vocab_size or len(tokenizer),
                       max_position_embeddings=32768, rope_theta=1000000.0, rms_norm_eps=1e-6,
                       bos_token_id=None, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                       initializer_range=init_range, tie_word_embeddings=False)
    cfg = LlavaOnevisionConfig(vision_config=vision, text_config=text,
                               image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
                               video_token_index=tokenizer.convert_tokens_to_ids("<video>"),
                               vision_feature_layer=-1, vision_feature_select_strategy="full",
                               vision_aspect_ratio="anyres_max_9", tie_word_embeddings=False)
    cfg.vision_config.initializer_range = init_range
    return cfg


def build_tiny_onevision(seed: int = 0):
    """(model, Parts): 2-layer SigLIP (width 64) + 3-layer Qwen2 (width 64, 4 heads, 2 KV heads), random fp32
    (3 decoder layers: the least FastV K = 2 runs on)."""
    import torch
    from transformers import LlavaOnevisionForConditionalGeneration

    from pruning.models.parts import Parts

    tokenizer = build_tokenizer()
    config = onevision_config(tokenizer, **TINY)
    torch.manual_seed(seed)
    model = LlavaOnevisionForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, Parts(tokenizer, build_image_processor(), CHAT_TEMPLATE)


def tiny_onevision_dir(root: Path | None = None) -> Path:
    """Path of the saved tiny model, built on first use (tiny_cache.saved_dir: private temp dir renamed into place)."""
    return saved_dir(NAME, BUILD_VERSION, build_tiny_onevision, root)


def load_tiny_onevision(device=None, dtype=None, attn_implementation: str = "sdpa") -> Path:
    """load_vlm loader: the saved tiny model's directory (loaded with from_pretrained like any checkpoint)."""
    return tiny_onevision_dir()


def config_tiny_onevision():
    """The tiny model's LlavaOnevisionConfig without building weights (its saved config once built, else the recipe)."""
    return saved_config(NAME, BUILD_VERSION, lambda: onevision_config(build_tokenizer(), **TINY))
