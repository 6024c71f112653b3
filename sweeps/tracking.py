"""MLflow view of a sweep (driver only): a parent run per sweep, a child run per (model, benchmark, grid point).

    python jobs/sweep.py --config sweeps/configs/demo.yaml --sync-mlflow   # backfill from the store

Metrics stream as units commit, with step = samples done for that (model, benchmark). Keys are
low-cardinality (`running_accuracy`, `rel_pct`, `loyalty`, `tflops`, `kv_mb`, `latency_p50_prefill_ms`, ...);
strategy, budget T and ratio r are params/tags. The results store is the source of truth: when
MLflow is unreachable the tracker warns once and goes quiet; `sync()` later replays the store in
commit order and logs only steps a run does not have yet, so re-syncing never duplicates anything.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import tempfile
import time
from collections import defaultdict
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pyarrow as pa

from pruning.plan import PrunePlan
from sweeps.loyalty import agreement
from sweeps.point_metrics import PointSummary, keep_all_of, parse_scores, relative_pct, summarize_rows
from sweeps.secrets import redact, redact_url
from sweeps.store import SweepStore, local_path

log = logging.getLogger("vissweep.tracking")
PHASES = ("vision", "select", "prefill", "decode")
MAX_PARAM_CHARS = 500          # MLflow accepts 6000; keep the UI readable
PARENT, CHILD = "parent", "point"
# The experiment page opens on the runs table, not MLflow 3's GenAI overview: MLflow 3.x before the
# workflow selector reads this experiment tag; 3.17 decides by the UI's workflow type (URL parameter
# `workflowType=machine_learning`, else the browser's stored choice, default GenAI), hence runs_view().
KIND_TAG, KIND_RUNS = "mlflow.experimentKind", "custom_model_development"


def runs_view(experiment_id: str) -> str:
    """The UI path (after the server address) of an experiment's runs table in machine-learning mode."""
    return f"#/experiments/{experiment_id}/runs?workflowType=machine_learning"


def tracking_uri(config_uri: str | None, store: str) -> str:
    """$MLFLOW_TRACKING_URI, else the config's, else a SQLite file next to the results (or in the cwd)."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    if config_uri:
        return config_uri
    root = local_path(store)
    return f"sqlite:///{root}/mlflow.db" if root else "sqlite:///mlflow.db"


def flatten(d: Any, prefix: str = "") -> dict[str, str]:
    """Nested config -> {"grid.0.strategy": "vispruner", ...}; long values truncated with a marker."""
    out: dict[str, str] = {}
    items = d.items() if isinstance(d, dict) else enumerate(d) if isinstance(d, list) else None
    if items is None:
        v = str(d)
        out[prefix[:250]] = v if len(v) <= MAX_PARAM_CHARS else v[: MAX_PARAM_CHARS - 3] + "..."
        return out
    for k, v in items:
        out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                              cwd=Path(__file__).resolve().parent).stdout.strip() or os.environ.get("VISSWEEP_GIT_COMMIT", "unknown")
    except (OSError, subprocess.SubprocessError):
        return os.environ.get("VISSWEEP_GIT_COMMIT", "unknown")


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("torch", "transformers", "ray", "mlflow", "pyarrow", "vissweep"):
        try:
            out[f"version.{pkg}"] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def _reachable(uri: str) -> bool:
    u = urlparse(uri)
    if u.scheme not in ("http", "https"):
        return True
    try:
        with socket.create_connection((u.hostname, u.port or (443 if u.scheme == "https" else 80)), timeout=3):
            return True
    except OSError:
        return False


def score_dicts(t: pa.Table) -> list[dict[str, Any]]:
    """The rows' bench.score dicts (the `scores` JSON column), the input of bench.aggregate."""
    return [parse_scores(r.get("scores"), r.get("score"), r.get("error")) for r in t.to_pylist()]


def point_metrics(t: pa.Table, bench: Any = None) -> dict[str, float]:
    """MLflow keys of one grid point's rows so far; the numbers are sweeps.point_metrics.summarize_rows's.

    running_<primary>: bench.aggregate over the rows so far (e.g. running_accuracy, running_f1_mean);
    score_mean: mean per-sample score; errored rows count in samples/n_errors/error_rate, never in costs.
    """
    return mlflow_metrics(summarize_rows(t.to_pylist(), bench))


def mlflow_metrics(p: PointSummary) -> dict[str, float]:
    """A PointSummary under the low-cardinality MLflow metric names (NaN values are left out when logged)."""
    m: dict[str, float] = {"samples": float(p.n), "n_errors": float(p.n_errors), "error_rate": p.n_errors / max(p.n, 1),
                           f"running_{p.primary_metric}": p.primary, "score_mean": p.score_mean,
                           "tflops": p.prefill_flops / 1e12, "kv_mb": p.kv_bytes / 2**20, "visual_tokens": p.n_visual_kept}
    for ph in PHASES:
        if ph in p.latency_p50_s:
            m[f"latency_p50_{ph}_ms"] = p.latency_p50_s[ph] * 1e3
            m[f"latency_p95_{ph}_ms"] = p.latency_p95_s[ph] * 1e3
    return {k: v for k, v in m.items() if v is not None and np.isfinite(v)}


class Tracker:
    """Streams committed units into MLflow; every MLflow failure turns it off (with one warning), never the sweep."""

    def __init__(self, uri: str, experiment: str, sweep_id: str, *, config_text: str = "", config_raw: dict | None = None,
                 benchmarks: dict[str, Any] | None = None, totals: dict[tuple[str, str], int] | None = None,
                 artifact_root: str | None = None, live: bool = True, every_s: float = 0.0):
        self.uri, self.experiment, self.sweep_id = uri, experiment, sweep_id
        self.config_text, self.config_raw = config_text, config_raw or {}
        self.benchmarks = benchmarks or {}            # name -> benchmark object (primary_metric, aggregate)
        self.totals = totals or {}                    # (model, benchmark) -> samples in the sweep
        self.artifact_root, self.live = artifact_root, live
        self.every_s = every_s                        # min seconds between streamed steps of one benchmark
        self.last_stream: dict[tuple[str, str], float] = {}
        self.down: str | None = None
        self.client = None
        self.parent_id: str | None = None
        self.children: dict[str, str] = {}            # point key -> run id
        self.last_step: dict[str, int] = {}           # run id -> last logged step (resume without duplicates)
        self.finished: set[str] = set()               # run ids whose final metrics are logged
        self.rows: dict[tuple[str, str], list[pa.Table]] = defaultdict(list)
        self.done: dict[tuple[str, str], int] = defaultdict(int)
        self.t0 = time.time()
        self.rows_done = 0

    # -- connection ------------------------------------------------------------------------------
    def _fail(self, exc: BaseException | str) -> None:
        if self.down is None:
            self.down = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
            log.warning("MLflow at %s is unavailable (%s); the sweep goes on, results stay in the store. "
                        "Backfill later with: python jobs/sweep.py --config CONFIG --sync-mlflow", redact_url(self.uri),
                        redact_url(self.down))

    def start(self) -> bool:
        """Connect, find or create the parent run. False (with one warning) when MLflow is unreachable."""
        if not _reachable(self.uri):
            self._fail(f"cannot connect to {self.uri}")
            return False
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")   # fail fast, backfill later
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "15")
        try:
            from mlflow.tracking import MlflowClient

            self.client = MlflowClient(tracking_uri=self.uri)
            exp = self.client.get_experiment_by_name(self.experiment)
            if exp is None:
                loc = None if self.artifact_root is None else Path(self.artifact_root).resolve().as_uri()
                self.exp_id = self.client.create_experiment(self.experiment, artifact_location=loc,
                                                            tags={KIND_TAG: KIND_RUNS})
            else:
                self.exp_id = exp.experiment_id
                if KIND_TAG not in exp.tags:                 # never override a kind someone chose in the UI
                    self.client.set_experiment_tag(self.exp_id, KIND_TAG, KIND_RUNS)
            self._index_runs()
            if self.parent_id is None:
                tags = {"sweep_id": self.sweep_id, "vissweep.role": PARENT, "git_commit": _git_commit(), **_versions()}
                run = self.client.create_run(self.exp_id, run_name=self.sweep_id, tags=tags)
                self.parent_id = run.info.run_id
                self._log_params(self.parent_id, {"sweep_id": self.sweep_id, **flatten(redact(self.config_raw))})
                if self.config_text:
                    self.client.log_text(self.parent_id, self.config_text, "config.yaml")
        except Exception as exc:  # any MLflow/DB/HTTP failure: the store keeps everything
            self._fail(exc)
            return False
        return True

    def _index_runs(self) -> None:
        token = None
        while True:
            page = self.client.search_runs([self.exp_id], f"tags.sweep_id = '{self.sweep_id}'",
                                           max_results=1000, page_token=token)
            for run in page:
                role = run.data.tags.get("vissweep.role")
                if role == PARENT:
                    self.parent_id = run.info.run_id
                elif role == CHILD:
                    self.children[run.data.tags["point_key"]] = run.info.run_id
                    if run.data.tags.get("vissweep.final") == "true":
                        self.finished.add(run.info.run_id)
            token = page.token
            if not token:
                break
        for rid in [self.parent_id, *self.children.values()]:
            if rid is not None:
                self.last_step[rid] = self._last_step(rid)

    def _last_step(self, run_id: str) -> int:
        run = self.client.get_run(run_id)
        key = "samples_done" if run.data.tags.get("vissweep.role") == PARENT else "samples"
        hist = self.client.get_metric_history(run_id, key) if key in run.data.metrics else []
        return max((m.step for m in hist), default=-1)

    def _log_params(self, run_id: str, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)) for k, v in params.items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[i:i + 100])

    def log_placement(self, params: dict[str, str]) -> None:
        """Where replicas ran, as parent-run params. MLflow params are immutable, so a resumed sweep whose
        replicas landed elsewhere keeps the first placement as params and records the new one as tags."""
        if self.client is None or self.down is not None or self.parent_id is None:
            return
        try:
            have = self.client.get_run(self.parent_id).data.params
            self._log_params(self.parent_id, {k: v for k, v in params.items() if k not in have})
            for k, v in params.items():
                if k in have and have[k] != v:
                    self.client.set_tag(self.parent_id, f"latest.{k}", v)
        except Exception as exc:  # tracking never stops the sweep
            self._fail(exc)

    def _log_metrics(self, run_id: str, metrics: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        if step <= self.last_step.get(run_id, -1):
            return                                          # already logged by an earlier run or sync
        ts = int(time.time() * 1000)
        self.client.log_batch(run_id, metrics=[Metric(k, float(v), ts, step) for k, v in metrics.items()
                                               if v is not None and np.isfinite(v)])
        self.last_step[run_id] = step

    def _child(self, model: str, benchmark: str, point: PrunePlan) -> str:
        key = f"{model}|{benchmark}|{point.point_id}"
        if key not in self.children:
            tags = {"sweep_id": self.sweep_id, "vissweep.role": CHILD, "point_key": key, "model": model,
                    "benchmark": benchmark, "strategy": point.strategy, "point_id": point.point_id,
                    "mlflow.parentRunId": self.parent_id}
            run = self.client.create_run(self.exp_id, run_name=point.run_name(model, benchmark), tags=tags)
            rid = run.info.run_id
            params = {"model": model, "benchmark": benchmark, "strategy": point.strategy,
                      "budget": "all" if point.budget is None else point.budget,
                      "ratio": "none" if point.ratio is None else point.ratio, "point_id": point.point_id,
                      **{f"param.{k}": v for k, v in point.params.items()}}
            b = self.benchmarks.get(benchmark)
            if b is not None:   # the scoring rule(s) behind every score of this run; the first is `score`
                params["scoring_rules"] = ",".join(getattr(b, "rules", None) or [b.rule])
            self._log_params(rid, params)
            self.children[key] = rid
            self.last_step[rid] = -1
        return self.children[key]

    # -- streaming -------------------------------------------------------------------------------
    def on_commit(self, rows: pa.Table, units_done: int = 0, units_quarantined: int = 0) -> None:
        """Record one committed unit's rows; log running metrics for every grid point it carries."""
        if rows.num_rows == 0:
            return
        model, bench = rows["model"][0].as_py(), rows["benchmark"][0].as_py()
        key = (model, bench)
        self.rows[key].append(rows)
        n_samples = len(set(rows["sample_id"].to_pylist()))
        self.done[key] += n_samples
        self.rows_done += rows.num_rows
        if self.down is not None or self.client is None:
            return
        complete = bool(self.totals.get(key)) and self.done[key] >= self.totals[key]
        now = time.monotonic()
        if not complete and now - self.last_stream.get(key, -1e18) < self.every_s:
            return                                    # throttled: each step recomputes every point's aggregate
        self.last_stream[key] = now
        try:
            self._stream(key, units_done, units_quarantined)
        except Exception as exc:
            self._fail(exc)

    def _stream(self, key: tuple[str, str], units_done: int, units_quarantined: int) -> None:
        model, bench = key
        step = self.done[key]
        table = pa.concat_tables(self.rows[key])
        by_point = _split_by_point(table)
        summaries = {pid: summarize_rows(t.to_pylist(), self.benchmarks.get(bench)) for pid, t in by_point.items()}
        base = keep_all_of(list(summaries.values())).get(key)
        base_rows = by_point[base.point_id].to_pylist() if base is not None else None
        for pid, t in by_point.items():
            m = mlflow_metrics(summaries[pid])
            rel = relative_pct(summaries[pid], base)           # % of the unpruned model, same samples
            if np.isfinite(rel):
                m["rel_pct"] = rel
            if base_rows is not None and (lo := agreement(t.to_pylist(), base_rows)).n:
                m["loyalty"] = lo.share                       # same answer as keep_all (sweeps/loyalty.py)
            point = PrunePlan.from_dict({"strategy": t["strategy"][0].as_py(), "budget": t["budget"][0].as_py(),
                                         "params": json.loads(t["params"][0].as_py() or "{}")})
            self._log_metrics(self._child(model, bench, point), m, step)
        total = sum(self.done.values())
        parent = {"samples_done": total, "rows_done": self.rows_done, "units_done": units_done,
                  "units_quarantined": units_quarantined}
        if self.live:
            parent["throughput_rows_per_s"] = self.rows_done / max(time.time() - self.t0, 1e-9)
        self._log_metrics(self.parent_id, parent, total)
        if self.totals.get(key) and step >= self.totals[key]:
            self._final(key, by_point, summaries)

    def _final(self, key: tuple[str, str], by_point: dict[str, pa.Table], summaries: dict[str, PointSummary]) -> None:
        """bench.aggregate per point (the summary's metrics), predictions as a Parquet artifact, run marked final."""
        model, bench = key
        b = self.benchmarks.get(bench)
        for pid, t in by_point.items():
            rid = self.children[f"{model}|{bench}|{pid}"]
            if rid in self.finished:
                continue
            if b is not None:
                final = {f"final_{k}": v for k, v in summaries[pid].metrics.items()}
                from mlflow.entities import Metric

                ts = int(time.time() * 1000)
                self.client.log_batch(rid, metrics=[Metric(k, v, ts, self.done[key]) for k, v in final.items()
                                                    if np.isfinite(v)])
            cols = ["sample_id", "category", "prediction", "score", "scores", "n_visual_kept", "prefill_flops",
                    "kv_bytes", "t_prefill", "t_decode", "error", "replica", "unit_id"]
            with tempfile.TemporaryDirectory() as d:
                import pyarrow.parquet as pq

                path = Path(d) / "predictions.parquet"
                pq.write_table(t.select(cols).sort_by("sample_id"), path)
                self.client.log_artifact(rid, str(path))
            self.client.set_tag(rid, "vissweep.final", "true")
            self.client.set_terminated(rid, "FINISHED")
            self.finished.add(rid)

    def close(self, status: str = "FINISHED") -> None:
        if self.down is None and self.client is not None and self.parent_id is not None:
            try:
                self.client.set_terminated(self.parent_id, status)
            except Exception as exc:
                self._fail(exc)


def _split_by_point(t: pa.Table) -> dict[str, pa.Table]:
    ids = t["point_id"].to_pylist()
    order: dict[str, list[int]] = {}
    for i, p in enumerate(ids):
        order.setdefault(p, []).append(i)
    return {p: t.take(pa.array(idx)) for p, idx in order.items()}


def sync(tracker: Tracker, store: SweepStore) -> int:
    """Replay every committed unit in commit order through `tracker` (live=False). Returns units replayed."""
    import pyarrow.fs as pafs

    infos = store.fs.get_file_info(pafs.FileSelector(f"{store.root}/units", allow_not_found=True))
    committed = store.committed_units()
    infos = sorted((i for i in infos if i.base_name[: -len(".parquet")] in committed),
                   key=lambda i: (i.mtime_ns or 0, i.base_name))
    n_quarantined = len(store.quarantined())
    for n, info in enumerate(infos, 1):
        tracker.on_commit(store.read_unit(info.base_name[: -len(".parquet")]), units_done=n,
                          units_quarantined=n_quarantined)
        if tracker.down:
            break
    return len(infos)
