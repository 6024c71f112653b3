"""sweeps/progress.py: the totals never shrink; failed units are shown as failed and leave the ETA."""
import io

from sweeps.progress import Progress


def test_totals_never_shrink_and_failures_show():
    out = io.StringIO()
    p = Progress("s", total_units=59, total_samples=59, done_units=18, done_samples=18, stream=out)
    p.commit(1)
    p.quarantine(1)
    p.commit(1)
    lines = out.getvalue().splitlines()
    assert [line.split("  ")[0].split("] ")[1] for line in lines] == ["units 19/59", "units 19/59", "units 20/59"]
    assert "samples 19/59" in lines[1] and "FAILED 1 units (1 samples, quarantined)" in lines[1]
    assert "FAILED" not in lines[0] and "FAILED 1 units" in lines[2]
    p.samples, p.skipped, p.t0 = 20, 0, p.t0 - 38.0       # 20 samples in ~38 s: 38 left of 59 (1 failed) -> ~72 s
    assert p.eta() in ("0:01:12", "0:01:13")
