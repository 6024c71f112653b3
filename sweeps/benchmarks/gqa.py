"""GQA (Hudson & Manning, 2019), testdev-balanced, exact match as LLaVA's GQA evaluation.

Hub: lmms-lab/GQA | lmms-lab-encoder/GQA, config testdev_balanced_instructions, split testdev; the
images live in config testdev_balanced_images (columns id, image) and are joined on imageId.
Row: id, imageId, question, answer, fullAnswer, isBalanced, groups, entailed, equivalent,
     types {structural, semantic, detailed}, annotations, semantic, semanticStr.
A staged / local copy carries the joined `image` column (or an image path; else images/<imageId>.jpg).
Score: LLaVA's convert_gqa_for_eval: prediction stripped, trailing "." removed, lower-cased; exact
match against the lower-cased answer. rule="lmms_eval" (gqa.yaml: exact_match, ignore_case,
ignore_punctuation): the reply stripped, both sides lower-cased and every string.punctuation character
deleted, then equal ("Yes!" matches "yes"; the answer itself is not stripped). Category: types.structural (verify/query/choose/logical/compare).
"""
from __future__ import annotations

import string
from pathlib import Path
from typing import Any, ClassVar, Iterator

from sweeps.benchmarks.base import Sample
from sweeps.benchmarks.loading import HubBenchmark, hub_dataset, read_local_rows, required
from sweeps.benchmarks.scoring import error_score, mean, mean_by, split_errors
from sweeps.benchmarks.vqav2 import SHORT_ANSWER

IMAGES_CONFIG = "testdev_balanced_images"


_NO_PUNCTUATION = str.maketrans("", "", string.punctuation)


def gqa_answer(prediction: str) -> str:
    return prediction.strip().rstrip(".").lower()


def lmms_exact(text: str) -> str:
    """One side of lmms-eval's exact_match(ignore_case, ignore_punctuation); numpy's str arrays drop trailing NULs."""
    return text.rstrip("\x00").lower().translate(_NO_PUNCTUATION).rstrip("\x00")


class GQA(HubBenchmark):
    name: ClassVar[str] = "gqa"
    hub_ids: ClassVar[tuple[str, ...]] = ("lmms-lab/GQA", "lmms-lab-encoder/GQA")
    hub_config: ClassVar[str | None] = "testdev_balanced_instructions"
    default_split: ClassVar[str] = "testdev"
    max_new_tokens: ClassVar[int] = 16
    primary_metric: ClassVar[str] = "accuracy"
    id_column: ClassVar[str] = "id"

    def row_category(self, row: dict[str, Any]) -> str | None:
        types = row.get("types")
        return types.get("structural") if isinstance(types, dict) else None

    def attach(self, rows, root, source, split):
        """Images from the sibling testdev_balanced_images config (id, image), joined on imageId: on the hub,
        or beside the instructions in a local download (<dir>/testdev_balanced_images, or the instructions
        directory's sibling). A staged copy already carries them; a row left without one falls back to
        images/<imageId>.jpg in to_sample."""
        rows = list(rows)
        if all(r.get("image") is not None for r in rows):
            return iter(rows)
        split = split or self.default_split
        if root is None:
            images = hub_dataset(source or self.hub_ids[0], IMAGES_CONFIG, split, self.stage_hint(split))
        else:
            folder = next((d for d in (root / IMAGES_CONFIG, root.parent / IMAGES_CONFIG) if d.is_dir()), None)
            if folder is None:
                return iter(rows)
            images = read_local_rows(folder, split, None, None)
        return self._join(rows, images)

    @staticmethod
    def _join(rows: list[dict[str, Any]], images) -> Iterator[dict[str, Any]]:
        wanted = {r.get("imageId") for r in rows if r.get("image") is None}
        by_id = {r["id"]: r["image"] for r in images if r.get("id") in wanted}
        for r in rows:
            yield r if r.get("image") is not None else {**r, "image": by_id.get(r.get("imageId"))}

    def to_sample(self, row: dict[str, Any], root: Path | None) -> Sample:
        question, answer = required(row, "question", "answer")
        sample = Sample(id=str(row["id"]), question=question, answer=answer,
                        meta={"category": self.row_category(row), "image_id": row.get("imageId")})
        if row.get("image") is None and root is not None and row.get("imageId"):
            row = {**row, "image": f"images/{row['imageId']}.jpg"}
        return self.with_image(sample, row, root)

    def prompt(self, sample: Sample) -> str:
        return f"{sample.question}{SHORT_ANSWER}"

    def score(self, sample: Sample, prediction: str | None) -> dict[str, Any]:
        if (err := error_score(sample, prediction, self.rule)) is not None:
            return err
        if self.rule == "lmms_eval":
            answer = lmms_exact(prediction.strip())
            right = answer == lmms_exact(str(sample.answer))
        else:
            answer = gqa_answer(prediction)
            right = answer == str(sample.answer).strip().lower()
        return {"score": float(right), "answer": answer, "category": sample.meta.get("category"), "rule": self.rule}

    def aggregate(self, scores: list[dict[str, Any]]) -> dict[str, float]:
        ok, counts = split_errors(scores)
        return {"accuracy": mean([s["score"] for s in ok]), **mean_by(ok, "category"), **counts}
