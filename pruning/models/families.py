"""The one model-family table, keyed by config.model_type, and each family's spec read from a config alone.

    from pruning.models.families import model_spec
    model_spec("llava-hf/llava-1.5-7b-hf")   # ModelSpec(model_type='llava', tokens=576, per='image', depth=32, ...)

A family declares its transformers class, its adapter (None: recognised, not wired yet), the strategies and
media it supports, and a spec function that reads a transformers config: visual tokens per image / crop /
frame, how many rows one sample's budget spans, decoder depth, attention heads and KV heads. Nothing here
loads weights: a config comes from a local directory, the Hugging Face cache (AutoConfig), the pinned
snapshots below, or an alias's own config builder. Importing this module imports no torch or transformers.
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from pruning.models.pinned import PINNED
from pruning.registry import STRATEGIES, closest

ALL = frozenset(STRATEGIES)
NO_CLS = frozenset({"keep_all", "random", "vispruner", "divprune", "fastv"})  # no [CLS]: no VisionZip / PruMerge+


@dataclass(frozen=True)
class ModelSpec:
    """What sweeps and accounting need to know about one model, from its config alone."""

    model_type: str
    family: str
    tokens: int | None     # N the budget T is bounded by, per `per` (None: varies with the input, e.g. Qwen2.5-VL)
    per: str               # "image", "crop" (anyres: T per crop) or "video" (T jointly over its frames)
    rows: int              # vision-tower rows behind one `per` unit (8 frames for Video-LLaVA, else 1)
    depth: int             # LLM decoder layers
    heads: int             # attention heads
    kv_heads: int          # key/value heads (GQA: fewer than heads)
    head_dim: int


@dataclass(frozen=True)
class Family:
    name: str
    model_class: str                    # "transformers:<Class>" built by from_pretrained
    adapter: str | None                 # "module:Class" in pruning.models; None = recognised, no adapter yet
    strategies: frozenset[str]
    media: frozenset[str]               # "image", "video"
    spec: Callable[[Any], ModelSpec]    # config -> spec
    tiny: str | None = None             # tiny alias the contract test runs (tests/pruning/models/test_contract.py)
    image_processor: str | None = None  # "module:Class": load Parts (parts.py), not AutoProcessor (needs torchvision)
    unsupported: dict[str, str] = field(default_factory=dict)  # strategy -> why this family does not run it
    processor_options: frozenset[str] = frozenset()  # model options a sweep config may set (models: [{name, ...}])


def _heads(model_type: str, family: str, text, tokens, per, rows=1) -> ModelSpec:
    heads = int(text.num_attention_heads)
    return ModelSpec(model_type, family, tokens, per, rows, int(text.num_hidden_layers), heads,
                     int(getattr(text, "num_key_value_heads", None) or heads),
                     int(getattr(text, "head_dim", None) or text.hidden_size // heads))


def _patches(vc) -> int:
    return (int(vc.image_size) // int(vc.patch_size)) ** 2


def llava_spec(cfg) -> ModelSpec:
    # CLIP-L/14-336: 24 x 24 = 576 patches per image (select strategy "default" drops [CLS])
    return _heads(cfg.model_type, "llava15", cfg.text_config, _patches(cfg.vision_config), "image")


def llava_next_spec(cfg) -> ModelSpec:
    return _heads(cfg.model_type, "llava_next", cfg.text_config, _patches(cfg.vision_config), "crop")


def video_llava_spec(cfg) -> ModelSpec:
    # 8 frames x 256 patches (CLIP-L/14-224); T is chosen jointly over the 2048 patch tokens
    frames = int(getattr(cfg, "num_frames", None) or 8)
    return _heads(cfg.model_type, "video_llava", cfg.text_config, frames * _patches(cfg.vision_config), "video", frames)


def qwen2_5_vl_spec(cfg) -> ModelSpec:
    return _heads(cfg.model_type, "qwen2_5_vl", cfg.get_text_config(), None, "image")


def llava_onevision_spec(cfg) -> ModelSpec:
    # SigLIP-so400m/14-384: 27 x 27 = 729 tokens per crop, no [CLS]
    return _heads(cfg.model_type, "llava_onevision", cfg.text_config, _patches(cfg.vision_config), "crop")


_NO_CLS_WHY = "it needs a [CLS] token, which this vision tower does not have"
QWEN_UNSUPPORTED = {
    "visionzip": _NO_CLS_WHY, "prumerge_plus": _NO_CLS_WHY, "spatial": "its 2-D grid differs per image (N varies)",
    "sparsevlm": "it merges recycled tokens and renumbers positions 1-D after each prune layer, which has no "
                 "defined 3-D M-RoPE position for a merged token",
}
VIDEO_LLAVA_UNSUPPORTED = {
    "prumerge_plus": "its count is adaptive per image (IQR outliers of one [CLS] row), not one budget over a "
                     "video's 8 frames",
}

FAMILIES: dict[str, Family] = {
    "llava": Family("llava15", "transformers:LlavaForConditionalGeneration", "pruning.models.llava:Llava",
                    ALL, frozenset({"image"}), llava_spec, tiny="tiny-llava"),
    "llava_next": Family("llava_next", "transformers:LlavaNextForConditionalGeneration",
                         "pruning.models.llava_next:LlavaNext", ALL, frozenset({"image"}), llava_next_spec,
                         tiny="tiny-llava-next"),
    "video_llava": Family("video_llava", "transformers:VideoLlavaForConditionalGeneration",
                          "pruning.models.video_llava:VideoLlava", ALL - {"prumerge_plus"},
                          frozenset({"image", "video"}), video_llava_spec, tiny="tiny-video-llava",
                          image_processor="transformers:VideoLlavaImageProcessor",
                          unsupported=VIDEO_LLAVA_UNSUPPORTED),
    "qwen2_5_vl": Family("qwen2_5_vl", "transformers:Qwen2_5_VLForConditionalGeneration",
                         "pruning.models.qwen2_5_vl:Qwen25VL", NO_CLS, frozenset({"image"}), qwen2_5_vl_spec,
                         tiny="tiny-qwen2.5-vl", image_processor="transformers:Qwen2VLImageProcessorPil",
                         unsupported=QWEN_UNSUPPORTED, processor_options=frozenset({"min_pixels", "max_pixels"})),
    "llava_onevision": Family("llava_onevision", "transformers:LlavaOnevisionForConditionalGeneration",
                              "pruning.models.llava_onevision:LlavaOnevision",
                              NO_CLS, frozenset({"image"}), llava_onevision_spec, tiny="tiny-llava-onevision",
                              image_processor="transformers:LlavaOnevisionImageProcessorPil",
                              unsupported={"visionzip": _NO_CLS_WHY, "prumerge_plus": _NO_CLS_WHY}),
}


def family(model_type: str, model: str | None = None) -> Family:
    """The family of a model_type; unknown types fail with the type's name and the known families."""
    if model_type not in FAMILIES:
        who = f"{model!r} has " if model else ""
        raise ValueError(f"{who}model_type {model_type!r}, which is not a known model family; known: "
                         f"{', '.join(sorted(FAMILIES))} ({closest(model_type, list(FAMILIES))})")
    return FAMILIES[model_type]


def import_path(path: str):
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


# ---------------------------------------------------------------- config without weights
def model_config(name: str):
    """A transformers config for a model name, without weights: an alias's config builder, a local directory,
    a pinned snapshot of a known hub checkpoint, or the Hugging Face cache / hub (AutoConfig).

    Raises OSError when none of these has it (offline and not staged)."""
    from pruning.models import ALIAS_CONFIGS, HUB_ALIASES
    from pruning.models.model_options import split_options

    name = split_options(name)[0]  # options (after '?') do not change the config
    if name in ALIAS_CONFIGS:
        return import_path(ALIAS_CONFIGS[name])()
    name = HUB_ALIASES.get(name, name)
    path = Path(name).expanduser()
    from transformers import AutoConfig

    if path.is_dir():
        return AutoConfig.from_pretrained(str(path))
    if name in PINNED:
        fields = dict(PINNED[name])
        return AutoConfig.for_model(fields.pop("model_type"), **fields)
    offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0")
    try:
        return AutoConfig.from_pretrained(name, local_files_only=offline)
    except (OSError, ValueError) as exc:
        raise OSError(f"cannot read the config of {name!r}: not an alias, a local directory, a pinned checkpoint "
                      f"({', '.join(sorted(PINNED))}) nor in the Hugging Face cache"
                      f"{' (HF_HUB_OFFLINE is set)' if offline else ''}: {str(exc).splitlines()[0]}") from None


def model_spec(name_or_config: Any) -> ModelSpec:
    """The spec of a model name (model_config) or of a transformers config."""
    cfg = model_config(name_or_config) if isinstance(name_or_config, str) else name_or_config
    return family(cfg.model_type, name_or_config if isinstance(name_or_config, str) else None).spec(cfg)


def adapter_class(model_type: str, model: str | None = None):
    fam = family(model_type, model)
    if fam.adapter is None:
        ready = ", ".join(t for t, f in FAMILIES.items() if f.adapter)
        raise ValueError(f"{model or model_type}: model_type {model_type!r} ({fam.name}) has no adapter in "
                         f"pruning.models yet (adapters: {ready})")
    return import_path(fam.adapter)
