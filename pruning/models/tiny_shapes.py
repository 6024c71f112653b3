"""tiny-llava-shapes: the shipped trained tiny LLaVA-1.5 (CLIP-L/14-336 geometry, 576 patches + [CLS]; narrow
widths) that answers the generated `shapes` questions from the image. Trained by jobs/train_tiny.py; model card
docs/TINY_LLAVA_SHAPES.md. Loaded by load_vlm("tiny-llava-shapes") through from_pretrained, like any checkpoint.
"""
from __future__ import annotations

from pathlib import Path

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints" / "tiny-llava-shapes"


def load_tiny_llava_shapes(device=None, dtype=None, attn_implementation: str = "sdpa") -> Path:
    """load_vlm loader: the shipped checkpoint directory (then loaded with from_pretrained)."""
    if not (CHECKPOINT_DIR / "config.json").exists():
        raise FileNotFoundError(f"tiny-llava-shapes checkpoint missing at {CHECKPOINT_DIR}; it ships with the repository "
                                "(retrain: python jobs/train_tiny.py --ship pruning/models/checkpoints/tiny-llava-shapes)")
    return CHECKPOINT_DIR


def config_tiny_llava_shapes():
    """Its LlavaConfig, read from the shipped checkpoint without loading weights (2 decoder layers)."""
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(str(load_tiny_llava_shapes()))
