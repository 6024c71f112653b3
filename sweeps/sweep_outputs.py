"""What a finished sweep leaves beside its rows (driver only):

    <store>/<sweep_id>/samples/<benchmark>.jsonl   one line per (model, grid point, sample): question, answer,
                                                  prediction, score, kept tokens, error (lmms-eval's --log_samples)

and on the sweep's MLflow parent run: the same files (artifacts under `samples/`) and the headline metrics
(sweeps/headline.py). jobs/sweep.py rewrites both from the store after every run and on --sync-mlflow, so
they always cover every committed row; logging a headline value MLflow already holds is skipped.
"""
from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from sweeps.headline import Headline, headlines, mlflow_metrics
from sweeps.point_metrics import summarize
from sweeps.store import SweepStore

log = logging.getLogger("vissweep.outputs")
SAMPLES_DIR = "samples"
FIELDS = ("model", "point_id", "strategy", "budget", "ratio", "sample_id", "question", "answer", "prediction",
          "score", "n_visual_kept", "error")


@dataclass
class Published:
    samples: dict[str, str] = field(default_factory=dict)      # benchmark -> path of its JSONL in the store
    headlines: list[Headline] = field(default_factory=list)
    logged: bool = False                                        # files and headline reached MLflow


def sample_records(rows: list[dict[str, Any]], samples: dict[str, Any]) -> list[dict[str, Any]]:
    """The JSONL records of one benchmark's rows; `samples` maps sample id -> Sample (question, answer)."""
    out = []
    for r in rows:
        s = samples.get(r["sample_id"])
        rec = {k: r.get(k) for k in FIELDS if k not in ("question", "answer")}
        rec["question"] = None if s is None else s.question
        rec["answer"] = None if s is None else s.answer
        out.append({k: rec[k] for k in FIELDS})
    return out


def samples_jsonl(table: pa.Table, samples: dict[str, dict[str, Any]]) -> dict[str, bytes]:
    """{benchmark: JSONL bytes}, lines ordered by (model, point, sample)."""
    by_bench: dict[str, list[dict[str, Any]]] = {}
    for r in table.to_pylist():
        by_bench.setdefault(r["benchmark"], []).append(r)
    out = {}
    for bench, rows in sorted(by_bench.items()):
        rows.sort(key=lambda r: (r["model"], r["point_id"], r["sample_id"]))
        recs = sample_records(rows, samples.get(bench, {}))
        out[bench] = "".join(json.dumps(rec, default=str) + "\n" for rec in recs).encode()
    return out


def write_samples(store: SweepStore, files: dict[str, bytes]) -> dict[str, str]:
    """Write each benchmark's JSONL atomically into the store; returns {benchmark: path}."""
    store.fs.create_dir(f"{store.root}/{SAMPLES_DIR}", recursive=True)
    paths = {}
    for bench, data in files.items():
        name = f"{SAMPLES_DIR}/{bench}.jsonl"
        store.write_bytes(name, data)
        paths[bench] = f"{store.root}/{name}"
    return paths


def log_parent(tracker, files: dict[str, bytes], metrics: dict[str, float]) -> bool:
    """Samples files and headline metrics onto the parent run; False (tracker turned off) when MLflow fails."""
    if tracker is None or tracker.down is not None or tracker.client is None or tracker.parent_id is None:
        return False
    from mlflow.entities import Metric

    try:
        client, rid = tracker.client, tracker.parent_id
        with tempfile.TemporaryDirectory() as d:
            for bench, data in files.items():
                path = Path(d) / f"{bench}.jsonl"
                path.write_bytes(data)
                client.log_artifact(rid, str(path), SAMPLES_DIR)
        held = client.get_run(rid).data.metrics
        new = [Metric(k, float(v), 0, 0) for k, v in metrics.items() if held.get(k) != float(v)]
        for i in range(0, len(new), 500):
            client.log_batch(rid, metrics=new[i:i + 500])
    except Exception as exc:  # MLflow is a view: the store keeps everything, --sync-mlflow backfills
        tracker._fail(exc)
        return False
    return True


def publish(store: SweepStore, samples: dict[str, dict[str, Any]], tracker=None,
            benchmarks: dict[str, Any] | None = None) -> Published:
    """Samples files into the store (always) and, with a live tracker, onto the MLflow parent run.
    `benchmarks`: name -> the sweep's benchmark objects (sweeps.point_metrics.summarize)."""
    table = store.read()
    if table.num_rows == 0:
        return Published()
    files = samples_jsonl(table, samples)
    result = Published(samples=write_samples(store, files), headlines=headlines(summarize(table, benchmarks)))
    result.logged = log_parent(tracker, files, mlflow_metrics(result.headlines))
    return result
