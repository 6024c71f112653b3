"""Phase timers for Output.timings: CUDA events on a GPU (no sync inside a phase), perf_counter on CPU."""
from __future__ import annotations

import time
from contextlib import contextmanager

import torch


class PhaseTimer:
    """Accumulates seconds per named phase; `seconds()` synchronises once at the end."""

    def __init__(self, device: torch.device):
        self.cuda = torch.device(device).type == "cuda"
        self._events: dict[str, list] = {}
        self._cpu: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str):
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            try:
                yield
            finally:
                end.record()
                self._events.setdefault(name, []).append((start, end))
        else:
            t0 = time.perf_counter()
            try:
                yield
            finally:
                self._cpu[name] = self._cpu.get(name, 0.0) + time.perf_counter() - t0

    def seconds(self) -> dict[str, float]:
        out = dict(self._cpu)
        if self._events:
            torch.cuda.synchronize()
            for name, pairs in self._events.items():
                out[name] = out.get(name, 0.0) + sum(s.elapsed_time(e) for s, e in pairs) / 1000.0
        return out
