"""Nightly baselines and verdicts in MLflow: find a sweep's parent run, the last passing nightly, tag pass/fail.

The nightly (jobs/nightly.py) logs its per-sample rows as `nightly/rows.parquet` on its parent run and
tags the run (and each child) `nightly_status=pass|fail`; the next night's baseline is the newest
parent run tagged `nightly_status=pass`, read from that artifact (or, failing that, from the store).
Driver-side only; MLflow is imported lazily.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROWS_ARTIFACT = "nightly/rows.parquet"
STATUS_TAG = "nightly_status"


def _is_parent(run) -> bool:
    tags = run.data.tags
    return "mlflow.parentRunId" not in tags and tags.get("vissweep.role", "parent") == "parent"


def find_parent_run(client, sweep_id: str, experiment: str | None = None):
    """The sweep's parent MLflow run: tagged sweep_id, itself without a parent."""
    from mlflow.entities import ViewType

    exps = [client.get_experiment_by_name(experiment)] if experiment else client.search_experiments(view_type=ViewType.ALL)
    ids = [e.experiment_id for e in exps if e is not None]
    runs = client.search_runs(ids, filter_string=f"tags.sweep_id = '{sweep_id}'", order_by=["attributes.start_time ASC"]) if ids else []
    parents = [r for r in runs if _is_parent(r)]
    if not parents:
        raise LookupError(f"no MLflow parent run tagged sweep_id={sweep_id!r} (experiments {ids})")
    return parents[0]


def child_runs(client, parent) -> list:
    return [r for r in client.search_runs([parent.info.experiment_id], f"tags.sweep_id = '{parent.data.tags['sweep_id']}'")
            if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]


def last_passing_run(client, experiment_id: str, exclude_sweep: str | None = None):
    """Newest parent run in the experiment tagged nightly_status=pass (None if there is none)."""
    runs = client.search_runs([experiment_id], filter_string=f"tags.{STATUS_TAG} = 'pass'",
                              order_by=["attributes.start_time DESC"], max_results=200)
    for r in runs:
        if _is_parent(r) and r.data.tags.get("sweep_id") != exclude_sweep:
            return r
    return None


def log_rows(client, run_id: str, rows: pa.Table) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / Path(ROWS_ARTIFACT).name
        pq.write_table(rows, path)
        client.log_artifact(run_id, str(path), str(Path(ROWS_ARTIFACT).parent))


def rows_of_run(client, run, store: str | None = None) -> pa.Table:
    """A nightly run's rows: its rows artifact, else the results store under its sweep_id."""
    try:
        with tempfile.TemporaryDirectory() as d:
            local = client.download_artifacts(run.info.run_id, ROWS_ARTIFACT, d)
            return pq.read_table(local)
    except Exception as exc:  # MLflow raises several types for a missing artifact
        if store is None:
            raise LookupError(f"run {run.info.run_id}: no {ROWS_ARTIFACT} and no store to fall back to") from exc
        from sweeps.store import read_results

        return read_results(store, run.data.tags["sweep_id"])


def tag_verdict(client, parent, status: str, failed_points: set[str]) -> None:
    """nightly_status on the parent (overall) and on each child (its own point: model|benchmark|point_id)."""
    client.set_tag(parent.info.run_id, STATUS_TAG, status)
    for child in child_runs(client, parent):
        key = child.data.tags.get("point_key", "")
        client.set_tag(child.info.run_id, STATUS_TAG, "fail" if key in failed_points else "pass")
