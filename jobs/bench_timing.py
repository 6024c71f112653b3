"""Timing one adapter the way the latency benches do (jobs/bench_llava.py, jobs/bench_video_llava.py): the vision
tower once per batch (minimum over repeats), then per plan select -> prefill -> greedy decode of a fixed number of
tokens with EOS ignored, so every plan decodes the same length. CUDA events on a GPU, perf_counter on CPU."""
from __future__ import annotations

import torch

from pruning import PrunePlan
from pruning.models.timing import PhaseTimer


def time_vision(vlm, media: list, warmup: int, repeats: int):
    """(vision tokens of the last call, minimum seconds of vlm.encode(media) over `repeats` after `warmup`)."""
    seconds = []
    for i in range(warmup + repeats):
        timer = PhaseTimer(vlm.device)
        with timer.phase("vision"):
            vision = vlm.encode(media)
        if i >= warmup:
            seconds.append(timer.seconds()["vision"])
    return vision, min(seconds)


def time_plan(vlm, prompts: list[str], plan: PrunePlan, vision, new_tokens: int):
    """(Prepared, decoder-loop state, seconds per phase {vision, select, prefill, decode}, peak CUDA bytes or None)
    of one prepare -> prefill -> `new_tokens` greedy steps: the adapter's own generate path (AdapterBase._run)
    with EOS ignored."""
    if vlm.device.type == "cuda":
        torch.cuda.synchronize()
    with torch.no_grad():
        run = vlm._run(lambda timer: vlm.prepare(prompts, plan, vision=vision, timer=timer), new_tokens, eos_ids=set())
    return run.prep, run.state, run.timings, run.peak
