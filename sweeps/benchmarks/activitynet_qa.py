"""ActivityNet-QA (Yu et al., 2019), open-ended QA under the Video-ChatGPT GPT-judge protocol.

Hub: lmms-lab/ActivityNetQA (lmms-eval's activitynetqa task), split test; rows: question_id,
question, answer, video_name, type. The hub release ships videos as zip archives, so a hub row has
no frames: stage frames into a local directory (see docs/BENCHMARKS.md). Paper: first 1,000 samples.
"""
from __future__ import annotations

from typing import ClassVar

from sweeps.benchmarks.video_qa import VideoQA


class ActivityNetQA(VideoQA):
    name: ClassVar[str] = "activitynet_qa"
    hub_ids: ClassVar[tuple[str, ...]] = ("lmms-lab/ActivityNetQA",)
    default_split: ClassVar[str] = "test"
