"""Offline LLaVA-1.5 stand-ins: a tiny random-weight LLaVA (CLIP-L/14-336 geometry, narrow widths) and a
LLaVA-1.5-7B-shaped random-weight model, built from real transformers configs without any download.

The tiny model is built once into a cache dir (env VISSWEEP_CACHE, default ~/.cache/vissweep) with
save_pretrained and then loaded through the same from_pretrained path as a real checkpoint.
Build: python -c "from pruning.models.tiny import tiny_llava_dir; print(tiny_llava_dir())"
"""
from __future__ import annotations

import os
from pathlib import Path

from pruning.models.tiny_cache import saved_config, saved_dir
from pruning.models.tiny_tokenizer import bpe_tokenizer

BUILD_VERSION = "v2"  # bump when the recipe below changes, so stale caches are rebuilt
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'user' %}USER: "
    "{% for c in message['content'] %}{% if c['type'] == 'image' %}<image>\n{% else %}{{ c['text'] }}{% endif %}{% endfor %}"
    "{% else %}ASSISTANT: {{ message['content'][0]['text'] }}{% endif %} {% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)
SPECIAL = ["<unk>", "<s>", "</s>", "<pad>", "<image>"]

# Fixed corpus: benchmark-style questions and answers, so "yes", "no", colours and digits are whole tokens.
_WORDS = (
    "yes no maybe one two three four five six seven eight nine ten zero 0 1 2 3 4 5 6 7 8 9 10 "
    "red green blue yellow black white orange purple pink brown gray grey silver gold "
    "is there a an the in on of to and or with what which who where when why how many much color colour "
    "image picture photo object objects person people man woman child dog cat car bus truck bike bicycle "
    "table chair cup bottle sign text word number left right top bottom front behind near far above below "
    "answer question single short phrase using please does do are this that it they his her its count "
    "USER ASSISTANT user assistant describe detail scene background foreground small large big tiny "
    "A B C D option options choose letter correct true false same different wearing holding sitting standing"
).split()
_PHRASES = [
    "Is there a {} in the image?", "What color is the {}?", "How many {} are there?",
    "Answer the question using a single word or phrase.", "Is the {} on the left or right?",
    "USER: {} ASSISTANT:", "Yes, there is a {}.", "No, there is no {}.", "The {} is red.",
    "Answer with the option's letter from the given choices directly.",
]


def corpus(extra_words: tuple[str, ...] = ()) -> list[str]:
    words = list(_WORDS) + [w for w in extra_words if w not in _WORDS]
    lines = [" ".join(words), " ".join(w.capitalize() for w in words)] + words * 3  # bare words: line-initial form
    for p in _PHRASES:
        lines += [p.format(w) for w in words]
    return lines


def cache_root() -> Path:
    return Path(os.environ.get("VISSWEEP_CACHE") or Path.home() / ".cache" / "vissweep")


def build_tokenizer(extra_words: tuple[str, ...] = ()):
    """A deterministic byte-level BPE (no unknown inputs) wrapped as a transformers fast tokenizer; extra_words
    join the corpus (a trained model's domain vocabulary, e.g. tiny-llava-shapes' shape names, as whole tokens)."""
    # "<image>" is a special added token (trainer special_tokens): found by the processor, skipped by
    # decode(skip_special_tokens=True), without version-specific extra/additional_special_tokens kwargs
    return bpe_tokenizer(corpus(extra_words), SPECIAL, bos="<s>", eos="</s>", unk="<unk>", pad="<pad>",
                         model_max_length=4096)


def build_processor(tokenizer=None):
    from transformers import CLIPImageProcessor, LlavaProcessor

    tokenizer = tokenizer if tokenizer is not None else build_tokenizer()
    image_processor = CLIPImageProcessor(size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336})
    return LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=14,
                          vision_feature_select_strategy="default", num_additional_image_tokens=1,
                          chat_template=CHAT_TEMPLATE)


def llava_config(tokenizer, *, vision_width: int, vision_layers: int, vision_heads: int, vision_ffn: int,
                 width: int, layers: int, heads: int, ffn: int, vocab_size: int | None = None,
                 init_range: float = 0.02, rope_theta: float | None = None):
    """A LlavaConfig with CLIP-L/14-336 geometry (576 patches) and the given widths (RoPE base: Llama's
    default 10,000 unless rope_theta is given)."""
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig

    vision = CLIPVisionConfig(hidden_size=vision_width, intermediate_size=vision_ffn, num_hidden_layers=vision_layers,
                              num_attention_heads=vision_heads, image_size=336, patch_size=14, projection_dim=vision_width,
                              hidden_act="quick_gelu", initializer_range=init_range)
    text = LlamaConfig(hidden_size=width, intermediate_size=ffn, num_hidden_layers=layers, num_attention_heads=heads,
                       num_key_value_heads=heads, vocab_size=vocab_size or len(tokenizer), max_position_embeddings=4096,
                       rms_norm_eps=1e-5, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                       pad_token_id=tokenizer.pad_token_id, initializer_range=init_range, tie_word_embeddings=False,
                       **({"rope_parameters": {"rope_type": "default", "rope_theta": rope_theta}} if rope_theta else {}))
    return LlavaConfig(vision_config=vision, text_config=text, image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
                       vision_feature_layer=-2, vision_feature_select_strategy="default",
                       projector_hidden_act="gelu", image_seq_length=576, tie_word_embeddings=False)


# init_range 0.2 (not 0.02): with narrow random weights the default gives near-uniform attention and
# answers that ignore the image; larger weights make pruning change outputs, which tests need.
TINY = dict(vision_width=64, vision_layers=4, vision_heads=4, vision_ffn=128, width=64, layers=8, heads=4, ffn=160,
            init_range=0.2)
SHAPED_7B = dict(vision_width=1024, vision_layers=24, vision_heads=16, vision_ffn=4096, width=4096, layers=32,
                 heads=32, ffn=11008, vocab_size=32064)


def build_tiny_llava(seed: int = 0):
    """(model, processor): 4-layer CLIP (width 64) + 8-layer Llama (width 64), random weights, fp32."""
    import torch
    from transformers import LlavaForConditionalGeneration

    processor = build_processor()
    config = llava_config(processor.tokenizer, **TINY)
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config).eval()
    return model, processor


def tiny_llava_dir(root: Path | None = None) -> Path:
    """Path of the saved tiny model, built on first use (tiny_cache.saved_dir: safe when several processes build
    at once)."""
    return saved_dir("tiny-llava", BUILD_VERSION, build_tiny_llava, root)


def build_llava7b_shaped(device=None, dtype=None, attn_implementation: str = "sdpa"):
    """(model, processor): LLaVA-1.5-7B shapes (CLIP-L/14-336 24x1024 + Llama 32x4096/11008), random fp16 weights,
    built straight on the device (nothing downloaded, nothing saved). For latency/memory only."""
    import torch
    from transformers import LlavaForConditionalGeneration

    processor = build_processor()
    config = llava_config(processor.tokenizer, **SHAPED_7B)
    config._attn_implementation = attn_implementation
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = dtype or (torch.float16 if device.type == "cuda" else torch.float32)
    torch.manual_seed(0)
    with torch.device(device):
        model = LlavaForConditionalGeneration._from_config(config, dtype=dtype,
                                                           attn_implementation=attn_implementation)
    return model.eval(), processor


def load_tiny_llava(device=None, dtype=None, attn_implementation: str = "sdpa") -> Path:
    """load_vlm loader: the saved tiny model's directory (then loaded with from_pretrained like any checkpoint)."""
    return tiny_llava_dir()


def load_llava7b_shaped(device=None, dtype=None, attn_implementation: str = "sdpa"):
    """load_vlm loader: (model, processor) of the 7B-shaped random model, built in memory on `device`."""
    return build_llava7b_shaped(device=device, dtype=dtype, attn_implementation=attn_implementation)


def config_tiny_llava():
    """The tiny model's LlavaConfig without building weights (its saved config once built, else the recipe)."""
    return saved_config("tiny-llava", BUILD_VERSION, lambda: llava_config(build_tokenizer(), **TINY))


def config_llava7b_shaped():
    """The 7B-shaped model's LlavaConfig (no weights)."""
    return llava_config(build_tokenizer(), **SHAPED_7B)
