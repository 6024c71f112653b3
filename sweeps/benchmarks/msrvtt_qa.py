"""MSRVTT-QA (Xu et al., 2017), zero-shot open-ended QA under the Video-ChatGPT GPT-judge protocol (sweeps/benchmarks/video_qa.py).

No lmms-lab hub release: load a local directory (Video-LLaVA's GPT_Zero_Shot_QA question/answer json
converted to JSONL or Parquet with frames, or staged with `python -m sweeps.stage msrvtt_qa`).
The paper evaluated the first 1,000 samples: pass limit=1000.
"""
from __future__ import annotations

from typing import ClassVar

from sweeps.benchmarks.video_qa import VideoQA


class MSRVTTQA(VideoQA):
    name: ClassVar[str] = "msrvtt_qa"
    hub_ids: ClassVar[tuple[str, ...]] = ()
    default_split: ClassVar[str] = "test"
