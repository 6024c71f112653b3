"""Offline Video-LLaVA stand-in: a tiny random-weight VideoLlavaForConditionalGeneration with the real geometry
(two CLIP-L/14-224 towers: 16 x 16 = 256 patches + [CLS] per frame, 8 frames per video), the real special
tokens (<image>, <video>) and Video-LLaVA's conversation format, narrow widths, built without any download.

Saved once into the cache dir (env VISSWEEP_CACHE, default ~/.cache/vissweep) as a model + Parts (tokenizer,
VideoLlavaImageProcessor, chat template: the composite VideoLlavaProcessor needs torchvision), then loaded
through the same from_pretrained path as LanguageBind/Video-LLaVA-7B-hf.
Build: python -c "from pruning.models.tiny_video_llava import tiny_video_llava_dir; print(tiny_video_llava_dir())"
"""
from __future__ import annotations

from pathlib import Path

from pruning.models.tiny import corpus
from pruning.models.tiny_cache import saved_config, saved_dir
from pruning.models.tiny_tokenizer import bpe_tokenizer

BUILD_VERSION = "v1"  # bump when the recipe below changes, so stale caches are rebuilt
NUM_FRAMES = 8        # frames per video, as Video-LLaVA samples them (linspace(0, F-1, 8))
SPECIAL = ["<unk>", "<s>", "</s>", "<pad>", "<image>", "<video>"]
# Video-LLaVA-7B-hf's conversation format (model card: "USER: <video>\n{question} ASSISTANT:"), rendered from
# [media, text] content in the llava-hf template style: images, then videos, then the text.
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}{% endif %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}{{ '<video>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' '}}"
    "{% endfor %}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)
TINY = dict(vision_width=64, vision_layers=4, vision_heads=4, vision_ffn=128, width=64, layers=8, heads=4, ffn=160,
            init_range=0.2)  # 0.2: see tiny.py (narrow random weights otherwise ignore the image)


def build_tokenizer():
    """A deterministic byte-level BPE over tiny.py's corpus with Video-LLaVA's special tokens (<image>, <video>)."""
    return bpe_tokenizer(corpus(), SPECIAL, bos="<s>", eos="</s>", unk="<unk>", pad="<pad>", model_max_length=4096)


def build_parts(tokenizer=None):
    from transformers import VideoLlavaImageProcessor

    from pruning.models.parts import Parts

    tokenizer = tokenizer if tokenizer is not None else build_tokenizer()
    # the checkpoint's preprocessing: shortest edge 224, centre crop 224 x 224, CLIP mean/std
    image_processor = VideoLlavaImageProcessor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224})
    return Parts(tokenizer=tokenizer, image_processor=image_processor, chat_template=CHAT_TEMPLATE)


def video_llava_config(tokenizer, *, vision_width: int, vision_layers: int, vision_heads: int, vision_ffn: int,
                       width: int, layers: int, heads: int, ffn: int, vocab_size: int | None = None,
                       init_range: float = 0.02):
    """A VideoLlavaConfig with CLIP-L/14-224 geometry (256 patches + [CLS] per frame) and the given widths."""
    from transformers import CLIPVisionConfig, LlamaConfig, VideoLlavaConfig

    vision = CLIPVisionConfig(hidden_size=vision_width, intermediate_size=vision_ffn, num_hidden_layers=vision_layers,
                              num_attention_heads=vision_heads, image_size=224, patch_size=14, projection_dim=vision_width,
                              hidden_act="quick_gelu", initializer_range=init_range)
    text = LlamaConfig(hidden_size=width, intermediate_size=ffn, num_hidden_layers=layers, num_attention_heads=heads,
                       num_key_value_heads=heads, vocab_size=vocab_size or len(tokenizer), max_position_embeddings=4096,
                       rms_norm_eps=1e-5, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                       pad_token_id=tokenizer.pad_token_id, initializer_range=init_range, tie_word_embeddings=False)
    return VideoLlavaConfig(vision_config=vision, text_config=text,
                            image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
                            video_token_index=tokenizer.convert_tokens_to_ids("<video>"),
                            vision_feature_layer=-2, vision_feature_select_strategy="default",
                            projector_hidden_act="gelu", image_seq_length=256,
                            video_seq_length=NUM_FRAMES * 257, tie_word_embeddings=False)


def build_tiny_video_llava(seed: int = 0):
    """(model, parts): two 4-layer CLIP towers (width 64) + 8-layer Llama (width 64), random weights, fp32."""
    import torch
    from transformers import VideoLlavaForConditionalGeneration

    parts = build_parts()
    config = video_llava_config(parts.tokenizer, **TINY)
    torch.manual_seed(seed)
    return VideoLlavaForConditionalGeneration(config).eval(), parts


def tiny_video_llava_dir(root: Path | None = None) -> Path:
    """Path of the saved tiny model, built on first use (tiny_cache.saved_dir: private temp dir renamed into place)."""
    return saved_dir("tiny-video-llava", BUILD_VERSION, build_tiny_video_llava, root)


def load_tiny_video_llava(device=None, dtype=None, attn_implementation: str = "sdpa") -> Path:
    """load_vlm loader: the saved tiny model's directory (loaded with from_pretrained like any checkpoint)."""
    return tiny_video_llava_dir()


def config_tiny_video_llava():
    """The tiny model's VideoLlavaConfig without building weights (its saved config once built, else the recipe)."""
    return saved_config("tiny-video-llava", BUILD_VERSION, lambda: video_llava_config(build_tokenizer(), **TINY))


# Video-LLaVA-7B shapes (two CLIP-L/14-224 towers 24 x 1024, Vicuna-7B 32 x 4096/11008), for latency and memory only
SHAPED_7B = dict(vision_width=1024, vision_layers=24, vision_heads=16, vision_ffn=4096, width=4096, layers=32,
                 heads=32, ffn=11008, vocab_size=32064)


def load_video_llava7b_shaped(device=None, dtype=None, attn_implementation: str = "sdpa"):
    """load_vlm loader: (model, parts) of a Video-LLaVA-7B-shaped model with random weights, built straight on the
    device (fp16 on CUDA; nothing downloaded, nothing saved)."""
    import torch
    from transformers import VideoLlavaForConditionalGeneration

    parts = build_parts()
    config = video_llava_config(parts.tokenizer, **SHAPED_7B)
    config._attn_implementation = attn_implementation
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = dtype or (torch.float16 if device.type == "cuda" else torch.float32)
    torch.manual_seed(0)
    with torch.device(device):
        model = VideoLlavaForConditionalGeneration._from_config(config, dtype=dtype,
                                                                attn_implementation=attn_implementation)
    return model.eval(), parts


def config_video_llava7b_shaped():
    return video_llava_config(build_tokenizer(), **SHAPED_7B)
