"""The two contracts a new strategy or model family meets (typing.Protocol: structural, nothing to inherit).

A strategy sees rows of tokens and returns a Selection; an adapter wraps one unmodified transformers model
and runs the shared path (pruning/models/pipeline.py) for its family. See pruning/models/families.py for
the table an adapter is registered in, and tests/pruning/models/test_contract.py for what each must pass.
"""
from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

from pruning.types import Output, PrunePlan, Selection, Stage, VisionTokens


@runtime_checkable
class Strategy(Protocol):
    """A frozen dataclass, one paper per file: tensors in, Selection out; never imports a model."""

    stage: ClassVar[Stage]

    def select(self, tokens: VisionTokens, budget: int | None) -> Selection: ...


@runtime_checkable
class Adapter(Protocol):
    """One VLM family on the shared path. `model`, `tokenizer`, `image_processor` and `chat_template` are the
    unmodified transformers parts (outside checks build the transformers reference from them)."""

    name: str
    supports: ClassVar[frozenset[Stage]]
    model: Any
    tokenizer: Any
    image_processor: Any
    chat_template: str
    num_visual_tokens: int | None

    def supports_strategy(self, name: str) -> bool: ...

    def encode(self, media: list) -> VisionTokens:
        """A list of PIL images, or of videos (lists of PIL frames): the vision tower once for the batch;
        rows map to samples (VisionTokens.row_sample), so a subset of samples can be taken."""
        ...

    def generate(self, prompts: list[str], plan: PrunePlan, vision: VisionTokens | None = None,
                 images: list | None = None, max_new_tokens: int = 16,
                 sample_keys: list | None = None) -> list[Output]:
        """Greedy answers to plain questions (the adapter adds the chat template and media) under `plan`."""
        ...
