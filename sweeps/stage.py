"""Stage a benchmark (or a deterministic lite subset) to Parquet + manifest.json, for clusters without a hub.

    python -m sweeps.stage BENCH --source SRC --out DIR [--split S] [--lite N] [--seed S] [--videos DIR]

SRC is a hub id (lmms-lab/POPE ...), a local Parquet/JSONL directory, a video QA release folder
(test_q.json + test_a.json + videos, sweeps/benchmarks/video_files.py), or "generate" (shapes). Rows keep
the benchmark's own columns; images (and video frames, sampled to 8) are embedded as Image structs
{bytes, path}; a video that cannot be read leaves its reason in `frames_error` (an error sample on load).
--videos DIR: where a video benchmark's videos are (e.g. the unpacked hub archives). The lite subset is seeded and stratified by the benchmark's category, keeping rows that
belong together (MME image pairs, MMBench rotations) together. manifest.json lists every file with its
sha256 and row count; `bench.load(DIR)` verifies them before reading.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from sweeps.benchmarks import get_benchmark
from sweeps.benchmarks.loading import MANIFEST, RowError, image_bytes, sha256_file

ROWS_PER_FILE = 512


def materialise(bench, row: dict[str, Any], root: Path | None) -> dict[str, Any]:
    """Embed images (and sampled video frames) as {bytes, path} so the staged copy is self-contained."""
    row = dict(row)
    for col in bench.image_columns:
        value = row.get(col)
        if value is None:
            continue
        name = value.get("path") if isinstance(value, dict) else value if isinstance(value, str) else None
        try:
            row[col] = {"bytes": image_bytes(value, root), "path": name}
        except RowError:
            row[col] = {"bytes": None, "path": name}      # stays an error sample when loaded
    if hasattr(bench, "read_frames") and any(row.get(c) for c in ("frames", "frames_dir", "video", "video_name", "video_id")):
        try:
            row["frames"] = [{"bytes": b, "path": None} for b in bench.read_frames(row, root)]
            row.pop("frames_dir", None), row.pop("video", None)
        except RowError as exc:
            row["frames_error"] = str(exc)                 # the copy says why (missing/corrupt video), as load would
    return row


def stage(name: str, source: str, out: str | os.PathLike, split: str | None = None, lite: int | None = None,
          seed: int = 0, force: bool = False, videos: str | None = None) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise FileExistsError(f"{out} is not empty (pass --force to replace it)")
    params = {"seed": seed, "n": lite or 64} if name == "shapes" and source == "generate" else {}
    if videos is not None:
        params["videos"] = videos                  # video QA benchmarks only (others reject it: TypeError)
    bench = get_benchmark(name, **params)
    split = split or bench.default_split
    rows_iter, root = bench.sampled_rows(source, split, lite, seed)   # the rows `load(limit=lite)` reads
    rows = [materialise(bench, r, root) for r in rows_iter]

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    files = []
    for k in range(0, max(len(rows), 1), ROWS_PER_FILE):
        chunk = rows[k:k + ROWS_PER_FILE]
        columns = dict.fromkeys(c for r in chunk for c in r)     # every row's columns (from_pylist reads the first's)
        path = tmp / f"{split}-{k // ROWS_PER_FILE:05d}.parquet"
        pq.write_table(pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in chunk]), path)
        files.append({"path": path.name, "sha256": sha256_file(path), "rows": len(chunk)})
    manifest = {"benchmark": name, "source": source, "split": split, "config": getattr(bench, "hub_config", None),
                "rows": len(rows), "lite": lite, "seed": seed, "files": files,
                "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sweeps.stage", description=__doc__.splitlines()[0])
    p.add_argument("bench", help="benchmark registry name (pope, mme, shapes, ...)")
    p.add_argument("--source", required=True, help="hub id, local Parquet/JSONL directory, or 'generate' (shapes)")
    p.add_argument("--out", required=True, help="output directory (created; must be empty unless --force)")
    p.add_argument("--split", default=None, help="split (default: the benchmark's)")
    p.add_argument("--lite", type=int, default=None, help="stage a stratified subset of about N rows")
    p.add_argument("--seed", type=int, default=0, help="seed of the lite subset (and of shapes generation)")
    p.add_argument("--force", action="store_true", help="replace a non-empty --out")
    p.add_argument("--videos", default=None, help="video QA: directory holding the videos (loose or zip archives)")
    args = p.parse_args(argv)
    try:
        m = stage(args.bench, args.source, args.out, args.split, args.lite, args.seed, args.force, args.videos)
    except (KeyError, ValueError, TypeError, RuntimeError, FileNotFoundError, FileExistsError) as exc:
        print(f"sweeps.stage: error: {exc}", file=sys.stderr)     # a clear message, not a traceback
        return 2
    print(f"staged {m['rows']} rows of {m['benchmark']} ({m['split']}) from {m['source']} into {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
