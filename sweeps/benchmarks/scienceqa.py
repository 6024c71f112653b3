"""ScienceQA-IMG (Lu et al., 2022): test questions that come with an image; option-letter accuracy.

Hub: lmms-lab/ScienceQA | lmms-lab-encoder/ScienceQA, config ScienceQA-IMG, split test.
Row: image, question, choices (list[str]), answer (int index), hint, task, grade, subject, topic,
     category, skill, lecture, solution.
Prompt (lmms-eval default): "Context: {hint}\\n" (when there is a hint) + question + "\\n" +
"A. ...\\nB. ..." + "\\nAnswer with the option's letter from the given choices directly."
Score (lmms-eval's sqa_process_results, LLaVA's parse): the reply equals the letter (any case), or
starts with "X." where X is an upper-case letter; anything else is wrong. Category: subject.
rule="lmms_eval" states sqa_process_results literally (reply.lower() == letter.lower(), else "X." with
X.isupper() and X.lower() == letter.lower()); for letters A-E the two rules agree.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from sweeps.benchmarks.base import Sample
from sweeps.benchmarks.loading import HubBenchmark, RowError, required
from sweeps.benchmarks.options import LETTERS, option_lines
from sweeps.benchmarks.scoring import error_score, mean, mean_by, split_errors

LETTER_ANSWER = "\nAnswer with the option's letter from the given choices directly."


def sqa_letter(prediction: str) -> str | None:
    pred = prediction.strip()
    if len(pred) == 1:
        return pred.upper()
    if len(pred) >= 2 and pred[0].isupper() and pred[1] == ".":
        return pred[0]
    return None


def lmms_sqa_right(prediction: str, letter: str) -> bool:
    pred, target = prediction.strip(), letter.strip().lower()
    if pred.lower() == target:
        return True
    return len(pred) >= 2 and pred[0].isupper() and pred[1] == "." and pred[0].lower() == target


class ScienceQAImg(HubBenchmark):
    name: ClassVar[str] = "scienceqa_img"
    hub_ids: ClassVar[tuple[str, ...]] = ("lmms-lab/ScienceQA", "lmms-lab-encoder/ScienceQA")
    hub_config: ClassVar[str | None] = "ScienceQA-IMG"
    default_split: ClassVar[str] = "test"
    max_new_tokens: ClassVar[int] = 16
    primary_metric: ClassVar[str] = "accuracy"
    id_column: ClassVar[str] = "id"
    category_column: ClassVar[str | None] = "subject"

    def row_id(self, row: dict[str, Any], position: int) -> str:
        return str(row["id"]) if row.get("id") is not None else f"sqa-{position}"

    def rows(self, source=None, split=None, limit=None):
        rows, root = super().rows(source, split, limit)
        # the release has no id column: the row position in the split is the stable id (staging writes it)
        return ({"id": f"sqa-{i}", **row} for i, row in enumerate(rows)), root

    def to_sample(self, row: dict[str, Any], root: Path | None) -> Sample:
        question, choices = required(row, "question", "choices")
        answer = row.get("answer")
        if not isinstance(answer, int) or not 0 <= answer < len(choices):
            raise RowError(f"answer {answer!r} is not an index into {len(choices)} choices")
        sample = Sample(id=str(row["id"]), question=question, answer=LETTERS[answer],
                        meta={"category": self.row_category(row), "choices": list(choices), "hint": row.get("hint") or ""})
        return self.with_image(sample, row, root)

    def prompt(self, sample: Sample) -> str:
        context = f"Context: {sample.meta['hint']}\n" if sample.meta["hint"] else ""
        return f"{context}{sample.question}\n{option_lines(sample.meta['choices'])}{LETTER_ANSWER}"

    def score(self, sample: Sample, prediction: str | None) -> dict[str, Any]:
        if (err := error_score(sample, prediction, self.rule)) is not None:
            return err
        letter = sqa_letter(prediction)
        right = lmms_sqa_right(prediction, sample.answer) if self.rule == "lmms_eval" else letter == sample.answer
        return {"score": float(right), "answer": letter, "category": sample.meta.get("category"), "rule": self.rule}

    def aggregate(self, scores: list[dict[str, Any]]) -> dict[str, float]:
        ok, counts = split_errors(scores)
        return {"accuracy": mean([s["score"] for s in ok]), **mean_by(ok, "category"), **counts}
