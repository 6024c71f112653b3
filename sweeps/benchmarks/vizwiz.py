"""VizWiz-VQA (Gurari et al., 2018), val split, incl. unanswerable questions.

Hub: lmms-lab/VizWiz-VQA | lmms-lab-encoder/VizWiz-VQA, split val.
Row: question_id, image, question, answers (10 str; "unanswerable" where the annotator could not
     answer), category (answer type: unanswerable / yes/no / number / other).
Prompt: question.capitalize() + "\nWhen the provided information is insufficient, respond with
'Unanswerable'." + short-answer suffix (lmms-eval default).
Score: LLaVA's submission path: EvalAI processor on the prediction, then the VizWiz server's VQA
accuracy (official rule: normalise both sides when answers differ). "Unanswerable" -> "unanswerable".
rule="lmms_eval" (lmms-eval 0.7.3 vizwiz_vqa_process_results): EvalAI processor on both sides always
(so ten "two" answers and the reply "two" score 1, where the server rule leaves the answers raw).
Aggregate also splits answerable / unanswerable (majority human answer is "unanswerable").
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

from sweeps.benchmarks.base import Sample
from sweeps.benchmarks.loading import HubBenchmark, required
from sweeps.benchmarks.scoring import error_score, mean, mean_by, split_errors
from sweeps.benchmarks.vqa_normalize import lmms_leave_one_out, normalize, vqa_accuracy
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
        if (err := error_score(sample, prediction, self.rule)) is not None:
            return err
        submitted = normalize(prediction)
        value = lmms_leave_one_out(prediction, sample.answer) if self.rule == "lmms_eval" else vqa_accuracy(submitted, sample.answer)
        return {"score": value, "answer": submitted, "category": sample.meta.get("category"),
                "unanswerable": sample.meta["unanswerable"], "rule": self.rule}

    def aggregate(self, scores: list[dict[str, Any]]) -> dict[str, float]:
        ok, counts = split_errors(scores)
        return {"accuracy": mean([s["score"] for s in ok]),
                "acc_unanswerable": mean([s["score"] for s in ok if s["unanswerable"]]),
                "acc_answerable": mean([s["score"] for s in ok if not s["unanswerable"]]),
                **mean_by(ok, "category"), **counts}
