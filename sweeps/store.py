"""Results store: the source of truth. One Parquet file per committed unit, written atomically, exactly once.

Layout under a local path or any pyarrow filesystem URI (file://, s3://, gs://):

    <store>/<sweep_id>/config.yaml              snapshot of the config that produced the sweep
    <store>/<sweep_id>/units/<unit_id>.parquet  rows of one committed unit (sweeps/rows.py ROW_SCHEMA)
    <store>/<sweep_id>/quarantine/<unit_id>.json  units that failed every attempt, with their error

A unit counts as done only once its file exists; the file appears whole (temp file + rename, or
write-then-move on object stores) and is never overwritten, so reruns skip it and no row repeats.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from sweeps.rows import ROW_KEY, ROW_SCHEMA

TMP_PREFIX = ".tmp-"


def open_store(store: str) -> tuple[pafs.FileSystem, str]:
    """(filesystem, root path) for a local path or a pyarrow filesystem URI."""
    if "://" in store:
        fs, root = pafs.FileSystem.from_uri(store)
        return fs, root.rstrip("/")
    from pathlib import Path

    return pafs.LocalFileSystem(), str(Path(store).expanduser().resolve())


def is_local(store: str) -> bool:
    return "://" not in store or store.startswith("file://")


def local_path(store: str) -> str | None:
    """The store's directory on this machine, or None for remote filesystems."""
    if not is_local(store):
        return None
    return open_store(store)[1]


@dataclass
class SweepStore:
    fs: pafs.FileSystem
    root: str                # <store>/<sweep_id>
    sweep_id: str

    @classmethod
    def open(cls, store: str, sweep_id: str) -> "SweepStore":
        fs, base = open_store(store)
        root = f"{base}/{sweep_id}"
        fs.create_dir(f"{root}/units", recursive=True)
        return cls(fs, root, sweep_id)

    # -- config snapshot -------------------------------------------------------------------------
    def write_config(self, text: str, content_hash: str) -> None:
        """Keep the config that produced this sweep; refuse a different config under the same sweep id."""
        old = self.read_text("config.yaml")
        if old is not None:
            old_hash = self.read_text("config.hash")
            if old_hash is not None and old_hash.strip() != content_hash:
                raise ValueError(f"sweep id {self.sweep_id!r} already holds results of a different config "
                                 f"(content hash {old_hash.strip()} != {content_hash}); pass a new --sweep-id")
            return
        self._atomic_write("config.hash", content_hash.encode())
        self._atomic_write("config.yaml", text.encode())

    def read_text(self, name: str) -> str | None:
        path = f"{self.root}/{name}"
        if self.fs.get_file_info(path).type != pafs.FileType.File:
            return None
        with self.fs.open_input_stream(path) as f:
            return f.read().decode()

    def write_bytes(self, name: str, data: bytes) -> None:
        """Write <store>/<sweep_id>/<name> whole (temp file + rename), replacing any earlier version."""
        self._atomic_write(name, data)

    def _atomic_write(self, name: str, data: bytes) -> None:
        final = f"{self.root}/{name}"
        tmp = f"{self.root}/{TMP_PREFIX}{uuid.uuid4().hex}-{name.replace('/', '_')}"
        with self.fs.open_output_stream(tmp) as f:
            f.write(data)
        self.fs.move(tmp, final)

    # -- units -----------------------------------------------------------------------------------
    def unit_path(self, unit_id: str) -> str:
        return f"{self.root}/units/{unit_id}.parquet"

    def committed_units(self) -> set[str]:
        infos = self.fs.get_file_info(pafs.FileSelector(f"{self.root}/units", allow_not_found=True))
        return {i.base_name[: -len(".parquet")] for i in infos
                if i.type == pafs.FileType.File and i.base_name.endswith(".parquet")
                and not i.base_name.startswith(TMP_PREFIX)}

    def is_committed(self, unit_id: str) -> bool:
        return self.fs.get_file_info(self.unit_path(unit_id)).type == pafs.FileType.File

    def commit(self, unit_id: str, rows: pa.Table) -> bool:
        """Write a unit's rows once. False (and nothing written) when the unit is already committed."""
        if self.is_committed(unit_id):
            return False
        rows = rows.cast(ROW_SCHEMA) if rows.schema != ROW_SCHEMA else rows
        if rows.num_rows and set(rows.column("unit_id").to_pylist()) != {unit_id}:
            raise ValueError(f"rows committed under unit {unit_id!r} carry other unit ids")
        tmp = f"{self.root}/units/{TMP_PREFIX}{unit_id}-{uuid.uuid4().hex}.parquet"
        with self.fs.open_output_stream(tmp) as f:
            pq.write_table(rows, f)
        if self.is_committed(unit_id):          # a concurrent writer won; keep its file
            self.fs.delete_file(tmp)
            return False
        self.fs.move(tmp, self.unit_path(unit_id))   # rename(2) on local disks: atomic
        self.clear_quarantine(unit_id)
        return True

    def read_unit(self, unit_id: str) -> pa.Table:
        with self.fs.open_input_file(self.unit_path(unit_id)) as f:
            return pq.read_table(f, schema=ROW_SCHEMA)

    def read(self) -> pa.Table:
        """Every committed row of the sweep (ROW_SCHEMA), in unit-id order."""
        tables = [self.read_unit(u) for u in sorted(self.committed_units())]
        if not tables:
            return ROW_SCHEMA.empty_table()
        table = pa.concat_tables(tables)
        check_unique(table)
        return table

    # -- quarantine ------------------------------------------------------------------------------
    def quarantine(self, unit_id: str, error: str, attempts: int, replicas: list[str]) -> None:
        self.fs.create_dir(f"{self.root}/quarantine", recursive=True)
        record = {"unit_id": unit_id, "error": error, "attempts": attempts, "replicas": replicas}
        self._atomic_write(f"quarantine/{unit_id}.json", json.dumps(record, indent=1).encode())

    def clear_quarantine(self, unit_id: str) -> None:
        path = f"{self.root}/quarantine/{unit_id}.json"
        if self.fs.get_file_info(path).type == pafs.FileType.File:
            self.fs.delete_file(path)

    def quarantined(self) -> dict[str, dict]:
        infos = self.fs.get_file_info(pafs.FileSelector(f"{self.root}/quarantine", allow_not_found=True))
        out = {}
        for i in infos:
            if i.type == pafs.FileType.File and i.base_name.endswith(".json") and not i.base_name.startswith(TMP_PREFIX):
                with self.fs.open_input_stream(i.path) as f:
                    out[i.base_name[:-5]] = json.loads(f.read().decode())
        return out


def check_unique(table: pa.Table) -> None:
    """Raise if any (sweep, model, benchmark, point, sample) key appears twice."""
    keys = table.select(list(ROW_KEY)).group_by(list(ROW_KEY)).aggregate([([], "count_all")])
    dup = keys.filter(pc.greater(keys.column("count_all"), 1))
    if dup.num_rows:
        raise ValueError(f"results store holds {dup.num_rows} duplicated row keys, e.g. {dup.slice(0, 1).to_pylist()}")


def read_results(store: str, sweep_id: str) -> pa.Table:
    """All committed rows of one sweep as a pyarrow Table with ROW_SCHEMA."""
    return SweepStore.open(store, sweep_id).read()


def committed_units(store: str, sweep_id: str) -> set[str]:
    return SweepStore.open(store, sweep_id).committed_units()
