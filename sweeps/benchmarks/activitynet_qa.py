"""ActivityNet-QA (Yu et al., 2019), open-ended QA under the Video-ChatGPT GPT-judge protocol.

Sources (any of):
- the hub: lmms-lab/ActivityNetQA (lmms-eval's activitynetqa task; newer lmms-eval names it
  lmms-eval/ActivityNetQA), split test; rows: question_id, question, answer, video_name, type. The videos
  are the repo's videos_chunked_*.zip archives, members all_test/v_<video_name>.mp4 (note the v_ prefix):
  found in `videos=DIR`, else lmms-eval's unpacked copy $HF_HOME/activitynetqa/all_test, else the
  archives themselves (downloaded into the hub cache, read without unpacking). `python -m sweeps.stage
  activitynet_qa --source lmms-lab/ActivityNetQA` embeds the 8 frames so a cluster needs none of this.
- Video-LLaVA's layout: Activitynet_Zero_Shot_QA/ with test_q.json, test_a.json and all_test/v_<name>.mp4
  (pass that folder, or GPT_Zero_Shot_QA/ above it).
Paper: first 1,000 samples.
"""
from __future__ import annotations

from typing import ClassVar

from sweeps.benchmarks.video_qa import VideoQA


class ActivityNetQA(VideoQA):
    name: ClassVar[str] = "activitynet_qa"
    hub_ids: ClassVar[tuple[str, ...]] = ("lmms-lab/ActivityNetQA", "lmms-eval/ActivityNetQA")
    default_split: ClassVar[str] = "test"
    qa_folder: ClassVar[str | None] = "Activitynet_Zero_Shot_QA"
    video_folders: ClassVar[tuple[str, ...]] = ("", "all_test", "videos")
    video_prefixes: ClassVar[tuple[str, ...]] = ("v_",)
    lmms_cache: ClassVar[str | None] = "activitynetqa"        # lmms-eval unpacks the archives into $HF_HOME/activitynetqa
