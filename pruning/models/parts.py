"""The unmodified transformers pieces a family's adapter holds when its composite processor cannot be built.

`VideoLlavaProcessor`, `Qwen2_5_VLProcessor` and `LlavaOnevisionProcessor` need torchvision even with no video
processor (../shared/reference/FAMILIES.md); the tokenizer, the PIL image processor and the chat template do not.
A family that names `image_processor` in the family table is loaded as these Parts (same attribute names as a
processor, so an adapter takes either), from a local directory or a hub id (Hugging Face cache, HF_HUB_OFFLINE):

    parts = load_parts("Qwen/Qwen2.5-VL-7B-Instruct", "transformers:Qwen2VLImageProcessorPil")
    parts.tokenizer, parts.image_processor, parts.chat_template
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pruning.models.families import import_path

TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json")


@dataclass
class Parts:
    tokenizer: Any
    image_processor: Any
    chat_template: str | None

    def save_pretrained(self, directory: str | Path) -> None:
        """Tokenizer, image processor and chat template into `directory`, where load_parts finds them again."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(str(directory))
        self.image_processor.save_pretrained(str(directory))
        if self.chat_template is not None:
            (directory / "chat_template.jinja").write_text(self.chat_template)


def _template_file(path: str, name: str) -> str | None:
    local = Path(path).expanduser()
    if local.is_dir():
        return str(local / name) if (local / name).is_file() else None
    from transformers.utils import cached_file

    return cached_file(path, name, _raise_exceptions_for_missing_entries=False,
                       _raise_exceptions_for_connection_errors=False)


def chat_template_of(path: str, tokenizer) -> str | None:
    """The checkpoint's chat template: chat_template.jinja, then chat_template.json, then the tokenizer's own."""
    for name in TEMPLATE_FILES:
        found = _template_file(path, name)
        if found:
            text = Path(found).read_text()
            return json.loads(text)["chat_template"] if name.endswith(".json") else text
    return getattr(tokenizer, "chat_template", None)


def load_parts(path: str | Path, image_processor: str) -> Parts:
    """Parts of a checkpoint: AutoTokenizer, the named image processor class ("module:Class"), the chat template."""
    from transformers import AutoTokenizer

    path = str(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    processor = import_path(image_processor).from_pretrained(path)
    return Parts(tokenizer=tokenizer, image_processor=processor, chat_template=chat_template_of(path, tokenizer))
