"""tiny-llava-next: an offline random-weight LLaVA-NeXT from the real LlavaNextConfig with llava-v1.6's geometry
(CLIP-L/14-336 crops of 24 x 24 patches, the real image_grid_pinpoints, image_newline, vision_feature_layer -2,
select strategy "default"), the vicuna conversation template and narrow widths (those of tiny-llava).

Built once into the cache dir (env VISSWEEP_CACHE, default ~/.cache/vissweep) with save_pretrained and then
loaded through the same from_pretrained / AutoProcessor path as llava-hf/llava-v1.6-vicuna-7b-hf
(LlavaNextProcessor with the PIL image processor: no torchvision).
Build: python -c "from pruning.models.tiny_llava_next import tiny_llava_next_dir; print(tiny_llava_next_dir())"
"""
from __future__ import annotations

from pathlib import Path

from pruning.models.tiny import TINY, build_tokenizer, llava_config
from pruning.models.tiny_cache import saved_config, saved_dir

BUILD_VERSION = "v1"  # bump when the recipe below changes, so stale caches are rebuilt
PINPOINTS = [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]]  # llava-v1.6 (H, W) grid resolutions
# llava-v1.6-vicuna's conversation format: "USER: <image>\n{text} ASSISTANT:" (images first, then text)
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'][0]['text'] }}"
    "{% else %}{{ message['role'].upper() + ': ' }}{% endif %}"
    "{% for c in message['content'] if c['type'] == 'image' %}{{ '<image>\n' }}{% endfor %}"
    "{% for c in message['content'] if c['type'] == 'text' %}{{ c['text'] + ' ' }}{% endfor %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)


def build_processor(tokenizer=None):
    from transformers import LlavaNextProcessor
    from transformers.models.llava_next.image_processing_pil_llava_next import LlavaNextImageProcessorPil

    tokenizer = tokenizer if tokenizer is not None else build_tokenizer()
    images = LlavaNextImageProcessorPil(size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336},
                                        image_grid_pinpoints=PINPOINTS)
    return LlavaNextProcessor(image_processor=images, tokenizer=tokenizer, patch_size=14,
                              vision_feature_select_strategy="default", num_additional_image_tokens=1,
                              chat_template=CHAT_TEMPLATE)


def llava_next_config(tokenizer, **widths):
    """A LlavaNextConfig with llava-v1.6 geometry and the given widths (tiny.llava_config's keywords)."""
    from transformers import LlavaNextConfig

    base = llava_config(tokenizer, **widths)
    return LlavaNextConfig(vision_config=base.vision_config.to_dict(), text_config=base.text_config.to_dict(),
                           image_token_id=base.image_token_id, image_grid_pinpoints=PINPOINTS,
                           vision_feature_layer=-2, vision_feature_select_strategy="default",
                           projector_hidden_act="gelu", image_seq_length=576, tie_word_embeddings=False)


def build_tiny_llava_next(seed: int = 0):
    """(model, processor): 4-layer CLIP (width 64) + 8-layer Llama (width 64), random weights, fp32."""
    import torch
    from transformers import LlavaNextForConditionalGeneration

    processor = build_processor()
    config = llava_next_config(processor.tokenizer, **TINY)
    torch.manual_seed(seed)
    model = LlavaNextForConditionalGeneration(config).eval()
    return model, processor


def tiny_llava_next_dir(root: Path | None = None) -> Path:
    """Path of the saved tiny model, built on first use (tiny_cache.saved_dir: private temp dir renamed into place)."""
    return saved_dir("tiny-llava-next", BUILD_VERSION, build_tiny_llava_next, root)


def load_tiny_llava_next(device=None, dtype=None, attn_implementation: str = "sdpa") -> Path:
    """load_vlm loader: the saved tiny model's directory (loaded with from_pretrained like any checkpoint)."""
    return tiny_llava_next_dir()


def config_tiny_llava_next():
    """The tiny model's LlavaNextConfig without building weights (its saved config once built, else the recipe)."""
    return saved_config("tiny-llava-next", BUILD_VERSION, lambda: llava_next_config(build_tokenizer(), **TINY))
