"""Driver-side progress: one stderr line per committed or failed unit: samples done / total (the total never
shrinks), failed units, rate and ETA."""
from __future__ import annotations

import sys
import time
from datetime import timedelta


class Progress:
    def __init__(self, sweep_id: str, total_units: int, total_samples: int, done_units: int = 0, done_samples: int = 0,
                 stream=None):
        self.sweep_id, self.stream = sweep_id, stream or sys.stderr
        self.total_units, self.total_samples = total_units, total_samples
        self.units, self.samples = done_units, done_samples
        self.skipped = done_samples                 # committed by an earlier run: not part of this run's rate
        self.quarantined = 0                        # units failed for good in this run (their samples not done)
        self.failed_samples = 0
        self.t0 = time.monotonic()

    def restart_clock(self) -> None:
        self.t0 = time.monotonic()

    def rate(self) -> float:
        """Samples (each with every grid point) per second in this run."""
        return (self.samples - self.skipped) / max(time.monotonic() - self.t0, 1e-9)

    def eta(self) -> str:
        left, rate = self.total_samples - self.samples - self.failed_samples, self.rate()
        return str(timedelta(seconds=round(left / rate))) if rate > 0 else "?"

    def line(self) -> str:
        pct = 100.0 * self.samples / max(self.total_samples, 1)
        q = f"  FAILED {self.quarantined} units ({self.failed_samples} samples, quarantined)" if self.quarantined else ""
        return (f"[{self.sweep_id}] units {self.units}/{self.total_units}  samples {self.samples}/{self.total_samples} "
                f"({pct:.1f}%)  {self.rate():.2f} samples/s  ETA {self.eta()}{q}")

    def commit(self, n_samples: int) -> None:
        self.units += 1
        self.samples += n_samples
        print(self.line(), file=self.stream, flush=True)

    def quarantine(self, n_samples: int) -> None:
        self.quarantined += 1                       # the totals stay: a failed unit is shown as failed, not dropped
        self.failed_samples += n_samples
        print(self.line(), file=self.stream, flush=True)
