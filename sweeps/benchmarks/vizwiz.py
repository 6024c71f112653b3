"""VizWiz-VQA (Gurari et al., 2018), val split, incl. unanswerable questions.

Hub: lmms-lab/VizWiz-VQA | lmms-lab-encoder/VizWiz-VQA, split val.
Row: question_id, image, question, answers (10 str; "unanswerable" where the annotator could not
     answer), category (answer type: unanswerable / yes/no / number / other).
Prompt: question.capitalize() + "\nWhen the provided information is insufficient, respond with
'Unanswerable'." + short-answer suffix (lmms-eval default).
Score: LLaVA's submission path: EvalAI processor on the prediction, then the VizWiz server's VQA
accuracy (official rule: normalise both sides when answers differ). "Unanswerable" -> "unanswerable".
Aggregate also splits answerable / unanswerable (majority human answer is "unanswerable").
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

from sweeps.benchmarks.base import Sample
from sweeps.benchmarks.loading import HubBenchmark, required
from sweeps.benchmarks.scoring import error_score, mean, mean_by, split_errors
from sweeps.benchmarks.vqa_normalize import normalize, vqa_accuracy
from sweeps.benchmarks.vqav2 import SHORT_ANSWER, answer_strings

UNANSWERABLE = "\nWhen the provided information is insufficient, respond with 'Unanswerable'."


class VizWiz(HubBenchmark):
    name: ClassVar[str] = "vizwiz"
    hub_ids: ClassVar[tuple[str, ...]] = ("lmms-lab/VizWiz-VQA", "lmms-lab-encoder/VizWiz-VQA")
    default_split: ClassVar[str] = "val"
    max_new_tokens: ClassVar[int] = 16
    primary_metric: ClassVar[str] = "accuracy"
    category_column: ClassVar[str | None] = "category"

    def to_sample(self, row: dict[str, Any], root: Path | None) -> Sample:
        (question,) = required(row, "question")
        answers = answer_strings(row.get("answers"))
        majority = Counter(a.strip().lower() for a in answers).most_common(1)[0][0]
        sample = Sample(id=str(row["question_id"]), question=question, answer=answers,
                        meta={"category": self.row_category(row), "unanswerable": majority == "unanswerable"})
        return self.with_image(sample, row, root)

    def prompt(self, sample: Sample) -> str:
        return f"{sample.question.capitalize()}{UNANSWERABLE}{SHORT_ANSWER}"

    def score(self, sample: Sample, prediction: str | None) -> dict[str, Any]:
        if (err := error_score(sample, prediction)) is not None:
            return err
        submitted = normalize(prediction)
        return {"score": vqa_accuracy(submitted, sample.answer), "answer": submitted,
                "category": sample.meta.get("category"), "unanswerable": sample.meta["unanswerable"]}

    def aggregate(self, scores: list[dict[str, Any]]) -> dict[str, float]:
        ok, counts = split_errors(scores)
        return {"accuracy": mean([s["score"] for s in ok]),
                "acc_unanswerable": mean([s["score"] for s in ok if s["unanswerable"]]),
                "acc_answerable": mean([s["score"] for s in ok if not s["unanswerable"]]),
                **mean_by(ok, "category"), **counts}
