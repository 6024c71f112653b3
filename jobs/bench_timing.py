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
    """(Prepared, decoder-loop state, seconds per phase {select, prefill, decode}, peak CUDA bytes or None) of one
    prepare -> prefill -> `new_tokens` greedy steps."""
    cuda = vlm.device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(vlm.device)
    timer = PhaseTimer(vlm.device)
    with torch.no_grad():
        prep = vlm.prepare(prompts, plan, vision=vision, timer=timer)
        b = prep.batch
        with timer.phase("prefill"):
            state = vlm.loop.prefill(prep.embeds, b.valid, b.pos, b.img_start, max(prep.lengths), prep.hooks)
        with timer.phase("decode"):
            vlm.loop.greedy(state, vlm._embed, new_tokens, set(), vlm.pad_id)
    sec = timer.seconds()
    peak = int(torch.cuda.max_memory_allocated(vlm.device)) if cuda else None
    return prep, state, sec, peak
