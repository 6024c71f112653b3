"""docs/PERF.md upkeep: each benchmark replaces only its own `## ` section, the others stay byte-identical."""
from __future__ import annotations

from pathlib import Path

HEADER = "# Performance\n\nMeasurements written by `jobs/bench.py`; each section names its command, machine and date.\n"


def write_section(path: Path, heading: str, section: str) -> None:
    """Replace the section starting at `heading` (up to the next `## ` heading) or append it."""
    text = path.read_text() if path.exists() else HEADER
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == heading), None)
    block = section.rstrip("\n") + "\n"
    if start is None:
        new = text.rstrip("\n") + "\n\n" + block
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        tail = "".join(lines[end:])
        new = "".join(lines[:start]) + block + ("\n" + tail if tail else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new)
