"""MME (Fu et al., 2023): yes/no question pairs per image over 10 perception and 4 cognition subtasks.

Hub: lmms-lab/MME | lmms-lab-encoder/MME, split test.
Row: question_id (image key, e.g. "code_reasoning/0020.png"; shared by the image's two questions),
     image, question (ends with " Please answer yes or no."), answer ("Yes"/"No"), category (subtask).
Prompt: the dataset's " Please answer yes or no." is replaced by the short-answer suffix.
Score: MME's parse (lower-case, drop "."; "yes"/"no"; "y"/"n"; else "yes"/"no" within the first 4
characters; else "other"). Per subtask: acc x100 (questions right) + acc+ x100 (images with both
right), the MME calculation; perception = sum of the 10 perception subtasks (max 2000), cognition =
sum of the 4 cognition subtasks (max 800). With errors: acc over the scored questions, acc+ over
images none of whose questions errored. rule="lmms_eval" (mme_aggregate_results): the same parse; per
subtask the mean over images of (100 * image accuracy + 100 * both right), summed in the order the
subtasks first appear; the same numbers for image pairs, bit for bit as lmms-eval adds them.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, ClassVar

from sweeps.benchmarks.base import Sample
from sweeps.benchmarks.lite import DEFAULT_SEED
from sweeps.benchmarks.loading import HubBenchmark, RowError, required
from sweeps.benchmarks.scoring import error_score, split_errors
from sweeps.benchmarks.vqav2 import SHORT_ANSWER

PERCEPTION = ("existence", "count", "position", "color", "posters", "celebrity", "scene", "landmark", "artwork", "OCR")
COGNITION = ("commonsense_reasoning", "numerical_calculation", "text_translation", "code_reasoning")
DATASET_SUFFIX = " Please answer yes or no."


def mme_label(prediction: str) -> str:
    text = prediction.lower().strip().replace(".", "")
    if text in ("yes", "no"):
        return text
    if len(text) == 1:
        return {"y": "yes", "n": "no"}.get(text, "other")
    head = text[:4]
    return "yes" if "yes" in head else "no" if "no" in head else "other"


def lmms_mme_aggregate(scores: list[dict[str, Any]]) -> dict[str, float]:
    """lmms-eval's arithmetic: per image acc = sum/len*100, acc+ = 100 if all right; per subtask the mean
    over images; perception / cognition = sums over their subtasks in order of first appearance."""
    ok, counts = split_errors(scores)
    errored_images = {s.get("image_key") for s in scores if s.get("error")}
    per_task: dict[str, dict[str, list[float]]] = defaultdict(dict)
    for s in ok:
        if s["image_key"] not in errored_images:
            per_task[s["category"]].setdefault(s["image_key"], []).append(s["score"])
    out: dict[str, float] = {}
    for task, images in per_task.items():
        total = 0
        for vals in images.values():
            acc = sum(vals) / len(vals) * 100.0
            acc_plus = all(v == 1.0 for v in vals) * 100.0
            total += acc_plus + acc
        out[f"subtask/{task}"] = total / len(images)
    perception = [v for t, v in out.items() if t[len("subtask/"):] in PERCEPTION]
    cognition = [v for t, v in out.items() if t[len("subtask/"):] not in PERCEPTION]
    out["perception"], out["cognition"] = sum(perception), sum(cognition)
    out["total"] = out["perception"] + out["cognition"]
    return {**dict(sorted(out.items())), **counts}


class MME(HubBenchmark):
    name: ClassVar[str] = "mme"
    hub_ids: ClassVar[tuple[str, ...]] = ("lmms-lab/MME", "lmms-lab-encoder/MME")
    default_split: ClassVar[str] = "test"
    max_new_tokens: ClassVar[int] = 16
    primary_metric: ClassVar[str] = "perception"
    category_column: ClassVar[str | None] = "category"

    def row_id(self, row: dict[str, Any], position: int) -> str:
        return f"{row.get('question_id')}#{position}"

    def row_group(self, row: dict[str, Any], position: int) -> str:
        return f"{row.get('category')}/{row.get('question_id')}"

    def load(self, source=None, split=None, limit=None, seed=DEFAULT_SEED) -> list[Sample]:
        rows, root = self.sampled_rows(source, split, limit, seed)
        seen: dict[str, int] = defaultdict(int)
        samples = []
        for i, row in enumerate(rows):
            s = self.safe_sample(row, root, i)
            key = str(row.get("question_id"))
            s.id = f"{key}#{seen[key]}"            # two questions per image: image key + question number
            seen[key] += 1
            samples.append(s)
        return samples

    def to_sample(self, row: dict[str, Any], root: Path | None) -> Sample:
        question, answer, image_key, category = required(row, "question", "answer", "question_id", "category")
        answer = str(answer).lower().strip().replace(".", "")
        if answer not in ("yes", "no"):
            raise RowError(f"answer {answer!r} is not yes/no")
        sample = Sample(id=str(image_key), question=question, answer=answer,
                        meta={"category": str(category), "image_key": f"{category}/{image_key}"})
        return self.with_image(sample, row, root)

    def prompt(self, sample: Sample) -> str:
        return f"{sample.question.strip().replace(DATASET_SUFFIX, '')}{SHORT_ANSWER}"

    def score(self, sample: Sample, prediction: str | None) -> dict[str, Any]:
        image_key = sample.meta.get("image_key", sample.id)
        if (err := error_score(sample, prediction, self.rule)) is not None:
            return {**err, "image_key": image_key, "rule": self.rule}
        label = mme_label(prediction)
        return {"score": float(label == sample.answer), "pred": label, "category": sample.meta["category"], "image_key": image_key,
                "rule": self.rule}

    def aggregate(self, scores: list[dict[str, Any]]) -> dict[str, float]:
        if self.rule == "lmms_eval":
            return lmms_mme_aggregate(scores)
        ok, counts = split_errors(scores)
        errored_images = {s.get("image_key") for s in scores if s.get("error")}
        per_task: dict[str, list[float]] = defaultdict(list)
        per_image: dict[tuple[str, str], list[float]] = defaultdict(list)
        for s in ok:
            per_task[s["category"]].append(s["score"])
            if s["image_key"] not in errored_images:
                per_image[(s["category"], s["image_key"])].append(s["score"])
        out: dict[str, float] = {}
        for task, vals in sorted(per_task.items()):
            images = [v for (t, _), v in per_image.items() if t == task]
            acc = 100.0 * sum(vals) / len(vals)
            acc_plus = 100.0 * sum(all(x == 1.0 for x in v) for v in images) / len(images) if images else 0.0
            out[f"subtask/{task}"] = acc + acc_plus
        out["perception"] = sum(out.get(f"subtask/{t}", 0.0) for t in PERCEPTION)
        out["cognition"] = sum(out.get(f"subtask/{t}", 0.0) for t in COGNITION)
        out["total"] = out["perception"] + out["cognition"]
        return {**out, **counts}
