"""VLM adapters: load_vlm(name_or_path) -> an adapter with encode(media) and generate(prompts, plan, vision=...).

The family table (families.py) is keyed by config.model_type: it names each family's transformers class,
adapter, supported strategies and media, and reads its spec (N, depth, heads, KV heads) from the config.
Static tables, lazy imports: importing this package imports neither transformers nor torch models.
"""
from __future__ import annotations

from pruning.models.families import FAMILIES, Family, ModelSpec, model_config, model_spec

# alias -> "module:function". A loader returns a local path / hub id (loaded with from_pretrained) or,
# for models built in memory, a (model, processor) pair; it is called with device, dtype, attn_implementation.
MODELS: dict[str, str] = {
    "tiny-llava": "pruning.models.tiny:load_tiny_llava",
    "tiny-llava-shapes": "pruning.models.tiny_shapes:load_tiny_llava_shapes",  # trained on `shapes`
    "7b-shaped": "pruning.models.tiny:load_llava7b_shaped",
    "llava-1.5-7b-shaped": "pruning.models.tiny:load_llava7b_shaped",
    "tiny-llava-next": "pruning.models.tiny_llava_next:load_tiny_llava_next",
    "tiny-video-llava": "pruning.models.tiny_video_llava:load_tiny_video_llava",
    "video-llava-7b-shaped": "pruning.models.tiny_video_llava:load_video_llava7b_shaped",
    "tiny-qwen2.5-vl": "pruning.models.tiny_qwen2_5_vl:load_tiny_qwen",
    "qwen2.5-vl-7b-shaped": "pruning.models.tiny_qwen2_5_vl:load_qwen7b_shaped",
    "tiny-llava-onevision": "pruning.models.tiny_llava_onevision:load_tiny_onevision",
}
# alias -> "module:function" returning the alias's transformers config without building weights
ALIAS_CONFIGS: dict[str, str] = {
    "tiny-llava": "pruning.models.tiny:config_tiny_llava",
    "tiny-llava-shapes": "pruning.models.tiny_shapes:config_tiny_llava_shapes",
    "7b-shaped": "pruning.models.tiny:config_llava7b_shaped",
    "llava-1.5-7b-shaped": "pruning.models.tiny:config_llava7b_shaped",
    "tiny-llava-next": "pruning.models.tiny_llava_next:config_tiny_llava_next",
    "tiny-video-llava": "pruning.models.tiny_video_llava:config_tiny_video_llava",
    "video-llava-7b-shaped": "pruning.models.tiny_video_llava:config_video_llava7b_shaped",
    "tiny-qwen2.5-vl": "pruning.models.tiny_qwen2_5_vl:config_tiny_qwen",
    "qwen2.5-vl-7b-shaped": "pruning.models.tiny_qwen2_5_vl:config_qwen7b_shaped",
    "tiny-llava-onevision": "pruning.models.tiny_llava_onevision:config_tiny_onevision",
}
HUB_ALIASES: dict[str, str] = {
    "llava-1.5-7b": "llava-hf/llava-1.5-7b-hf",
    "llava-1.5-13b": "llava-hf/llava-1.5-13b-hf",
    "llava-next-7b": "llava-hf/llava-v1.6-vicuna-7b-hf",
    "llava-next-mistral-7b": "llava-hf/llava-v1.6-mistral-7b-hf",
    "video-llava-7b": "LanguageBind/Video-LLaVA-7B-hf",
    "qwen2.5-vl-7b": "Qwen/Qwen2.5-VL-7B-Instruct",
    "qwen2.5-vl-3b": "Qwen/Qwen2.5-VL-3B-Instruct",
    "llava-onevision-7b": "llava-hf/llava-onevision-qwen2-7b-ov-hf",
    "llava-onevision-0.5b": "llava-hf/llava-onevision-qwen2-0.5b-ov-hf",
}


def load_vlm(name_or_path, device=None, dtype=None, attn_implementation: str | None = None):
    """An adapter for a known alias (MODELS, HUB_ALIASES), a local directory, or a hub id."""
    from pruning.models.loading import load_vlm as load

    return load(name_or_path, device=device, dtype=dtype, attn_implementation=attn_implementation)


__all__ = ["load_vlm", "MODELS", "ALIAS_CONFIGS", "HUB_ALIASES", "FAMILIES", "Family", "ModelSpec", "model_config",
           "model_spec"]
