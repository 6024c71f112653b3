"""The shared video QA protocol (Video-ChatGPT, Maaz et al., 2023; as used by Video-LLaVA):
8 uniformly sampled frames per video, the question as is, and a GPT judge that answers a yes/no
match and a 0-5 score; report accuracy (share of "yes") and the mean score.

Rows (the Video-LLaVA / Video-ChatGPT QA json fields): question_id (or id), question, answer,
video_name (or video / video_id), optional type. A source is a hub id, a Parquet/JSONL directory, or the
release's own folder: <split>_q.json + <split>_a.json paired by position (video_qa_json.py). Frames come
from, in order of preference:
  frames      list of images (Image structs {bytes, path}, bytes, or paths relative to the directory)
  frames_dir  a directory of frame images (sorted by name)
  video       a video file, absolute or relative to the directory
  video_name  (or video_id): the release's own file, e.g. ActivityNet-QA all_test/v_<name>.mp4, found
              loose or inside zip archives (video_files.py, which lists each release's layout)
decoded with PyAV (video_frames.py) and sampled uniformly to FRAMES with indices linspace(0, F-1, 8)
truncated, as Video-LLaVA does. A row whose video is missing or unreadable is an error sample that says why.
"""
from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Any, ClassVar

from sweeps.benchmarks.base import Sample
from sweeps.benchmarks.loading import MANIFEST, HubBenchmark, RowError, image_bytes, is_local, required
from sweeps.benchmarks.scoring import error_score, mean, split_errors
from sweeps.benchmarks.video_files import VideoFiles, hub_archives
from sweeps.benchmarks.video_frames import frame_indices
from sweeps.benchmarks.video_qa_json import qa_dir, qa_rows
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


uniform_indices = frame_indices   # numpy.linspace(0, n-1, k, dtype=int); k frames always (short videos repeat)


def parse_verdict(reply: str) -> tuple[str, int]:
    """Video-ChatGPT's parse: a Python dict literal with 'pred' (yes/no) and an integer 'score' in 0..5."""
    verdict = ast.literal_eval(reply.strip())
    pred, score = str(verdict["pred"]).strip().lower(), int(verdict["score"])
    if pred not in ("yes", "no") or not 0 <= score <= 5:
        raise ValueError(f"verdict out of range: {verdict!r}")
    return pred, score


class VideoQA(HubBenchmark):
    """Base of the four video QA benchmarks; subclasses set name, hub_ids, default_split and where the
    release keeps its files (video_files.py): qa_folder (the <split>_q.json / <split>_a.json folder under
    GPT_Zero_Shot_QA), video_folders and video_prefixes under it, and lmms_cache (lmms-eval's unpacked
    copy under $HF_HOME, for hub rows).

    videos: a directory holding the videos (as the release lays them out, loose or in zip archives); it is
    searched before the source's own directory. Needed for hub rows unless lmms-eval's cache or the hub
    repo's archives have them.
    """

    max_new_tokens: ClassVar[int] = 64
    primary_metric: ClassVar[str] = "accuracy"
    needs_judge: ClassVar[bool] = True
    category_column: ClassVar[str | None] = "type"
    image_columns: ClassVar[tuple[str, ...]] = ()
    qa_folder: ClassVar[str | None] = None
    video_folders: ClassVar[tuple[str, ...]] = ("", "videos")
    video_prefixes: ClassVar[tuple[str, ...]] = ("",)
    lmms_cache: ClassVar[str | None] = None

    def __init__(self, judge: Judge | dict | bool | None = None, frames: int = FRAMES, rule: str = "llava",
                 videos: str | None = None):
        super().__init__(rule)          # the Video-ChatGPT judge protocol: the same under every rule
        self.judge, self.frames = as_judge(judge), frames
        if videos is not None and not isinstance(videos, (str, os.PathLike)):
            raise TypeError(f"videos must be a directory path, got {videos!r}")
        self.videos = None if videos is None else Path(os.path.expanduser(str(videos)))
        if self.videos is not None and not self.videos.is_dir():
            raise ValueError(f"videos: {str(videos)!r} is not a directory")
        self._source: str | None = None
        self._files: dict[str, VideoFiles] = {}

    @property
    def params(self) -> dict[str, Any]:
        return {**super().params, **({"videos": str(self.videos)} if self.videos else {})}

    def rows(self, source: str | None = None, split: str | None = None, limit: int | None = None):
        """Rows of a local directory in the release's raw layout (<split>_q.json + <split>_a.json, paired by
        position: video_qa_json.py), else of Parquet/JSONL or the hub (HubBenchmark.rows)."""
        self._source = source or (self.hub_ids[0] if self.hub_ids else None)
        split = split or self.default_split
        if source is not None and is_local(source):
            root = Path(os.path.expanduser(source)).resolve()
            if not (root / MANIFEST).is_file() and (folder := qa_dir(root, split, self.qa_folder)) is not None:
                if limit is not None and limit < 0:
                    raise ValueError(f"limit must be >= 0, got {limit}")
                return qa_rows(folder, split, limit), folder
        return super().rows(source, split, limit)

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
            if row.get("pair_error") or row.get("frames_error"):
                raise RowError(row.get("pair_error") or row["frames_error"])
            sample.frames = self.read_frames(row, root)
        except RowError as exc:
            sample.error = str(exc)
        return sample

    def video_files(self, root: Path | None) -> VideoFiles:
        """The video files a row may name: the `videos` directory, the rows' directory (local sources), lmms-eval's
        unpacked cache and the hub repo's zip archives (hub sources)."""
        key = str(root)
        if key not in self._files:
            roots = [self.videos] if self.videos else []
            if root is not None:
                roots += [root] + ([root / self.qa_folder] if self.qa_folder else [])
            elif self.lmms_cache:
                roots.append(Path(os.path.expanduser(os.environ.get("HF_HOME", "~/.cache/huggingface"))) / self.lmms_cache)
            hub = self._source if root is None and self._source and not is_local(self._source) else None
            self._files[key] = VideoFiles(roots, self.video_folders, self.video_prefixes,
                                          more=(lambda: [hub_archives(hub)]) if hub else None)
        return self._files[key]

    def read_frames(self, row: dict[str, Any], root: Path | None) -> list[bytes]:
        if row.get("frames"):
            frames = list(row["frames"])
            return [image_bytes(frames[i], root) for i in uniform_indices(len(frames), self.frames)]
        if row.get("frames_dir"):
            folder = Path(row["frames_dir"]) if root is None else root / row["frames_dir"]
            files = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
            return [image_bytes(str(files[i]), None) for i in uniform_indices(len(files), self.frames)]
        name = row.get("video") or row.get("video_name") or row.get("video_id")
        if not name:
            raise RowError("no frames, frames_dir, video or video_name in the row")
        return self.video_files(root).frames(str(name), self.frames)

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
