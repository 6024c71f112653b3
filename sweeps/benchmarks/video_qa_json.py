"""The raw question/answer files of the video QA releases (Video-ChatGPT / Video-LLaVA GPT_Zero_Shot_QA,
MILVLG's ActivityNet-QA), read as they are, no conversion:

    <dir>/<split>_q.json   [{"video_name": str, "question": str, "question_id": str}, ...]
    <dir>/<split>_a.json   [{"answer": str, "type": int (optional), "question_id": str (optional)}, ...]

The two lists pair by position (Video-LLaVA's run_inference_video_qa*.py: `gt_answers[index]`). A row is
the question entry plus the answer's `answer` and `type`. When both entries name a question_id and the
ids differ, the files are out of step there: that row carries `pair_error` (an error sample, counted).
Lists of different lengths cannot be paired at all: ValueError.

`qa_dir(source, folder)` finds the directory holding them: the source itself, or its `folder` (e.g.
GPT_Zero_Shot_QA/ given, MSVD_Zero_Shot_QA/ inside).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator


def qa_files(folder: Path, split: str) -> tuple[Path, Path] | None:
    q, a = folder / f"{split}_q.json", folder / f"{split}_a.json"
    return (q, a) if q.is_file() and a.is_file() else None


def qa_dir(root: Path, split: str, folder: str | None) -> Path | None:
    """The directory under `root` holding <split>_q.json and <split>_a.json (root itself, or root/folder)."""
    for d in [root] + ([root / folder] if folder else []):
        if qa_files(d, split):
            return d
    return None


def _load_list(path: Path) -> list[Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable JSON file ({exc})") from exc
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of entries, got {type(data).__name__}")
    return data


def qa_rows(folder: Path, split: str, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Rows of <split>_q.json joined with <split>_a.json by position (see the module doc)."""
    q_path, a_path = qa_files(folder, split) or (folder / f"{split}_q.json", folder / f"{split}_a.json")
    questions, answers = _load_list(q_path), _load_list(a_path)
    if len(questions) != len(answers):
        raise ValueError(f"{q_path.name} has {len(questions)} entries but {a_path.name} has {len(answers)}; "
                         "they pair by position, so they must be the same length")
    for i, (q, a) in enumerate(zip(questions, answers)):
        if limit is not None and i >= limit:
            return
        if not isinstance(q, dict) or not isinstance(a, dict):
            yield {"__error__": f"{q_path.name}[{i}] / {a_path.name}[{i}]: not JSON objects"}
            continue
        row = {**q, "answer": a.get("answer")}
        if "type" in a and "type" not in q:
            row["type"] = a["type"]
        qid, aid = q.get("question_id"), a.get("question_id")
        if qid is not None and aid is not None and str(qid) != str(aid):
            row["pair_error"] = (f"{q_path.name}[{i}] is question {qid!r} but {a_path.name}[{i}] answers {aid!r}: "
                                "the files are out of step")
        yield row
