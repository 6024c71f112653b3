"""What a newcomer reads and types after a sweep: every command jobs/sweep.py prints runs as printed in a fresh
shell (no venv activated, a bare PATH, from the directory the sweep ran in).

1. MLflow unreachable (set with --set mlflow.tracking_uri=..., samples capped with --limit): the note says
   nothing was logged and prints the backfill command; with an MLflow server up, that command, run as printed,
   logs the runs, the samples file and the loyalty metric.
2. The same sweep again with the default SQLite MLflow: nothing to run (no Ray); the printed report, rows and
   `mlflow ui` commands all work (the UI is started on a free port and asked for the experiment).
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.dashboards.browser import stop, wait_http
from tests.ray_cluster import free_port

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
CONFIG = """\
# python jobs/sweep.py --config note.yaml
name: note
models: [tiny-llava]
benchmarks:
  - {name: shapes, lite: 16}
grid:
  - {strategy: keep_all}
  - {strategy: vispruner, budget: [64], ratio: [0.5]}
controls: false
shard_size: 4
replicas: {count: 1}
generation: {max_new_tokens: 2, batch_size: 4}
mlflow: {experiment: note, stream_every_s: 0}
"""


def fresh_shell(cmd: str, tmp: Path, **kw) -> subprocess.CompletedProcess | subprocess.Popen:
    """`cmd` in a new bash with no venv, no profile and a bare PATH, from the repo root."""
    argv = ["env", "-i", f"HOME={tmp}", "PATH=/usr/bin:/bin", "bash", "--noprofile", "--norc", "-c", cmd]
    if kw.pop("background", False):
        return subprocess.Popen(argv, cwd=REPO, start_new_session=True, **kw)
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=600)


def commands(out: str) -> list[str]:
    return [line.strip() for line in out.splitlines() if line.startswith("  .venv/bin/")]


def sweep(tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS")}
    return subprocess.run([".venv/bin/python", "jobs/sweep.py", "--config", str(tmp / "note.yaml"), "--store",
                           str(tmp / "store"), "--address", "local", "--limit", "6", *extra],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def test_printed_commands_work_in_a_fresh_shell(tmp_path):
    (tmp_path / "note.yaml").write_text(CONFIG)
    port = free_port()                                           # nothing listens there yet
    down = sweep(tmp_path, "--set", f"mlflow.tracking_uri=http://127.0.0.1:{port}")
    assert down.returncode == 0, down.stderr[-3000:]
    out = down.stdout
    assert f"MLflow: nothing was logged: http://127.0.0.1:{port} was unreachable" in out
    backfill = commands(out)
    assert len(backfill) == 3 and backfill[0].endswith("--sync-mlflow")     # backfill, report, rows
    sweep_id = re.search(r"--sweep-id (\S+)", backfill[0]).group(1)
    # --limit 6 and --set are recorded in the stored config; 6 samples x 2 points in the samples file
    stored = (tmp_path / "store" / sweep_id / "config.yaml").read_text()
    assert stored.startswith("# python jobs/sweep.py --config") and "--limit 6" in stored.splitlines()[0]
    assert "lite: 6" in stored and f"http://127.0.0.1:{port}" in stored
    samples = tmp_path / "store" / sweep_id / "samples" / "shapes.jsonl"
    lines = [json.loads(x) for x in samples.read_text().splitlines()]
    assert len(lines) == 12 and {x["point_id"] for x in lines} == {"keep_all/Tall", "vispruner/T64/r0.5"}
    assert all(x["question"] and x["answer"] is not None for x in lines)

    # MLflow comes up; the printed backfill command, as printed, fills it
    uri = f"sqlite:///{tmp_path}/server.db"
    MlflowClient(uri).search_experiments()
    log = tmp_path / "server.log"
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                               "--backend-store-uri", uri, "--artifacts-destination", str(tmp_path / "art"),
                               "--workers", "1"], stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", server, 240, log)
        done = fresh_shell(backfill[0], tmp_path)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        client = MlflowClient(f"http://127.0.0.1:{port}")
        exp = client.get_experiment_by_name("note")
        runs = {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}
        assert set(runs) == {sweep_id, "tiny-llava/shapes/keep_all/Tall", "tiny-llava/shapes/vispruner/T64-r0.5"}
        assert runs["tiny-llava/shapes/keep_all/Tall"].data.metrics["loyalty"] == 1.0
        assert 0.0 <= runs["tiny-llava/shapes/vispruner/T64-r0.5"].data.metrics["loyalty"] <= 1.0
        assert [a.path for a in client.list_artifacts(runs[sweep_id].info.run_id, "samples")] == ["samples/shapes.jsonl"]
    finally:
        stop(server)

    # again, MLflow in the store's SQLite file: all committed, so no Ray; every printed command works
    again = sweep(tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Ray:" not in again.stderr
    printed = commands(again.stdout)
    assert [c.split()[1] if c.startswith(".venv/bin/python") else c.split()[0] for c in printed] == \
        [".venv/bin/mlflow", "-m", "-c"]
    assert "http://127.0.0.1:5000/#/experiments/" in again.stdout and "workflowType=machine_learning" in again.stdout
    ui_cmd, report_cmd, rows_cmd = printed
    rep = fresh_shell(report_cmd, tmp_path)
    assert rep.returncode == 0, rep.stderr[-3000:]
    index = tmp_path / "store" / sweep_id / "report" / "index.html"
    assert f"report: {index}" in rep.stdout and "The sweep's answer at a glance" in index.read_text()
    rows = fresh_shell(rows_cmd, tmp_path)
    assert rows.returncode == 0 and "pyarrow.Table" in rows.stdout and "point_id" in rows.stdout, rows.stderr[-2000:]
    assert str(samples) in again.stdout
    ui_port = free_port()
    assert "--port 5000" in ui_cmd
    ui = fresh_shell(ui_cmd.replace("--port 5000", f"--port {ui_port}"), tmp_path, background=True,
                     stdout=(tmp_path / "ui.log").open("w"), stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{ui_port}/health", ui, 240, tmp_path / "ui.log")
        exp = MlflowClient(f"http://127.0.0.1:{ui_port}").get_experiment_by_name("note")
        assert exp is not None and f"/#/experiments/{exp.experiment_id}/runs" in again.stdout
    finally:
        stop(ui)
