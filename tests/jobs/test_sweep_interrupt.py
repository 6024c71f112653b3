"""Ctrl-C on a running sweep: one line saying what is committed and the command that resumes; that command finishes it.

A real SIGINT goes to the sweep's whole process group, as a terminal's Ctrl-C does (the driver and the
local Ray it started), after the first unit commits.
"""
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from sweeps.rows import ROW_KEY
from sweeps.store import read_results

REPO = Path(__file__).resolve().parents[2]
U = 60  # units: more than a fast machine commits (about 18 a second here) while the Ctrl-C takes effect


def committed(store: Path, sid: str) -> list[str]:
    d = store / sid / "units"
    return sorted(p.name for p in d.glob("*.parquet") if not p.name.startswith(".tmp")) if d.exists() else []


@pytest.mark.slow
def test_ctrl_c_says_what_is_committed_and_how_to_resume(tmp_path):
    from sweeps.config import load_config

    cfg = tmp_path / "intr.yaml"
    cfg.write_text("# python jobs/sweep.py --config intr.yaml\nname: intr\nmodels: [tiny-llava]\n"
                   f"benchmarks: [{{name: shapes, lite: {U}}}]\n"
                   "grid: [{strategy: vispruner, budget: 16, ratio: 0.5}]\n"
                   "controls: false\nshard_size: 1\nreplicas: {count: 1}\n"
                   "generation: {max_new_tokens: 8, batch_size: 1}\nmlflow: {experiment: intr}\n")
    store, sid = tmp_path / "results", load_config(cfg).default_sweep_id()
    ray_tmp = Path(tempfile.mkdtemp(prefix="vsw-i-", dir="/tmp"))       # short: Ray's socket paths < 108 chars
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI")}
    env.update(TMPDIR=str(ray_tmp), RAY_TMPDIR=str(ray_tmp))
    cmd = [sys.executable, "jobs/sweep.py", "--config", str(cfg), "--store", str(store)]
    # a terminal's foreground job has SIGINT at its default; an ignored SIGINT in whatever started pytest (seen in a
    # full-suite run) would otherwise be inherited across exec, and the driver would never see the Ctrl-C
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        end = time.monotonic() + 300
        while not committed(store, sid) and proc.poll() is None and time.monotonic() < end:
            time.sleep(0.05)
        assert proc.poll() is None and committed(store, sid), proc.communicate()[1][-3000:] if proc.poll() else ""
        os.killpg(proc.pid, signal.SIGINT)                      # Ctrl-C: the whole foreground group
        t0 = time.monotonic()
        out, err = proc.communicate(timeout=120)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)                  # our own session only
            proc.wait()
    n = len(committed(store, sid))
    assert 1 <= n < U, err[-3000:]
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    said = [line for line in err.splitlines() if line.startswith("interrupted:")]
    assert len(said) == 1, err[-3000:]
    line = said[0]
    assert f"interrupted: {n} of {U} units of {sid} are committed in {store} ({n} in this run); resume with: " in line
    resume = line.split("resume with: ", 1)[1]
    assert shlex.split(resume) == ["python", "jobs/sweep.py", "--config", str(cfg), "--store", str(store),
                                   "--sweep-id", sid]
    assert took < 60, took
    print(f"interrupted after {n} of {U} units, {took:.1f} s after the Ctrl-C")

    # the command it printed finishes the sweep: earlier units skipped, every row exactly once
    again = subprocess.run([sys.executable, *shlex.split(resume)[1:]], cwd=REPO, env=env, capture_output=True,
                           text=True, timeout=480)
    shutil.rmtree(ray_tmp, ignore_errors=True)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"{n} of {U} units already committed, skipping them" in again.stderr
    t = read_results(str(store), sid)
    keys = list(zip(*[t[k].to_pylist() for k in ROW_KEY]))
    assert t.num_rows == U and len(set(keys)) == U and t["error"].null_count == U
    totals = re.findall(r"\] units (\d+)/(\d+)", again.stderr)
    assert [int(d) for d, _ in totals] == list(range(n + 1, U + 1))
    assert {t for _, t in totals} == {str(U)}                          # the total never shrinks
