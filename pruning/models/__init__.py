"""VLM adapters: load_vlm(name_or_path) -> an adapter with encode(images) and generate(prompts, plan, vision=...).

Static tables, lazy imports: importing this package imports neither transformers nor torch models.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pruning.registry import closest, resolve

# alias -> "module:function". A loader returns a local path / hub id (loaded with from_pretrained) or,
# for models built in memory, a (model, processor) pair; it is called with device, dtype, attn_implementation.
MODELS: dict[str, str] = {
    "tiny-llava": "pruning.models.tiny:load_tiny_llava",
    "tiny-llava-shapes": "pruning.models.tiny_shapes:load_tiny_llava_shapes",  # trained on `shapes`
    "7b-shaped": "pruning.models.tiny:load_llava7b_shaped",
    "llava-1.5-7b-shaped": "pruning.models.tiny:load_llava7b_shaped",
}
HUB_ALIASES: dict[str, str] = {
    "llava-1.5-7b": "llava-hf/llava-1.5-7b-hf",
    "llava-1.5-13b": "llava-hf/llava-1.5-13b-hf",
}
# config.model_type -> adapter class
FAMILIES: dict[str, str] = {
    "llava": "pruning.models.llava:Llava",
}
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def default_device():
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def default_attn(device) -> str:
    """flash_attention_2 on CUDA when flash_attn is installed, else sdpa; never eager over the whole model."""
    import importlib.util

    if device.type == "cuda" and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


def _resolve_dtype(dtype: Any, device):
    import torch

    if dtype is None:
        return torch.float16 if device.type == "cuda" else torch.float32
    if isinstance(dtype, str):
        named = {"fp16": "float16", "half": "float16", "bf16": "bfloat16", "fp32": "float32", "float": "float32"}
        value = getattr(torch, named.get(dtype, dtype), None)
        if not isinstance(value, torch.dtype):
            raise ValueError(f"unknown dtype {dtype!r}; use float16, bfloat16 or float32")
        return value
    return dtype


def from_pretrained(path: str | Path, device, dtype, attn_implementation: str):
    """(model, processor) through the standard transformers path: a hub id (HF cache, HF_HUB_OFFLINE) or a dir."""
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    try:
        model = LlavaForConditionalGeneration.from_pretrained(str(path), dtype=dtype,
                                                              attn_implementation=attn_implementation)
        processor = AutoProcessor.from_pretrained(str(path))
    except OSError as exc:
        offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0")
        raise OSError(f"could not load model {str(path)!r}: not a local checkpoint directory and not in the Hugging Face "
                      f"cache{' (HF_HUB_OFFLINE is set, so nothing is downloaded)' if offline else ''}: {exc}") from exc
    return model.to(device).eval(), processor


def load_vlm(name_or_path: str | os.PathLike, device=None, dtype=None, attn_implementation: str | None = None):
    """An adapter for a known alias (MODELS, HUB_ALIASES), a local directory, or a hub id."""
    import torch

    name = str(name_or_path)
    device = torch.device(device) if device is not None else default_device()
    dtype = _resolve_dtype(dtype, device)
    attn = attn_implementation or default_attn(device)
    if attn == "eager":
        raise ValueError("attn_implementation='eager' is not used for whole models (it materialises every "
                         "attention matrix); use 'sdpa' or 'flash_attention_2'")
    if name in MODELS:
        loaded = resolve(name, MODELS, "model")(device=device, dtype=dtype, attn_implementation=attn)
        model, processor = loaded if isinstance(loaded, tuple) else from_pretrained(loaded, device, dtype, attn)
    elif name in HUB_ALIASES or Path(name).expanduser().is_dir() or _HUB_ID.match(name):
        path = HUB_ALIASES.get(name, str(Path(name).expanduser()) if Path(name).expanduser().is_dir() else name)
        model, processor = from_pretrained(path, device, dtype, attn)
    else:
        raise ValueError(f"unknown model {name!r}: not a known alias, an existing directory, nor a hub id "
                         f"('owner/name'); {closest(name, list(MODELS) + list(HUB_ALIASES))}")
    model_type = model.config.model_type
    if model_type not in FAMILIES:
        raise ValueError(f"{name}: no adapter for model_type {model_type!r}; {closest(model_type, list(FAMILIES))}")
    return resolve(model_type, FAMILIES, "model family")(model, processor, name)


__all__ = ["load_vlm", "MODELS", "HUB_ALIASES", "FAMILIES"]
