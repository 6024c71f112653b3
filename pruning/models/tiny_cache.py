"""Build-once cache of the tiny models: `<cache root>/<name>-<version>` (cache root: tiny.cache_root, env
VISSWEEP_CACHE, default ~/.cache/vissweep), written with save_pretrained and then loaded through the same
from_pretrained path as a real checkpoint.

    saved_dir("tiny-llava", "v2", build_tiny_llava)        # the directory, built on first use
    saved_config("tiny-llava", "v2", recipe)                # its config without weights
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def _root(root: Path | None) -> Path:
    if root is not None:
        return Path(root)
    from pruning.models.tiny import cache_root  # at call time: tiny.py imports this module

    return cache_root()


def saved_dir(name: str, version: str, build: Callable, root: Path | None = None) -> Path:
    """Path of the saved model `name`-`version`, built on first use by `build() -> (model, processor or Parts)`.
    Safe when several processes build at once: each writes a private temp dir and renames it into place; the
    loser discards its copy."""
    root = _root(root)
    target = root / f"{name}-{version}"
    if (target / "config.json").exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    try:
        model, processor = build()
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        try:
            os.rename(tmp, target)  # atomic on one filesystem; fails if another builder won
        except OSError:
            if not (target / "config.json").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def saved_config(name: str, version: str, recipe: Callable):
    """The model's transformers config without building weights: its saved config once built, else `recipe()`."""
    saved = _root(None) / f"{name}-{version}"
    if (saved / "config.json").exists():
        from transformers import AutoConfig

        return AutoConfig.from_pretrained(str(saved))
    return recipe()
