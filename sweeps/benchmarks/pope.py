"""POPE (Li et al., 2023): object-hallucination yes/no questions in three categories.

Hub: lmms-lab/POPE | lmms-lab-encoder/POPE, split test.
Row: id, question_id, question, answer ("yes"/"no"), image_source, image, category
     (adversarial / popular / random).
Prompt: question + short-answer suffix; up to 128 new tokens.
Score: rule="llava" (default; LLaVA-1.5's eval_pope.py): keep the text before the first ".", drop
commas, split on spaces; "no" if any word is "no"/"not"/"No", else "yes". rule="lmms_eval" (alias
"exact"; lmms-eval 0.7.3 pope utils.py): the lower-cased stripped reply must be "yes"/"no"; anything
else is "other": wrong, never a positive, and never a false negative either (lmms-eval counts FN only
for a reply of exactly "no"), and yes_ratio is the share of "yes" *ground truth*. The rule is named in
every score dict and in `params`.
Aggregate: accuracy/precision/recall/f1/yes_ratio pooled and per category (lmms-eval's pope_adv /
pope_pop / pope_random tasks are the per-category ones); primary f1_mean = mean F1 of the categories
present (the paper's POPE number).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from sweeps.benchmarks.base import Sample
from sweeps.benchmarks.loading import HubBenchmark, RowError, required
from sweeps.benchmarks.scoring import error_score, mean, split_errors
from sweeps.benchmarks.vqav2 import SHORT_ANSWER

CATEGORIES = ("adversarial", "popular", "random")


def pope_label(prediction: str, rule: str = "llava") -> str:
    """'yes' / 'no' (or 'other' under the exact rule) read from a reply."""
    if rule == "lmms_eval":
        text = prediction.lower().strip()
        return text if text in ("yes", "no") else "other"
    text = prediction.split(".")[0] if "." in prediction else prediction
    words = text.replace(",", "").split(" ")
    return "no" if ("No" in words or "not" in words or "no" in words) else "yes"


def binary_metrics(pairs: list[tuple[str, str]], rule: str = "llava") -> dict[str, float]:
    """accuracy, precision, recall, f1, yes_ratio over (predicted label, ground truth) pairs; 'yes' is positive.

    A false negative is a "no" reply to a "yes" question (an "other" reply is none: lmms-eval's count;
    under the LLaVA rule every label is yes/no). yes_ratio: LLaVA's share of "yes" replies, lmms-eval's
    share of "yes" ground truth. The F1 arithmetic follows each harness to the last bit.
    """
    tp = sum(p == "yes" and g == "yes" for p, g in pairs)
    fp = sum(p == "yes" and g == "no" for p, g in pairs)
    fn = sum(p == "no" and g == "yes" for p, g in pairs)
    correct = sum(p == g for p, g in pairs)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    n = len(pairs)
    if rule == "lmms_eval":
        f1 = 2 * (precision * recall) / (precision + recall) if precision + recall > 0 else 0
        yes = sum(g == "yes" for _, g in pairs)
        no = sum(g == "no" for _, g in pairs)
        yes_ratio = yes / (yes + no) if yes + no > 0 else 0
    else:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        yes_ratio = sum(p == "yes" for p, _ in pairs) / n if n else float("nan")
    return {"accuracy": correct / n if n else float("nan"), "precision": precision, "recall": recall, "f1": f1,
            "yes_ratio": yes_ratio}


class POPE(HubBenchmark):
    name: ClassVar[str] = "pope"
    hub_ids: ClassVar[tuple[str, ...]] = ("lmms-lab/POPE", "lmms-lab-encoder/POPE")
    default_split: ClassVar[str] = "test"
    max_new_tokens: ClassVar[int] = 128
    primary_metric: ClassVar[str] = "f1_mean"
    category_column: ClassVar[str | None] = "category"

    def row_id(self, row: dict[str, Any], position: int) -> str:
        # question_id restarts per category in the release; (category, question_id) is unique
        return f"{row.get('category')}/{row.get('question_id', position)}"

    def to_sample(self, row: dict[str, Any], root: Path | None) -> Sample:
        question, answer = required(row, "question", "answer")
        answer = str(answer).lower().strip()
        if answer not in ("yes", "no"):
            raise RowError(f"answer {answer!r} is not yes/no")
        sample = Sample(id=self.row_id(row, 0), question=question.strip(), answer=answer,
                        meta={"category": self.row_category(row)})
        return self.with_image(sample, row, root)

    def prompt(self, sample: Sample) -> str:
        return f"{sample.question}{SHORT_ANSWER}"

    def score(self, sample: Sample, prediction: str | None) -> dict[str, Any]:
        if (err := error_score(sample, prediction, self.rule)) is not None:
            return err
        label = pope_label(prediction, self.rule)
        return {"score": float(label == sample.answer), "pred": label, "gt": sample.answer,
                "category": sample.meta.get("category"), "rule": self.rule}

    def aggregate(self, scores: list[dict[str, Any]]) -> dict[str, float]:
        ok, counts = split_errors(scores)
        out = binary_metrics([(s["pred"], s["gt"]) for s in ok], self.rule)
        f1s = []
        for cat in sorted({s["category"] for s in ok if s.get("category")}):
            m = binary_metrics([(s["pred"], s["gt"]) for s in ok if s.get("category") == cat], self.rule)
            out.update({f"{cat}/{k}": v for k, v in m.items()})
            f1s.append(m["f1"])
        out["f1_mean"] = mean(f1s) if f1s else out["f1"]
        return {**out, **counts}
