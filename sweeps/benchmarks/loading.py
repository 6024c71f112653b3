"""Reading benchmark rows from a hub dataset id (lmms-lab releases, offline cache honoured) or a local
Parquet/JSONL directory (a `python -m sweeps.stage` output is checked against its manifest), and turning
each row into a Sample without ever crashing on a bad row: the row becomes a Sample with `error` set.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any, ClassVar, Iterator

from sweeps.benchmarks.base import Benchmark, Sample
from sweeps.benchmarks.lite import DEFAULT_SEED, lite_positions, row_keys

MANIFEST = "manifest.json"


class RowError(ValueError):
    """A row (or its image) that cannot become a usable Sample; the message lands in Sample.error."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_manifest(root: Path) -> dict[str, Any]:
    """Check every file a staged directory's manifest lists (present, sha256, rows); raise ValueError on a mismatch."""
    manifest = json.loads((root / MANIFEST).read_text())
    for entry in manifest["files"]:
        path = root / entry["path"]
        if not path.is_file():
            raise ValueError(f"staged benchmark {root}: {entry['path']} is listed in {MANIFEST} but missing; re-stage it")
        digest = sha256_file(path)
        if digest != entry["sha256"]:
            raise ValueError(
                f"staged benchmark {root}: checksum mismatch for {entry['path']} "
                f"(manifest {entry['sha256'][:12]}..., file {digest[:12]}...); the copy is corrupt or was edited: re-stage it")
    return manifest


def is_local(source: str) -> bool:
    return os.path.isdir(os.path.expanduser(source))


def local_files(root: Path, split: str | None, config: str | None) -> list[Path]:
    """Parquet/JSONL files of a directory: the manifest's list, else those naming the split (HF layout), else all."""
    if (root / MANIFEST).is_file():
        return [root / e["path"] for e in json.loads((root / MANIFEST).read_text())["files"]]
    if config and (root / config).is_dir():
        root = root / config
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".parquet", ".jsonl"))
    if split:
        named = [p for p in files if p.name.startswith(split) or split in p.relative_to(root).parts[:-1]]
        files = named or files
    if not files:
        raise FileNotFoundError(f"no .parquet or .jsonl files under {root}")
    return files


def read_local_rows(root: Path, split: str | None, config: str | None, limit: int | None) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    if (root / MANIFEST).is_file():
        manifest = verify_manifest(root)
        if split and manifest.get("split") and split != manifest["split"]:
            raise ValueError(f"{root} holds split {manifest['split']!r}, not {split!r}")
    n = 0
    for path in local_files(root, split, config):
        if path.suffix == ".parquet":
            rows: Iterator[dict[str, Any]] = (r for batch in pq.ParquetFile(path).iter_batches(batch_size=256) for r in batch.to_pylist())
        else:
            rows = _jsonl_rows(path)
        for row in rows:
            if limit is not None and n >= limit:
                return
            n += 1
            yield row


def _jsonl_rows(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("not a JSON object")
            except ValueError as exc:   # a malformed line is a row with an error, not a crash
                row = {"__error__": f"{path.name}:{lineno}: malformed JSON line ({exc})"}
            yield row


def hub_dataset(hub_id: str, config: str | None, split: str, stage_hint: str):
    """datasets.load_dataset with image columns left encoded; a clear message when offline and not staged."""
    import datasets

    try:
        ds = datasets.load_dataset(hub_id, config, split=split)
    except Exception as exc:  # offline / not cached / no access: one clear message
        offline = os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1"
        raise RuntimeError(
            f"could not load hub dataset {hub_id!r} (config {config!r}, split {split!r})"
            f"{' with HF_HUB_OFFLINE=1: it is not in the local cache' if offline else ''}: {type(exc).__name__}: {exc}\n"
            f"Stage it where the hub is reachable and read the copy instead:\n  {stage_hint}") from exc
    for name, feature in ds.features.items():
        if isinstance(feature, datasets.Image):
            ds = ds.cast_column(name, datasets.Image(decode=False))
    return ds


def read_hub_rows(hub_id: str, config: str | None, split: str, limit: int | None, stage_hint: str) -> Iterator[dict[str, Any]]:
    ds = hub_dataset(hub_id, config, split, stage_hint)
    if limit is not None:
        ds = ds.select(range(min(limit, len(ds))))
    yield from ds


def image_bytes(value: Any, root: Path | None) -> bytes:
    """Encoded image bytes from any form a dataset stores: HF Image struct {bytes, path}, raw bytes, a path
    (relative to the dataset directory), or a PIL image. Raises RowError when missing or undecodable."""
    from PIL import Image

    data: bytes | None = None
    if value is None:
        raise RowError("missing image")
    if isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    elif isinstance(value, dict):
        if value.get("bytes"):
            data = bytes(value["bytes"])
        elif value.get("path"):
            data = _read_path(value["path"], root)
        else:
            raise RowError("missing image (empty image struct)")
    elif isinstance(value, str):
        data = _read_path(value, root)
    elif isinstance(value, Image.Image):
        buf = io.BytesIO()
        value.save(buf, format="PNG")
        data = buf.getvalue()
    else:
        raise RowError(f"unsupported image value of type {type(value).__name__}")
    try:
        Image.open(io.BytesIO(data)).verify()   # header/structure check; full decode happens on the replica
    except Exception as exc:
        raise RowError(f"corrupt image: {exc}") from exc
    return data


def _read_path(path: str, root: Path | None) -> bytes:
    p = Path(path)
    if not p.is_absolute() and root is not None:
        p = root / p
    if not p.is_file():
        raise RowError(f"missing image file {path!r}")
    return p.read_bytes()


def required(row: dict[str, Any], *columns: str) -> list[Any]:
    """The row's values for columns that must be present and non-empty (RowError names the first that is not)."""
    values = []
    for c in columns:
        v = row.get(c)
        if v is None or (isinstance(v, (str, list, tuple)) and len(v) == 0):
            raise RowError(f"empty or missing {c!r}")
        values.append(v)
    return values


class HubBenchmark(Benchmark):
    """A benchmark whose rows come from a hub dataset or a local directory; subclasses map a row to a Sample.

    Subclasses set hub_ids / hub_config / default_split / id_column / category_column and implement
    `to_sample(row, root)` (raise RowError for a bad row; the loader records it as Sample.error).
    """

    hub_config: ClassVar[str | None] = None
    id_column: ClassVar[str] = "question_id"
    category_column: ClassVar[str | None] = None
    image_columns: ClassVar[tuple[str, ...]] = ("image",)

    def to_sample(self, row: dict[str, Any], root: Path | None) -> Sample:
        raise NotImplementedError

    def row_id(self, row: dict[str, Any], position: int) -> str:
        value = row.get(self.id_column)
        return str(value) if value is not None else f"row{position}"

    def row_category(self, row: dict[str, Any]) -> str | None:
        """Stratum for lite subsets (and the results row's category) read from a raw row."""
        if self.category_column is None or row.get(self.category_column) is None:
            return None
        return str(row[self.category_column])

    def row_group(self, row: dict[str, Any], position: int) -> str:
        """Rows that must stay together in a lite subset (MME image pairs, MMBench rotations) share a group."""
        return self.row_id(row, position)

    def stage_hint(self, split: str) -> str:
        src = self.hub_ids[0] if self.hub_ids else "<hub id>"
        return f"python -m sweeps.stage {self.name} --source {src} --split {split} --out /shared/benchmarks/{self.name}"

    def rows(self, source: str | None = None, split: str | None = None, limit: int | None = None) -> tuple[Iterator[dict[str, Any]], Path | None]:
        """Raw rows (the dataset's own columns) and the directory relative image paths resolve against."""
        split = split or self.default_split
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        if source is None:
            if not self.hub_ids:
                raise ValueError(f"benchmark {self.name!r} has no hub release; pass a local directory as source")
            source = self.hub_ids[0]
        if is_local(source):
            root = Path(os.path.expanduser(source)).resolve()
            return read_local_rows(root, split, self.hub_config, limit), root
        if source.startswith(("/", ".", "~")) or source.count("/") != 1:
            raise FileNotFoundError(f"benchmark source {source!r} is neither an existing directory nor a hub id (owner/name)")
        return read_hub_rows(source, self.hub_config, split, limit, self.stage_hint(split)), None

    def sampled_rows(self, source: str | None = None, split: str | None = None, limit: int | None = None,
                     seed: int = DEFAULT_SEED) -> tuple[Iterator[dict[str, Any]], Path | None]:
        """The raw rows `load` reads: all of them, or the lite subset of about `limit` (sweeps.benchmarks.lite,
        the same rows `sweeps.stage --lite` writes); then `attach` (data that lives beside the rows)."""
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        if limit is not None:      # a first pass reads only each row's (category, group), a second keeps the draw
            keep = set(lite_positions(row_keys(self, self.rows(source, split)[0]), limit, seed))
            rows, root = self.rows(source, split)
            rows = (r for i, r in enumerate(rows) if i in keep)
        else:
            rows, root = self.rows(source, split)
        return self.attach(rows, root, source, split), root

    def attach(self, rows: Iterator[dict[str, Any]], root: Path | None, source: str | None,
               split: str | None) -> Iterator[dict[str, Any]]:
        """Join data kept outside the rows (GQA's images config); the rows as they are by default."""
        return rows

    def load(self, source: str | None = None, split: str | None = None, limit: int | None = None,
             seed: int = DEFAULT_SEED) -> list[Sample]:
        rows, root = self.sampled_rows(source, split, limit, seed)
        return [self.safe_sample(row, root, i) for i, row in enumerate(rows)]

    def safe_sample(self, row: dict[str, Any], root: Path | None, position: int) -> Sample:
        """to_sample, but a bad row becomes a Sample with its error (counted in aggregate, never dropped)."""
        if "__error__" in row:
            return Sample(id=f"row{position}", question="", error=row["__error__"], meta={"category": None})
        try:
            return self.to_sample(row, root)
        except Exception as exc:  # any malformed row: record, do not crash
            question = row.get("question")
            return Sample(id=self.row_id(row, position), question=question if isinstance(question, str) else "",
                          error=f"malformed row: {exc}" if not isinstance(exc, RowError) else str(exc),
                          meta={"category": self.row_category(row)})

    def with_image(self, sample: Sample, row: dict[str, Any], root: Path | None, column: str = "image") -> Sample:
        """Attach the row's image, or record why there is none (the sample keeps its question and answer)."""
        try:
            sample.image = image_bytes(row.get(column), root)
        except RowError as exc:
            sample.error = str(exc)
        return sample
