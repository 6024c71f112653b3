"""Planted secrets appear in no output of a real sweep: store, MLflow DB, artifacts, Ray logs, judge cache.

The judge key lives only in the environment (`api_key_env` names the variable, and OPENAI_API_KEY holds
it too); a password sits in the config's (accepted) `mlflow.tracking_uri`, which $MLFLOW_TRACKING_URI
overrides. The judge is a local OpenAI-compatible stub on 127.0.0.1 that records the Authorization
header, so the test also proves the key was really used. Then every byte the sweep wrote is searched.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.sweeps.benchmarks.bench_fixtures import image_struct, png, write_parquet
from tests.sweeps.judge_stub import StubServer

REPO = Path(__file__).resolve().parents[2]
KEY = "sk-planted-9f8e7d6c5b4a39281706"
PASSWORD = "pw-planted-5a4b3c2d1e"            # an accepted secret: inside the config's mlflow.tracking_uri


def files_under(*roots):
    for root in roots:
        for p in Path(root).rglob("*"):
            if p.is_file() and not p.is_symlink() and not p.name.endswith((".sock", ".socket")):
                yield p


@pytest.mark.slow
def test_planted_key_appears_in_no_output(tmp_path):
    rows = [{"question_id": f"v1_{i}", "image": image_struct(png((40 * i, 90, 200))), "question": f"What is {i}?",
             "answer": "a", "image_source": "x", "capability": "rec"} for i in range(4)]
    data = write_parquet(tmp_path / "mmvet", rows)
    cfg = tmp_path / "secret.yaml"
    store, cache = tmp_path / "results", tmp_path / "judge-cache"
    ray_tmp = Path(tempfile.mkdtemp(prefix="vsw-s-", dir="/tmp"))       # short: Ray's socket paths < 108 chars
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI")}
    env.update(VSW_PLANTED_JUDGE_KEY=KEY, OPENAI_API_KEY=KEY, TMPDIR=str(ray_tmp), RAY_TMPDIR=str(ray_tmp),
               MLFLOW_TRACKING_URI=f"sqlite:///{store.resolve()}/mlflow.db")   # wins over the config's URI
    proc = None
    try:
        with StubServer([("ok", "1.0")]) as judge:
            cfg.write_text(
                "# python jobs/sweep.py --config secret.yaml\nname: secret\nmodels: [tiny-llava]\n"
                f"benchmarks:\n  - {{name: mmvet, source: {data}, judge: {{model: j, base_url: '{judge.url}', "
                f"api_key_env: VSW_PLANTED_JUDGE_KEY, cache_dir: {cache}}}}}\n"
                "grid: [{strategy: vispruner, budget: 16, ratio: 0.5}]\ncontrols: false\nshard_size: 2\n"
                "generation: {max_new_tokens: 2, batch_size: 2}\n"
                f"mlflow: {{experiment: secret, stream_every_s: 0, tracking_uri: 'http://vsw:{PASSWORD}@127.0.0.1:9/'}}\n")
            proc = subprocess.Popen([sys.executable, "jobs/sweep.py", "--config", str(cfg), "--store", str(store),
                                     "--address", "local"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, start_new_session=True)
            out, err = proc.communicate(timeout=480)
        assert proc.returncode == 0, err[-3000:]
        assert judge.requests and all(h["authorization"] == f"Bearer {KEY}" for h in judge.headers)  # key used
        assert "Ray: started a local Ray at 127.0.0.1:" in err

        outputs = [store, cache, ray_tmp]
        searched = list(files_under(*outputs))
        names = {p.name for p in searched}
        assert {"config.yaml", "mlflow.db", "judge.sqlite", "predictions.parquet"} <= names, names
        assert any(p.suffix in (".log", ".out", ".err") for p in searched)            # Ray's session logs
        leaks = [str(p) for p in searched for s in (KEY, PASSWORD) if s.encode() in p.read_bytes()]
        assert leaks == []
        assert KEY not in out + err and PASSWORD not in out + err

        # the variable's name is kept (a rerun knows where the key comes from); MLflow params hold no value
        sid = next(p.name for p in store.iterdir() if p.name.startswith("secret-"))
        assert "api_key_env: VSW_PLANTED_JUDGE_KEY" in (store / sid / "config.yaml").read_text()
        client = MlflowClient(f"sqlite:///{store.resolve()}/mlflow.db")
        exp = client.get_experiment_by_name("secret")
        parent = next(r for r in client.search_runs([exp.experiment_id]) if r.info.run_name == sid)
        assert parent.data.params["benchmarks.0.judge.api_key_env"] == "VSW_PLANTED_JUDGE_KEY"
        assert parent.data.params["mlflow.tracking_uri"] == "http://vsw:<redacted>@127.0.0.1:9/"
        assert all(KEY not in v and PASSWORD not in v for v in parent.data.params.values())
        artifact = Path(client.download_artifacts(parent.info.run_id, "config.yaml", str(tmp_path)))
        assert "tracking_uri: 'http://vsw:<redacted>@127.0.0.1:9/'" in artifact.read_text()
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)                  # our own session only
        shutil.rmtree(ray_tmp, ignore_errors=True)
