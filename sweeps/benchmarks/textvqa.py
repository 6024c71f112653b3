"""TextVQA (Singh et al., 2019), validation split, scored like LLaVA's m4c TextVQA evaluator.

Hub: lmms-lab/textvqa | lmms-lab-encoder/textvqa, split validation.
Row: question_id, question, question_tokens, image_id, image, image_width, image_height,
     flickr_original_url, flickr_300k_url, answers (10 str), image_classes, set_name, ocr_tokens.
Prompt: lmms-eval's default: question.capitalize() + short-answer suffix (ocr=True adds
"\nReference OCR token: a, b, ..." as LLaVA-1.5's own question file does).
Score: EvalAI processor on both sides, always (m4c), leave-one-annotator-out min(1, matches/3).
rule="lmms_eval" (textvqa_process_results) is the same computation, averaged with statistics.mean.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from sweeps.benchmarks.base import Sample
from sweeps.benchmarks.loading import HubBenchmark, required
from sweeps.benchmarks.scoring import error_score, mean, split_errors
from sweeps.benchmarks.vqa_normalize import lmms_leave_one_out, normalize, vqa_accuracy
from sweeps.benchmarks.vqav2 import SHORT_ANSWER, answer_strings


class TextVQA(HubBenchmark):
    name: ClassVar[str] = "textvqa"
    hub_ids: ClassVar[tuple[str, ...]] = ("lmms-lab/textvqa", "lmms-lab-encoder/textvqa")
    default_split: ClassVar[str] = "validation"
    max_new_tokens: ClassVar[int] = 16
    primary_metric: ClassVar[str] = "accuracy"

    def __init__(self, ocr: bool = False, rule: str = "llava"):
        super().__init__(rule)
        self.ocr = ocr

    def to_sample(self, row: dict[str, Any], root: Path | None) -> Sample:
        (question,) = required(row, "question")
        sample = Sample(id=str(row["question_id"]), question=question, answer=answer_strings(row.get("answers")),
                        meta={"category": None, "ocr_tokens": list(row.get("ocr_tokens") or [])})
        return self.with_image(sample, row, root)

    def prompt(self, sample: Sample) -> str:
        ocr = f"\nReference OCR token: {', '.join(sample.meta['ocr_tokens'])}" if self.ocr else ""
        return f"{sample.question.capitalize()}{ocr}{SHORT_ANSWER}"

    def score(self, sample: Sample, prediction: str | None) -> dict[str, Any]:
        if (err := error_score(sample, prediction, self.rule)) is not None:
            return err
        value = (lmms_leave_one_out(prediction, sample.answer) if self.rule == "lmms_eval"
                 else vqa_accuracy(prediction, sample.answer, always_normalize=True))
        return {"score": value, "answer": normalize(prediction), "category": None, "rule": self.rule}

    def aggregate(self, scores: list[dict[str, Any]]) -> dict[str, float]:
        ok, counts = split_errors(scores)
        return {"accuracy": mean([s["score"] for s in ok]), **counts}
