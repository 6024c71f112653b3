"""TGIF-QA (Jang et al., 2017), FrameQA, zero-shot open-ended QA under the Video-ChatGPT GPT-judge protocol (sweeps/benchmarks/video_qa.py).

No hub release. Source: Video-LLaVA's TGIF_Zero_Shot_QA/ folder as released, test_q.json and test_a.json
(paired by position) beside mp4/<video_name>.mp4 (pass that folder, or GPT_Zero_Shot_QA/ above it); or
JSONL/Parquet rows, or a copy staged with `python -m sweeps.stage tgif_qa`.
The paper evaluated the first 1,000 samples: pass limit=1000.
"""
from __future__ import annotations

from typing import ClassVar

from sweeps.benchmarks.video_qa import VideoQA


class TGIFQA(VideoQA):
    name: ClassVar[str] = "tgif_qa"
    hub_ids: ClassVar[tuple[str, ...]] = ()
    default_split: ClassVar[str] = "test"
    qa_folder: ClassVar[str | None] = "TGIF_Zero_Shot_QA"
    video_folders: ClassVar[tuple[str, ...]] = ("", "mp4", "videos")
    video_prefixes: ClassVar[tuple[str, ...]] = ("",)
