"""What every jobs/gpu_check.py section shares: the run profile (GPU or CPU dry run), the device, one warm copy of
each model, synthetic POPE-style inputs, and CUDA-event medians (pruning.models.timing.PhaseTimer).

Only the `pruning` layer, torch and the standard library: the GPU machine has no Ray, MLflow or installs.
"""
from __future__ import annotations

import gc
import importlib.util
import statistics
import time
from dataclasses import dataclass, field

import torch

from pruning.models.timing import PhaseTimer

# POPE's question forms with lmms-eval's post-prompt (sweeps/benchmarks/pope.py: question + SHORT_ANSWER)
SHORT_ANSWER = "\nAnswer the question using a single word or phrase."
OBJECTS = ["dog", "car", "person", "chair", "cup", "bottle", "bus", "bicycle", "cat", "truck", "table", "sign"]


@dataclass(frozen=True)
class Profile:
    """Sizes of one run. GPU: the figures the issue asks for. DRY: the same code path, tiny and on CPU."""

    name: str
    model: str  # load_vlm alias for sections b-e
    parity_dtypes: tuple[str, ...]  # device-side dtypes compared against fp32 on CPU
    latency_budgets: tuple[int, ...] = (144, 64, 29)  # T of VisPruner / FastV (keep_all = 576 added)
    latency_new_tokens: int = 4  # POPE answers are a word and EOS; random weights rarely stop, so cap it
    warmup: int = 3
    repeats: int = 10
    sweep_samples: int = 64
    sweep_batch: int = 16  # generation.batch_size of sweeps/configs/llava15_paper.yaml
    sweep_new_tokens: int = 4
    mfu_batches: tuple[int, ...] = (1, 8, 32)
    mfu_repeats: int = 5
    select_batch: int = 32
    # seconds per section; a section past its budget is stopped and recorded, the next one starts
    budgets: dict = field(default_factory=lambda: {"parity": 90, "model": 60, "latency": 90, "throughput": 120,
                                                   "mfu": 45, "selection": 30})


GPU = Profile("gpu", model="7b-shaped", parity_dtypes=("float16", "bfloat16"))
DRY = Profile("dry-run", model="tiny-llava", parity_dtypes=("float32", "bfloat16"), latency_budgets=(144, 29), warmup=0,
              repeats=2, sweep_samples=4, sweep_batch=2, sweep_new_tokens=2, mfu_batches=(1, 2, 4), mfu_repeats=2,
              select_batch=2, budgets={"parity": 60, "model": 30, "latency": 60, "throughput": 60, "mfu": 30,
                                       "selection": 30})


class Context:
    """The device side of a run: device, dtype, attention kernel, and one warm model per alias."""

    def __init__(self, profile: Profile, device: str | None = None, attn: str = "sdpa"):
        self.profile = profile
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.cuda = self.device.type == "cuda"
        self.dtype = torch.float16 if self.cuda else torch.float32
        self.flash = self.cuda and importlib.util.find_spec("flash_attn") is not None  # parity compares the kernels
        # sections b-e: sdpa unless asked (the flash path is checked by parity first, on the tiny models)
        self.attn = attn
        self._models: dict = {}
        self.load_seconds: dict[str, float] = {}
        self.deadline = float("inf")  # perf_counter time when the running section's budget ends

    def time_left(self) -> float:
        return self.deadline - time.perf_counter()

    def load(self, alias: str, device=None, dtype=None, attn: str | None = None):
        """A fresh load_vlm (not cached); returns (vlm, seconds until its weights are on the device)."""
        from pruning.models import load_vlm

        self.sync()
        t0 = time.perf_counter()
        vlm = load_vlm(alias, device=device or self.device, dtype=dtype or self.dtype, attn_implementation=attn or self.attn)
        self.sync()
        return vlm, time.perf_counter() - t0

    def model(self, alias: str | None = None):
        """The warm model for `alias` (the profile's by default), loaded on first use; a failed load is re-raised."""
        alias = alias or self.profile.model
        if alias not in self._models:
            try:
                self._models[alias], self.load_seconds[alias] = self.load(alias)
            except BaseException as exc:  # remembered (a timeout too): later sections fail fast with the cause
                self._models[alias] = exc
                raise
        got = self._models[alias]
        if isinstance(got, BaseException):
            raise RuntimeError(f"model {alias!r} is unavailable: {type(got).__name__}: {got}") from got
        return got

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def reset_peak(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)

    def peak_bytes(self) -> int | None:
        return int(torch.cuda.max_memory_allocated(self.device)) if self.cuda else None

    def allocated_bytes(self) -> int | None:
        return int(torch.cuda.memory_allocated(self.device)) if self.cuda else None

    def free(self) -> None:
        """Release cached blocks after a section (a failed one may have left large temporaries)."""
        gc.collect()
        if self.cuda:
            torch.cuda.empty_cache()


def images(n: int, seed: int = 0) -> list:
    """n synthetic photos (dark noise with bright blocks, varied sizes) so [CLS] attention has something to rank."""
    from PIL import Image

    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        h, w = 240 + 40 * (i % 4), 320 + 30 * (i % 3)
        img = torch.randint(0, 60, (h, w, 3), generator=g, dtype=torch.uint8)  # (H, W, 3)
        for _ in range(4):
            y = int(torch.randint(0, h - 60, (1,), generator=g))
            x = int(torch.randint(0, w - 60, (1,), generator=g))
            img[y:y + 60, x:x + 60] = torch.randint(0, 256, (3,), generator=g, dtype=torch.uint8)
        out.append(Image.fromarray(img.numpy()))
    return out


def pope_questions(n: int) -> list[str]:
    """n POPE-style prompts as the pope benchmark builds them (question + short-answer post-prompt)."""
    return [f"Is there a {OBJECTS[i % len(OBJECTS)]} in the image?{SHORT_ANSWER}" for i in range(n)]


def timed(ctx: Context, fn, warmup: int, repeats: int) -> tuple[float, list[float], object]:
    """(median seconds, all timed seconds, last result) of fn() after `warmup` untimed calls; CUDA events on a GPU."""
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(repeats):
        timer = PhaseTimer(ctx.device)
        with timer.phase("call"):
            result = fn()
        times.append(timer.seconds()["call"])
    return statistics.median(times), times, result


__all__ = ["Profile", "GPU", "DRY", "Context", "images", "pope_questions", "timed", "SHORT_ANSWER"]
