"""What every benchmark module provides: samples in, prompt out, per-sample score, aggregate metrics."""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sweeps.benchmarks.rules import DEFAULT_RULE, check_rule


@dataclass
class Sample:
    """One benchmark question.

    image:  encoded image bytes (PNG/JPEG) so samples cross process boundaries cheaply; decoded
            on the replica. None for a missing image (then `error` says why).
    frames: encoded frames for video benchmarks (8 uniformly sampled), else empty.
    answer: the ground truth in the benchmark's own form (str, list of 10 answers, option letter...).
    meta:   benchmark-specific fields used by prompt/score (category, options, question_id, ...).
    error:  set when the row could not be read; the sample is still counted and scored as an error.
    """

    id: str
    question: str
    answer: Any = None
    image: bytes | None = None
    frames: list[bytes] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def media(self):
        """What the model encodes: the decoded image, or the video as a list of decoded RGB frames."""
        if self.image is None and self.frames:
            return [_decode(f, f"sample {self.id}: corrupt frame {i}") for i, f in enumerate(self.frames)]
        return self.pil_image()

    def pil_image(self):
        """The decoded RGB image; raises ValueError with the sample id when missing or corrupt."""
        from PIL import Image

        if self.image is None:
            raise ValueError(f"sample {self.id}: no image ({self.error or 'missing'})")
        try:
            img = Image.open(io.BytesIO(self.image))
            img.load()
        except Exception as exc:  # PIL raises several types for corrupt data
            raise ValueError(f"sample {self.id}: corrupt image: {exc}") from exc
        return img.convert("RGB")


def _decode(data: bytes, what: str):
    from PIL import Image

    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except Exception as exc:  # PIL raises several types for corrupt data
        raise ValueError(f"{what}: {exc}") from exc
    return img.convert("RGB")


class Benchmark:
    """Base of every benchmark: subclasses set the class attributes and implement the four methods.

    Category: every benchmark puts its sub-split in `sample.meta["category"]` (POPE category, MME
    subtask, MMBench category, shapes question type, ...; None where there is none) and echoes it as
    `score(...)["category"]`; `category(sample)` reads it so the sweep can store it per row.
    Rule: `score` follows `self.rule` (sweeps.benchmarks.rules) and names it in every dict (`"rule"`).
    Errors: `score` of a sample with `error` (or a None prediction) returns {"error": ..., "category": ...};
    `aggregate` reports `n` (all samples) and `n_errors` and computes its metrics over the rest.
    """

    name: ClassVar[str] = ""
    hub_ids: ClassVar[tuple[str, ...]] = ()        # accepted hub dataset ids (lmms-lab/..., lmms-lab-encoder/...)
    default_split: ClassVar[str] = "test"
    max_new_tokens: ClassVar[int] = 16
    primary_metric: ClassVar[str] = "accuracy"   # key of aggregate() reported as "the" number
    needs_judge: ClassVar[bool] = False
    rule: str = DEFAULT_RULE                      # scoring rule (sweeps.benchmarks.rules): "llava" | "lmms_eval"

    def __init__(self, rule: str = DEFAULT_RULE):
        self.rule = check_rule(rule, f"benchmark {self.name!r}")

    @property
    def params(self) -> dict[str, Any]:
        return {"rule": self.rule}

    def load(self, source: str | None = None, split: str | None = None, limit: int | None = None) -> list[Sample]:
        raise NotImplementedError

    def prompt(self, sample: Sample) -> str:
        raise NotImplementedError

    def score(self, sample: Sample, prediction: str) -> dict[str, Any]:
        raise NotImplementedError

    def aggregate(self, scores: list[dict[str, Any]]) -> dict[str, float]:
        raise NotImplementedError

    def category(self, sample: Sample) -> str | None:
        """The sample's sub-split for the results row's `category` column (None where the benchmark has none)."""
        value = sample.meta.get("category")
        return None if value is None else str(value)

    categories = category   # alias (the name the benchmarks brief used)
