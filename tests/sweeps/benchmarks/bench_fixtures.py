"""Builders for tiny benchmark directories in each release's exact column schema (written under tmp_path)."""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image


def png(color=(200, 30, 30), size=(16, 16)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def image_struct(data: bytes | None, path: str | None = "x.png") -> dict[str, Any]:
    """The HF `Image` feature as stored in Parquet: {bytes, path}."""
    return {"bytes": data, "path": path}


def write_parquet(root: Path, rows: list[dict[str, Any]], name: str = "test-00000-of-00001.parquet") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / name
    pq.write_table(pa.Table.from_pylist(rows), path)
    return root


def write_jsonl(root: Path, rows: list[dict[str, Any] | str], name: str = "test.jsonl") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / name, "w") as f:
        for r in rows:
            f.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
    return root


def vqav2_row(qid: int, answers: list[str], question="What is it?", answer_type="other") -> dict[str, Any]:
    return {"question_type": "what is", "multiple_choice_answer": answers[0],
            "answers": [{"answer": a, "answer_confidence": "yes", "answer_id": i + 1} for i, a in enumerate(answers)],
            "image_id": qid * 10, "answer_type": answer_type, "question_id": qid, "question": question,
            "image": image_struct(png())}


def pope_row(qid: int, answer: str, category: str, question="Is there a dog in the image?") -> dict[str, Any]:
    return {"id": str(qid), "question_id": str(qid), "question": question, "answer": answer,
            "image_source": f"COCO_val2014_{qid:012d}", "image": image_struct(png()), "category": category}


def mme_row(image_key: str, category: str, question: str, answer: str) -> dict[str, Any]:
    return {"question_id": image_key, "image": image_struct(png()), "question": question, "answer": answer, "category": category}


def mmbench_row(index: int, question: str, options: list[str], answer: str, category="attribute_recognition", hint=None) -> dict[str, Any]:
    row = {"index": index, "question": question, "hint": hint, "answer": answer, "category": category,
           "image": image_struct(png()), "source": "synthetic", "L2-category": "finegrained_perception",
           "comment": None, "split": "dev"}
    for i, letter in enumerate("ABCD"):
        row[letter] = options[i] if i < len(options) else None
    return row
