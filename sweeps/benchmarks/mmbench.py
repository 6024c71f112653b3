"""MMBench EN / CN (Liu et al., 2023), dev split, with circular evaluation.

Hub: lmms-lab/MMBench | lmms-lab-encoder/MMBench, config en / cn, split dev.
Row: index, question, hint, A, B, C, D (missing options null / "nan"), answer (letter), category,
     L2-category, source, split, comment, image. The dev release is already circular: rotation k of
     question q has index q + k*1e6 with the options shifted; circular=True expands a release that is
     not (LLaVA's --all-rounds rotation) so the protocol is the same either way.
Prompt (LLaVA-1.5 model_vqa_mmbench): hint + "\\n" (when present) + question + "\\nA. ...\\nB. ..." +
EN "\\nAnswer with the option's letter from the given choices directly." / CN "\\n请直接使用所提供的选项字母作为答案回答。"
Score: option letter read by MMBench's rule-based matcher (options.extract_letter; no GPT fallback);
a question counts only if every rotation (rows with equal index % 1e6) is right.
rule="lmms_eval" (MMBench_Evaluator.eval_result, "static" method of mmbench_en_dev_static): the letter
from can_infer_option over A-E (a reply "A, not C" to two options reads C), else can_infer_text over the
non-null A-D values, else lmms-eval's static extract_mcq_answer; a question counts only when its
rotation-0 row (index < 1e6) is present, and takes that row's category. Prompts are the same under both.
"""
from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any, ClassVar

from sweeps.benchmarks.base import Sample
from sweeps.benchmarks.loading import HubBenchmark, RowError, required
from sweeps.benchmarks.options import LETTERS, extract_letter, lmms_letter, option_lines
from sweeps.benchmarks.scoring import error_score, mean, split_errors

ROTATION = 1_000_000          # index offset of each circular copy, as in the MMBench release


def present(value: Any) -> bool:
    return value is not None and str(value).strip() != "" and str(value) != "nan"


def raw_choices(row: dict[str, Any]) -> dict[str, str]:
    """A-D values lmms-eval reads as options: anything not null/NaN (a "nan" or "" string counts)."""
    out = {}
    for c in "ABCD":
        v = row.get(c)
        if v is not None and not (isinstance(v, float) and math.isnan(v)):
            out[c] = str(v)
    return out


def options_of(row: dict[str, Any]) -> list[str]:
    return [str(row[c]) for c in "ABCDE" if present(row.get(c))]


def rotations(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The row and its circular copies: options shifted left by k, answer letter moved with its option."""
    opts = options_of(row)
    k_answer = LETTERS.index(str(row["answer"]).strip())
    out = []
    for k in range(len(opts)):
        shifted = opts[k:] + opts[:k]
        copy = {**row, **{LETTERS[i]: shifted[i] for i in range(len(opts))}}
        copy["index"] = int(row["index"]) + k * ROTATION
        copy["answer"] = LETTERS[(k_answer - k) % len(opts)]
        out.append(copy)
    return out


def _rotation(sample_id: str) -> int | None:
    try:
        return int(sample_id) // ROTATION
    except ValueError:
        return None


class MMBenchEN(HubBenchmark):
    name: ClassVar[str] = "mmbench_en"
    hub_ids: ClassVar[tuple[str, ...]] = ("lmms-lab/MMBench", "lmms-lab-encoder/MMBench")
    hub_config: ClassVar[str | None] = "en"
    default_split: ClassVar[str] = "dev"
    max_new_tokens: ClassVar[int] = 16
    primary_metric: ClassVar[str] = "accuracy"
    id_column: ClassVar[str] = "index"
    category_column: ClassVar[str | None] = "category"
    suffix: ClassVar[str] = "\nAnswer with the option's letter from the given choices directly."

    def __init__(self, circular: bool = True, rule: str = "llava"):
        super().__init__(rule)
        self.circular = circular

    def row_group(self, row: dict[str, Any], position: int) -> str:
        return str(int(row.get("index", position)) % ROTATION)

    def rows(self, source=None, split=None, limit=None):
        rows, root = super().rows(source, split, None)
        rows = list(rows)
        if self.circular and not any(int(r.get("index") or 0) >= ROTATION for r in rows):
            expanded = []
            for r in rows:
                try:
                    expanded.extend(rotations(r))
                except (KeyError, ValueError, TypeError):
                    expanded.append(r)          # malformed: becomes an error sample in load
            rows = sorted(expanded, key=lambda r: (int(r.get("index") or 0) % ROTATION, int(r.get("index") or 0)))
        return iter(rows[:limit] if limit is not None else rows), root

    def to_sample(self, row: dict[str, Any], root: Path | None) -> Sample:
        question, answer, index = required(row, "question", "answer", "index")
        opts = options_of(row)
        if str(answer).strip() not in LETTERS[: len(opts)]:
            raise RowError(f"answer {answer!r} is not one of the {len(opts)} option letters")
        sample = Sample(id=str(index), question=question, answer=str(answer).strip(),
                        meta={"category": self.row_category(row), "options": opts,
                              "hint": str(row["hint"]) if present(row.get("hint")) else "",
                              "group": int(index) % ROTATION, "l2_category": row.get("L2-category"),
                              "choices": raw_choices(row)})
        return self.with_image(sample, row, root)

    def prompt(self, sample: Sample) -> str:
        question = f"{sample.meta['hint']}\n{sample.question}" if sample.meta["hint"] else sample.question
        return f"{question}\n{option_lines(sample.meta['options'])}{self.suffix}"

    def score(self, sample: Sample, prediction: str | None) -> dict[str, Any]:
        group = sample.meta.get("group", sample.id)
        if (err := error_score(sample, prediction, self.rule)) is not None:
            return {**err, "group": group, "rotation": _rotation(sample.id), "rule": self.rule}
        if self.rule == "lmms_eval":
            letter = lmms_letter(prediction, sample.meta.get("choices", {}))
        else:
            letter = extract_letter(prediction, sample.meta["options"])
        return {"score": float(letter == sample.answer), "answer": letter, "group": group,
                "rotation": _rotation(sample.id), "category": sample.meta.get("category"), "rule": self.rule}

    def aggregate(self, scores: list[dict[str, Any]]) -> dict[str, float]:
        ok, counts = split_errors(scores)
        errored = {s.get("group") for s in scores if s.get("error")}
        groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for s in ok:
            if s["group"] not in errored:
                groups[s["group"]].append(s)
        if self.rule == "lmms_eval":       # a question is one whose rotation-0 row is there; its category is that row's
            groups = {g: sorted(ss, key=lambda s: s.get("rotation") != 0) for g, ss in groups.items()
                      if any(s.get("rotation") == 0 for s in ss)}
        hits = {g: all(s["score"] == 1.0 for s in ss) for g, ss in groups.items()}
        by_cat: dict[str, list[float]] = defaultdict(list)
        for g, ss in groups.items():
            if ss[0].get("category") is not None:
                by_cat[str(ss[0]["category"])].append(float(hits[g]))
        return {"accuracy": mean([float(h) for h in hits.values()]),
                "accuracy_single": mean([s["score"] for s in ok if s.get("rotation") == 0]),
                **{f"acc_by_category/{c}": mean(v) for c, v in sorted(by_cat.items())},
                "n_questions": float(len(groups)), "n_error_questions": float(len(errored)), **counts}


class MMBenchCN(MMBenchEN):
    name: ClassVar[str] = "mmbench_cn"
    hub_config: ClassVar[str | None] = "cn"
    suffix: ClassVar[str] = "\n请直接使用所提供的选项字母作为答案回答。"
