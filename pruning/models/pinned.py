"""Config snapshots of the hub checkpoints the shipped configs and docs name, so that a sweep config is
validated offline before any weights are staged (transformers configs are built from these with
AutoConfig.for_model). Only the fields a ModelSpec (and, for anyres, pruning.models.anyres) reads; values
from each checkpoint's config.json.
A checkpoint not listed here is read from a local directory or the Hugging Face cache instead.
"""
from __future__ import annotations

_CLIP_336 = {"model_type": "clip_vision_model", "image_size": 336, "patch_size": 14, "hidden_size": 1024,
             "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096}
_CLIP_224 = {**_CLIP_336, "image_size": 224}
_SIGLIP_384 = {"model_type": "siglip_vision_model", "image_size": 384, "patch_size": 14, "hidden_size": 1152,
               "num_hidden_layers": 26, "num_attention_heads": 16, "intermediate_size": 4304}
_VICUNA_7B = {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
              "num_attention_heads": 32, "num_key_value_heads": 32}
_VICUNA_13B = {"model_type": "llama", "hidden_size": 5120, "intermediate_size": 13824, "num_hidden_layers": 40,
               "num_attention_heads": 40, "num_key_value_heads": 40}
_MISTRAL_7B = {"model_type": "mistral", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
               "num_attention_heads": 32, "num_key_value_heads": 8}
_NEXT_PINPOINTS = [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]]  # llava-v1.6 anyres (H, W)
_QWEN2_7B = {"model_type": "qwen2", "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
             "num_attention_heads": 28, "num_key_value_heads": 4}
# Qwen2.5-VL: config.json of Qwen/Qwen2.5-VL-7B-Instruct and -3B-Instruct (vision tower 32 blocks x 1280,
# full attention at 7/15/23/31, window 112, 2x2 merger to the LLM width; text GQA, M-RoPE sections 16/24/24)
_QWEN25VL_VISION = {"depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16, "patch_size": 14,
                    "temporal_patch_size": 2, "spatial_merge_size": 2, "window_size": 112, "tokens_per_second": 2,
                    "fullatt_block_indexes": [7, 15, 23, 31], "hidden_act": "silu"}
_QWEN25VL_ROPE = {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]}
_QWEN25VL_3B_TEXT = {"model_type": "qwen2_5_vl_text", "hidden_size": 2048, "intermediate_size": 11008,
                     "num_hidden_layers": 36, "num_attention_heads": 16, "num_key_value_heads": 2,
                     "vocab_size": 151936, "rope_parameters": _QWEN25VL_ROPE}
_QWEN2_05B = {"model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
              "num_attention_heads": 14, "num_key_value_heads": 2}

PINNED: dict[str, dict] = {
    "llava-hf/llava-1.5-7b-hf": {"model_type": "llava", "vision_config": _CLIP_336, "text_config": _VICUNA_7B},
    "llava-hf/llava-1.5-13b-hf": {"model_type": "llava", "vision_config": _CLIP_336, "text_config": _VICUNA_13B},
    "llava-hf/llava-v1.6-vicuna-7b-hf": {"model_type": "llava_next", "vision_config": _CLIP_336,
                                         "text_config": _VICUNA_7B, "image_grid_pinpoints": _NEXT_PINPOINTS},
    "llava-hf/llava-v1.6-mistral-7b-hf": {"model_type": "llava_next", "vision_config": _CLIP_336,
                                          "text_config": _MISTRAL_7B, "image_grid_pinpoints": _NEXT_PINPOINTS},
    "LanguageBind/Video-LLaVA-7B-hf": {"model_type": "video_llava", "vision_config": _CLIP_224,
                                       "text_config": _VICUNA_7B},
    "Qwen/Qwen2.5-VL-7B-Instruct": {"model_type": "qwen2_5_vl",
                                    "vision_config": {**_QWEN25VL_VISION, "out_hidden_size": 3584},
                                    "text_config": {**_QWEN2_7B, "model_type": "qwen2_5_vl_text", "vocab_size": 152064,
                                                    "rope_parameters": _QWEN25VL_ROPE}},
    "Qwen/Qwen2.5-VL-3B-Instruct": {"model_type": "qwen2_5_vl",
                                    "vision_config": {**_QWEN25VL_VISION, "out_hidden_size": 2048},
                                    "text_config": _QWEN25VL_3B_TEXT, "tie_word_embeddings": True},
    "llava-hf/llava-onevision-qwen2-7b-ov-hf": {"model_type": "llava_onevision", "vision_config": _SIGLIP_384,
                                                "text_config": _QWEN2_7B},
    "llava-hf/llava-onevision-qwen2-0.5b-ov-hf": {"model_type": "llava_onevision", "vision_config": _SIGLIP_384,
                                                  "text_config": _QWEN2_05B},
}
