"""A real sweep (jobs/sweep.py, local Ray on 127.0.0.1, MLflow in the store) of tiny-video-llava over the four
video QA benchmarks, each read from files this test writes in its release's layout (ActivityNet-QA as a copy of
the hub repo: Parquet rows + videos_chunked zip), judged by the OpenAI-compatible stub on 127.0.0.1:

- every (grid point, sample) has its row; a corrupt or missing video is an error row with its reason;
- kept tokens per frame are stored (keep_all: 8 x 257; VisPruner T=114: 8 counts summing to 114);
- the judge's verdicts are the scores, each distinct (question, answer, prediction) asked once, and cached:
  with the stub gone, re-scoring the stored predictions reads every verdict from the cache;
- the judge key (environment only) is sent to the judge and appears in no output.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from sweeps.benchmarks import get_benchmark
from sweeps.judge import Judge
from sweeps.store import read_results
from tests.sweeps.benchmarks.bench_fixtures import write_parquet
from tests.sweeps.benchmarks.video_fixtures import write_release, write_video, zip_videos
from tests.sweeps.judge_stub import StubServer

REPO = Path(__file__).resolve().parents[2]
KEY = "sk-video-planted-0a1b2c3d4e5f6789"
BENCHES = ("activitynet_qa", "msvd_qa", "msrvtt_qa", "tgif_qa")
# (question id, video, answer): the stub says "yes", score 4, exactly when the answer starts with "good"
QA = [("q0", "clip1", "good dog"), ("q1", "clip2", "a cat"), ("q2", "clip3", "good x"), ("q3", "gone", "good y")]
VIDEOS = {"clip1": 30, "clip2": 5, "clip3": 0}                # clip3 is not a video
ASKED = re.compile(r"Question: (.*)\nCorrect Answer: (.*)\nPredicted Answer: (.*)\n\nProvide", re.S)


def verdict(body) -> str:
    answer = re.search(r"Correct Answer: (.*)\n", body["messages"][1]["content"]).group(1)
    return "{'pred': 'yes', 'score': 4}" if answer.startswith("good") else "{'pred': 'no', 'score': 1}"


def activitynet_hub_copy(root: Path) -> Path:
    """lmms-lab/ActivityNetQA as the hub holds it: Parquet rows, videos as all_test/v_<name>.mp4 in a zip."""
    files = {f"all_test/v_{v}.mp4": write_video(root / "raw" / f"{v}.mp4", n) for v, n in VIDEOS.items() if n}
    (root / "raw" / "clip3.mp4").write_bytes(b"not a video" * 40)
    files["all_test/v_clip3.mp4"] = root / "raw" / "clip3.mp4"
    zip_videos(root / "ActivityNetQA" / "videos_chunked_01.zip", files)
    rows = [{"question_id": q, "question": f"question {i}?", "answer": a, "video_name": v, "type": i % 2}
            for i, (q, v, a) in enumerate(QA)]
    return write_parquet(root / "ActivityNetQA" / "data", rows).parent


def sources(root: Path) -> dict[str, Path]:
    qa = [(q, v, a, i % 2) for i, (q, v, a) in enumerate(QA)]
    out = {b: write_release(root / "GPT_Zero_Shot_QA", b, VIDEOS, qa) for b in BENCHES if b != "activitynet_qa"}
    out["activitynet_qa"] = activitynet_hub_copy(root)
    return out


@pytest.mark.slow
def test_video_qa_sweep_end_to_end(tmp_path):
    data = sources(tmp_path / "data")
    store, cache = tmp_path / "results", tmp_path / "judge-cache"
    ray_tmp = Path(tempfile.mkdtemp(prefix="vsw-v-", dir="/tmp"))      # short: Ray's socket paths < 108 chars
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI", "OPENAI_API_KEY")}
    env.update(VSW_VIDEO_JUDGE_KEY=KEY, TMPDIR=str(ray_tmp), RAY_TMPDIR=str(ray_tmp))
    proc = None
    try:
        with StubServer(reply=verdict) as judge:
            judge_cfg = {"model": "judge-stub", "base_url": judge.url, "api_key_env": "VSW_VIDEO_JUDGE_KEY",
                         "cache_dir": str(cache), "backoff": 0.01}
            cfg = {"name": "video", "models": ["tiny-video-llava"],
                   "benchmarks": [{"name": b, "source": str(data[b]), "judge": judge_cfg} for b in BENCHES],
                   "grid": [{"strategy": "keep_all"}, {"strategy": "vispruner", "budget": 114, "ratio": 0.5}],
                   "controls": False, "shard_size": 4, "replicas": {"count": 1},
                   "generation": {"max_new_tokens": 3, "batch_size": 4},
                   "mlflow": {"experiment": "video", "stream_every_s": 0}}
            path = tmp_path / "video.yaml"
            path.write_text("# python jobs/sweep.py --config video.yaml\n" + yaml.safe_dump(cfg, sort_keys=False))
            proc = subprocess.Popen([sys.executable, "jobs/sweep.py", "--config", str(path), "--store", str(store),
                                     "--address", "local"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, start_new_session=True)
            out, err = proc.communicate(timeout=540)
            requests, headers = list(judge.requests), list(judge.headers)
        assert proc.returncode == 0, err[-3000:]
        sid = next(p.name for p in store.iterdir() if p.name.startswith("video-"))
        rows = read_results(str(store), sid).to_pylist()

        # every row there once; bad videos are error rows that say why
        assert len(rows) == len(BENCHES) * len(QA) * 2
        assert {(r["benchmark"], r["point_id"], r["sample_id"]) for r in rows} == {
            (b, p, q) for b in BENCHES for p in ("keep_all/Tall", "vispruner/T114/r0.5") for q, _, _ in QA}
        for r in rows:
            if r["sample_id"] == "q2":
                assert "cannot open video" in r["error"] and "clip3" in r["error"] and r["prediction"] is None
            elif r["sample_id"] == "q3":
                assert "missing video file 'gone'" in r["error"] and r["prediction"] is None
            else:
                assert r["error"] is None and r["prediction"] is not None
                assert r["n_visual_in"] == 8 * 257
                if r["strategy"] == "keep_all":
                    assert r["n_visual_kept"] == 2056 and r["kept_per_frame"] == [257] * 8
                else:
                    assert r["n_visual_kept"] == 114 and len(r["kept_per_frame"]) == 8 and sum(r["kept_per_frame"]) == 114
                # the judge's verdict is the score: yes (4) exactly for the answers that start with "good"
                scores = json.loads(r["scores"])
                right = r["sample_id"] == "q0"
                assert (r["score"], scores["judge_pred"], scores["judge_score"]) == ((1.0, "yes", 4) if right else (0.0, "no", 1))

        # the judge saw exactly the distinct (question, answer, prediction) triples, with the key from the environment
        # (identical triples meet the cache; two judge threads asking the same one at once may both be sent)
        answers = {q: (f"question {i}?", a) for i, (q, _, a) in enumerate(QA)}
        ok = [r for r in rows if r["error"] is None]
        distinct = {(*answers[r["sample_id"]], r["prediction"]) for r in ok}
        asked = [ASKED.search(b["messages"][1]["content"]).groups() for b in requests]
        assert set(asked) == distinct and len(asked) <= len(ok)
        assert all(h["authorization"] == f"Bearer {KEY}" for h in headers)
        assert all(b["model"] == "judge-stub" and b["temperature"] == 0 for b in requests)

        # cached: the stub is gone, and re-scoring every stored prediction needs no request
        offline = Judge(model="judge-stub", base_url=judge.url, api_key="sk-unused", cache_dir=cache, max_retries=0)
        for b in BENCHES:
            bench = get_benchmark(b, judge=offline)
            samples = {s.id: s for s in bench.load(str(data[b]))}
            for r in (r for r in rows if r["benchmark"] == b and r["error"] is None):
                again = bench.score(samples[r["sample_id"]], r["prediction"])
                assert "error" not in again and again["score"] == r["score"]
        assert offline.calls == 0

        # the key is in no output: results, MLflow, judge cache, Ray's session logs, stdout/stderr
        searched = [p for root in (store, cache, ray_tmp) for p in root.rglob("*")
                    if p.is_file() and not p.is_symlink() and not p.name.endswith((".sock", ".socket"))]
        assert {"mlflow.db", "judge.sqlite"} <= {p.name for p in searched}
        assert [str(p) for p in searched if KEY.encode() in p.read_bytes()] == []
        assert KEY not in out + err
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)                        # our own session only
        shutil.rmtree(ray_tmp, ignore_errors=True)
