"""The shared video QA protocol (Video-ChatGPT, Maaz et al., 2023; as used by Video-LLaVA):
8 uniformly sampled frames per video, the question as is, and a GPT judge that answers a yes/no
match and a 0-5 score; report accuracy (share of "yes") and the mean score.

Rows (the Video-LLaVA / Video-ChatGPT QA json fields): question_id (or id), question, answer,
video_name (or video / video_id), optional type. Frames come from, in order of preference:
  frames      list of images (Image structs {bytes, path}, bytes, or paths relative to the directory)
  frames_dir  a directory of frame images (sorted by name)
  video       a video file, absolute or relative to the directory (decoded with PyAV: video_frames.py)
  video_name  (or video_id) when none of the above: the file <dir>[/videos]/<name>[.mp4|.avi|.mov|.mkv|.webm|.gif]
              (Video-LLaVA's eval keeps videos next to the question json and tries those suffixes)
and are sampled uniformly to FRAMES with indices linspace(0, n-1, 8) truncated, as Video-LLaVA does.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, ClassVar

from sweeps.benchmarks.base import Sample
from sweeps.benchmarks.loading import HubBenchmark, RowError, image_bytes, required
from sweeps.benchmarks.scoring import error_score, mean, split_errors
from sweeps.benchmarks.video_frames import frame_indices, sample_frames
from sweeps.judge import Judge, as_judge, judged

FRAMES = 8
PROMPT_VERSION = "video-chatgpt-qa-v1"
SYSTEM = (
    "You are an intelligent chatbot designed for evaluating the correctness of generative outputs for question-answer pairs. "
    "Your task is to compare the predicted answer with the correct answer and determine if they match meaningfully. "
    "Here's how you can accomplish the task:------##INSTRUCTIONS: "
    "- Focus on the meaningful match between the predicted answer and the correct answer.\n"
    "- Consider synonyms or paraphrases as valid matches.\n"
    "- Evaluate the correctness of the prediction compared to the answer.")
USER = (
    "Please evaluate the following video-based question-answer pair:\n\n"
    "Question: {question}\nCorrect Answer: {answer}\nPredicted Answer: {prediction}\n\n"
    "Provide your evaluation only as a yes/no and score where the score is an integer value between 0 and 5, "
    "with 5 indicating the highest meaningful match. Please generate the response in the form of a Python dictionary "
    "string with keys 'pred' and 'score', where value of 'pred' is  a string of 'yes' or 'no' and value of 'score' is "
    "in INTEGER, not STRING.DO NOT PROVIDE ANY OTHER OUTPUT TEXT OR EXPLANATION. Only provide the Python dictionary "
    "string. For example, your response should look like this: {{'pred': 'yes', 'score': 4.8}}.")


VIDEO_SUFFIXES = ("", ".mp4", ".avi", ".mov", ".mkv", ".webm", ".gif")
uniform_indices = frame_indices   # numpy.linspace(0, n-1, k, dtype=int); k frames always (short videos repeat)


def find_video(name: str, root: Path | None) -> Path | None:
    """The video file a row names: absolute, or under the directory (or its videos/), as is or with a video suffix."""
    p = Path(name)
    folders = [None] if p.is_absolute() or root is None else [root, root / "videos"]
    for folder in folders:
        base = p if folder is None else folder / p
        for suffix in VIDEO_SUFFIXES:
            candidate = Path(f"{base}{suffix}")
            if candidate.is_file():
                return candidate
    return None


def parse_verdict(reply: str) -> tuple[str, int]:
    """Video-ChatGPT's parse: a Python dict literal with 'pred' (yes/no) and an integer 'score' in 0..5."""
    verdict = ast.literal_eval(reply.strip())
    pred, score = str(verdict["pred"]).strip().lower(), int(verdict["score"])
    if pred not in ("yes", "no") or not 0 <= score <= 5:
        raise ValueError(f"verdict out of range: {verdict!r}")
    return pred, score


class VideoQA(HubBenchmark):
    """Base of the four video QA benchmarks; subclasses set name, hub_ids and default_split."""

    max_new_tokens: ClassVar[int] = 64
    primary_metric: ClassVar[str] = "accuracy"
    needs_judge: ClassVar[bool] = True
    category_column: ClassVar[str | None] = "type"
    image_columns: ClassVar[tuple[str, ...]] = ()

    def __init__(self, judge: Judge | dict | bool | None = None, frames: int = FRAMES, rule: str = "llava"):
        super().__init__(rule)          # the Video-ChatGPT judge protocol: the same under every rule
        self.judge, self.frames = as_judge(judge), frames

    def row_id(self, row: dict[str, Any], position: int) -> str:
        for c in ("question_id", "id"):
            if row.get(c) is not None:
                return str(row[c])
        return f"row{position}"

    def to_sample(self, row: dict[str, Any], root: Path | None) -> Sample:
        question, answer = required(row, "question", "answer")
        video = row.get("video_name") or row.get("video_id") or row.get("video")
        sample = Sample(id=self.row_id(row, 0), question=str(question), answer=str(answer),
                        meta={"category": self.row_category(row), "video": None if video is None else str(video)})
        try:
            sample.frames = self.read_frames(row, root)
        except RowError as exc:
            sample.error = str(exc)
        return sample

    def read_frames(self, row: dict[str, Any], root: Path | None) -> list[bytes]:
        if row.get("frames"):
            frames = list(row["frames"])
            return [image_bytes(frames[i], root) for i in uniform_indices(len(frames), self.frames)]
        if row.get("frames_dir"):
            folder = Path(row["frames_dir"]) if root is None else root / row["frames_dir"]
            files = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
            return [image_bytes(str(files[i]), None) for i in uniform_indices(len(files), self.frames)]
        if row.get("video"):
            path = find_video(str(row["video"]), root)
            if path is None:
                raise RowError(f"missing video file {row['video']!r}")
            return sample_frames(path, self.frames)
        name = row.get("video_name") or row.get("video_id")
        if name and (path := find_video(str(name), root)) is not None:
            return sample_frames(path, self.frames)
        raise RowError("no frames, frames_dir or video in the row, and no video file named by video_name "
                       "(stage the benchmark with frames)")

    def prompt(self, sample: Sample) -> str:
        return sample.question

    def score(self, sample: Sample, prediction: str | None) -> dict[str, Any]:
        if (err := error_score(sample, prediction, self.rule)) is not None:
            return err
        category = sample.meta.get("category")
        messages = [{"role": "system", "content": SYSTEM},
                    {"role": "user", "content": USER.format(question=sample.question, answer=sample.answer, prediction=prediction)}]
        verdict, err = judged(self.judge, self.name, category, messages, PROMPT_VERSION, parse_verdict, max_tokens=64)
        if err:
            return {**err, "rule": self.rule}
        pred, value = verdict
        return {"score": float(pred == "yes"), "judge_pred": pred, "judge_score": value, "category": category,
                "rule": self.rule}

    def aggregate(self, scores: list[dict[str, Any]]) -> dict[str, float]:
        ok, counts = split_errors(scores)
        return {"accuracy": mean([s["score"] for s in ok]), "mean_score": mean([float(s["judge_score"]) for s in ok]), **counts}
