"""MM-Vet (Yu et al., 2023): 218 open-ended questions, GPT-graded 0-1 with the MM-Vet grading prompt.

Hub: lmms-lab/MMVet | lmms-lab-encoder/MMVet, split test.
Row: question_id ("v1_0"...), image, question, answer (may contain <AND> / <OR>), image_source,
     capability (comma-separated: rec, ocr, know, gen, spat, math).
Prompt: the question as is (LLaVA-1.5). Score: the judge completes the MM-Vet few-shot table
"question | ground truth | prediction |" with a correctness in [0, 1] (first token of its reply);
anything else is a per-sample error. Aggregate: mean score and per capability, both in [0, 1].
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from sweeps.benchmarks.base import Sample
from sweeps.benchmarks.loading import HubBenchmark, required
from sweeps.benchmarks.scoring import error_score, mean, split_errors
from sweeps.judge import Judge, as_judge, judged

PROMPT_VERSION = "mmvet-v1"
CAPABILITIES = ("rec", "ocr", "know", "gen", "spat", "math")
_MEME_Q = "Can you explain this meme?"
_MEME_GT = ("This meme is poking fun at the fact that the names of the countries Iceland and Greenland are misleading. "
            "Despite its name, Iceland is known for its beautiful green landscapes, while Greenland is mostly covered "
            "in ice and snow. The meme is saying that the person has trust issues because the names of these countries "
            "do not accurately represent their landscapes.")
# The MM-Vet grader's instruction and in-context examples (MM-Vet repo, mm-vet_evaluator).
GRADER_PROMPT = "\n".join([
    "Compare the ground truth and prediction from AI models, to give a correctness score for the prediction. "
    "<AND> in the ground truth means it is totally right only when all elements in the ground truth are present in "
    "the prediction, and <OR> means it is totally right when any one element in the ground truth is present in the "
    "prediction. The correctness score is 0.0 (totally wrong), 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, or 1.0 "
    "(totally right). Just complete the last space of the correctness score.",
    "",
    "Question | Ground truth | Prediction | Correctness",
    "--- | --- | --- | ---",
    "What is x in the equation? | -1 <AND> -5 | x = 3 | 0.0",
    "What is x in the equation? | -1 <AND> -5 | x = -1 | 0.5",
    "What is x in the equation? | -1 <AND> -5 | x = -5 | 0.5",
    "What is x in the equation? | -1 <AND> -5 | x = -5 or 5 | 0.5",
    "What is x in the equation? | -1 <AND> -5 | x = -1 or x = -5 | 1.0",
    f"{_MEME_Q} | {_MEME_GT} | The meme talks about Iceland and Greenland. It's pointing out that despite their "
    "names, Iceland is not very icy and Greenland isn't very green. | 0.4",
    f"{_MEME_Q} | {_MEME_GT} | The meme is using humor to point out the misleading nature of Iceland's and "
    "Greenland's names. Iceland, despite its name, has lush green landscapes while Greenland is mostly covered in ice "
    "and snow. The text 'This is why I have trust issues' is a playful way to suggest that these contradictions can "
    "lead to distrust or confusion. The humor in this meme is derived from the unexpected contrast between the names "
    "of the countries and their actual physical characteristics. | 1.0",
])


def grader_query(question: str, answer: str, prediction: str) -> str:
    gt = answer.replace("<AND>", " <AND> ").replace("<OR>", " <OR> ")
    return f"{GRADER_PROMPT}\n{question} | {gt} | {prediction} |"


def parse_correctness(reply: str) -> float:
    value = float(reply.strip().split(" ")[0])
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"correctness {value} outside [0, 1]")
    return value


class MMVet(HubBenchmark):
    name: ClassVar[str] = "mmvet"
    hub_ids: ClassVar[tuple[str, ...]] = ("lmms-lab/MMVet", "lmms-lab-encoder/MMVet")
    default_split: ClassVar[str] = "test"
    max_new_tokens: ClassVar[int] = 1024
    primary_metric: ClassVar[str] = "score"
    needs_judge: ClassVar[bool] = True

    def __init__(self, judge: Judge | dict | bool | None = None, rule: str = "llava"):
        super().__init__(rule)          # lmms-eval's mmvet grades with the same MM-Vet prompt: one rule here
        self.judge = as_judge(judge)

    def row_category(self, row: dict[str, Any]) -> str | None:
        caps = row.get("capability")
        if isinstance(caps, (list, tuple)):
            caps = ",".join(caps)
        return str(caps) if caps else None

    def to_sample(self, row: dict[str, Any], root: Path | None) -> Sample:
        question, answer = required(row, "question", "answer")
        sample = Sample(id=str(row["question_id"]), question=question, answer=str(answer),
                        meta={"category": self.row_category(row)})
        return self.with_image(sample, row, root)

    def prompt(self, sample: Sample) -> str:
        return sample.question

    def score(self, sample: Sample, prediction: str | None) -> dict[str, Any]:
        if (err := error_score(sample, prediction, self.rule)) is not None:
            return err
        category = sample.meta.get("category")
        messages = [{"role": "user", "content": grader_query(sample.question, sample.answer, prediction)}]
        value, err = judged(self.judge, self.name, category, messages, PROMPT_VERSION, parse_correctness, max_tokens=3)
        return {**err, "rule": self.rule} if err else {"score": value, "category": category, "rule": self.rule}

    def aggregate(self, scores: list[dict[str, Any]]) -> dict[str, float]:
        ok, counts = split_errors(scores)
        out = {"score": mean([s["score"] for s in ok])}
        for cap in CAPABILITIES:
            vals = [s["score"] for s in ok if cap in str(s.get("category") or "").split(",")]
            if vals:
                out[f"score_by_capability/{cap}"] = mean(vals)
        return {**out, **counts}
