"""VQAv2 (Goyal et al., 2017), val split, scored with the official VQA accuracy.

Hub: lmms-lab/VQAv2 | lmms-lab-encoder/VQAv2, split validation (test-dev is submission-only).
Row: question_id, question, question_type, answer_type, multiple_choice_answer, image_id, image,
     answers = [{answer, answer_confidence, answer_id}] x 10.
Score: LLaVA runs every prediction through EvalAI's processor (scripts/convert_vqav2_for_submission.py),
then the official evaluator: leave-one-annotator-out min(1, matches/3), both sides normalised only when
the ten human answers are not all identical.
rule="lmms_eval" (lmms-eval 0.7.3 vqav2_process_results): punctuation + digit/article processing on
both sides always (no EvalAI word_tokenize on the prediction), statistics.mean over annotators.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from sweeps.benchmarks.base import Sample
from sweeps.benchmarks.loading import HubBenchmark, RowError, required
from sweeps.benchmarks.scoring import error_score, mean, mean_by, split_errors
from sweeps.benchmarks.vqa_normalize import lmms_vqav2_accuracy, normalize, process_digit_article, process_punctuation, vqa_accuracy

SHORT_ANSWER = "\nAnswer the question using a single word or phrase."


def answer_records(answers: list) -> list[dict[str, Any]]:
    """The answers as records (lmms-eval compares whole records); plain strings get their position as id."""
    return [dict(a) if isinstance(a, dict) else {"answer": a, "answer_id": i} for i, a in enumerate(answers)]


def answer_strings(answers: Any) -> list[str]:
    """Ten human answers as strings, whichever way the release stores them (dicts with 'answer' or plain strings)."""
    if not isinstance(answers, (list, tuple)) or not answers:
        raise RowError("empty or missing 'answers'")
    out = [a["answer"] if isinstance(a, dict) else a for a in answers]
    if not all(isinstance(a, str) for a in out):
        raise RowError("malformed 'answers' (expected strings or {'answer': str} dicts)")
    return out


class VQAv2(HubBenchmark):
    name: ClassVar[str] = "vqav2"
    hub_ids: ClassVar[tuple[str, ...]] = ("lmms-lab/VQAv2", "lmms-lab-encoder/VQAv2")
    default_split: ClassVar[str] = "validation"
    max_new_tokens: ClassVar[int] = 16
    primary_metric: ClassVar[str] = "accuracy"
    category_column: ClassVar[str | None] = "answer_type"       # yes/no, number, other

    def to_sample(self, row: dict[str, Any], root: Path | None) -> Sample:
        (question,) = required(row, "question")
        sample = Sample(id=str(row["question_id"]), question=question, answer=answer_strings(row.get("answers")),
                        meta={"category": self.row_category(row), "question_type": row.get("question_type"),
                              "answer_records": answer_records(row["answers"])})
        return self.with_image(sample, row, root)

    def prompt(self, sample: Sample) -> str:
        return f"{sample.question}{SHORT_ANSWER}"

    def score(self, sample: Sample, prediction: str | None) -> dict[str, Any]:
        if (err := error_score(sample, prediction, self.rule)) is not None:
            return err
        if self.rule == "lmms_eval":
            records = sample.meta.get("answer_records") or answer_records(sample.answer)
            answer = process_digit_article(process_punctuation(prediction.strip().replace("\n", " ").replace("\t", " ").strip()))
            return {"score": lmms_vqav2_accuracy(prediction, records), "answer": answer,
                    "category": sample.meta.get("category"), "rule": self.rule}
        submitted = normalize(prediction)       # what LLaVA submits
        return {"score": vqa_accuracy(submitted, sample.answer), "answer": submitted, "category": sample.meta.get("category"),
                "rule": self.rule}

    def aggregate(self, scores: list[dict[str, Any]]) -> dict[str, float]:
        ok, counts = split_errors(scores)
        return {"accuracy": mean([s["score"] for s in ok]), **mean_by(ok, "category"), **counts}
