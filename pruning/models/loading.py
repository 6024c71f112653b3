"""Loading: a model name -> (transformers model, processor) -> the family's adapter, all through the family table.

    python -c "from pruning.models import load_vlm; print(load_vlm('tiny-llava'))"

The model class comes from config.model_type (families.py), never a hard-coded class; a hub id is read from
the Hugging Face cache (HF_HUB_OFFLINE works once staged) or downloaded, a local directory as is.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pruning.models.families import adapter_class, family, import_path
from pruning.models.model_options import check_options, split_options
from pruning.models.parts import load_parts
from pruning.registry import closest, resolve

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


def resolve_dtype(dtype: Any, device):
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
    """(model, processor) through the standard transformers path: a hub id (HF cache, HF_HUB_OFFLINE) or a dir;
    the model class is the one the family table names for the checkpoint's config.model_type. A family that
    names an image processor class is loaded as Parts (tokenizer, image processor, chat template)."""
    from transformers import AutoConfig, AutoProcessor

    try:
        config = AutoConfig.from_pretrained(str(path))
        fam = family(config.model_type, str(path))
        model = import_path(fam.model_class).from_pretrained(str(path), dtype=dtype, attn_implementation=attn_implementation)
        if fam.image_processor:  # composite processor needs torchvision: tokenizer, image processor, template
            processor = load_parts(path, fam.image_processor)
        else:
            processor = AutoProcessor.from_pretrained(str(path))
    except OSError as exc:
        offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0")
        raise OSError(f"could not load model {str(path)!r}: not a local checkpoint directory and not in the Hugging Face "
                      f"cache{' (HF_HUB_OFFLINE is set, so nothing is downloaded)' if offline else ''}: {exc}") from exc
    return model.to(device).eval(), processor


def load_vlm(name_or_path: str | os.PathLike, device=None, dtype=None, attn_implementation: str | None = None):
    """An adapter for a known alias (MODELS, HUB_ALIASES), a local directory, or a hub id; options after '?'
    (model_options.py, e.g. Qwen2.5-VL's min_pixels / max_pixels) are checked against the family and applied
    by its adapter, which keeps the full name."""
    import torch

    from pruning.models import HUB_ALIASES, MODELS

    full = str(name_or_path)
    name, options = split_options(full)
    device = torch.device(device) if device is not None else default_device()
    dtype = resolve_dtype(dtype, device)
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
    fam = family(model.config.model_type, name)
    problems = check_options(full, options, fam.processor_options, fam.name)
    if problems:
        raise ValueError("; ".join(problems))
    return adapter_class(model.config.model_type, name)(model, processor, full)
