"""What an interrupted sweep says: one line with what is committed and the exact command that resumes it.

    ^C  ->  interrupted: 7 of 12 units of demo-1a2b3c4d5e are committed in results (3 in this run); resume with:
            python jobs/sweep.py --config sweeps/configs/demo.yaml --store results --sweep-id demo-1a2b3c4d5e
"""
from __future__ import annotations

import shlex


def resume_command(config: str, store: str, sweep_id: str, address: str | None = None,
                   changes: list[str] | tuple[str, ...] = ()) -> str:
    """The command that reruns a sweep id (with the same --set/--limit `changes`); committed units are skipped."""
    parts = ["python", "jobs/sweep.py", "--config", config, *changes, "--store", store, "--sweep-id", sweep_id]
    if address:
        parts += ["--address", address]
    return shlex.join(parts)


def interrupted_line(sweep_id: str, store: str, committed: int, total: int, before: int, resume: str) -> str:
    """total 0: interrupted before the units were known (while loading benchmarks); nothing ran in this run."""
    if total == 0:
        return f"interrupted while preparing {sweep_id}; no unit ran in this run; resume with: {resume}"
    return (f"interrupted: {committed} of {total} units of {sweep_id} are committed in {store} "
            f"({committed - before} in this run); resume with: {resume}")
