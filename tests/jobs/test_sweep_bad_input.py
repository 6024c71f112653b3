"""Every bad input to `python jobs/sweep.py` is one named line and exit status 2, before Ray starts.

Each case runs the real script as a subprocess with its own TMPDIR/RAY_TMPDIR, so "Ray was not started"
is checked on disk (Ray makes <tmp>/ray/session_* when it starts) as well as in the output.
"""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.ray_cluster import free_port

REPO = Path(__file__).resolve().parents[2]
GOOD = ("# python jobs/sweep.py --config c.yaml\nname: bad\nmodels: [tiny-llava]\n"
        "benchmarks: [{name: shapes, lite: 2}]\ngrid: [{strategy: vispruner, budget: 16, ratio: 0.5}]\n")


def run_sweep(tmp_path, *args, config_text=GOOD, env_extra=None, timeout=60):
    cfg = tmp_path / "c.yaml"
    if config_text is not None:
        cfg.write_text(config_text)
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI")}
    env.update(TMPDIR=str(tmp), RAY_TMPDIR=str(tmp), **(env_extra or {}))
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "jobs/sweep.py", "--config", str(cfg), *args], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=timeout)
    out.seconds = time.monotonic() - t0
    out.ray_started = any((tmp / "ray").glob("session_*")) or "Ray:" in out.stderr
    return out


def assert_named(out, *needles):
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 2, out.stderr[-2000:]
    assert len(lines) == 1, out.stderr                              # one clear line
    assert "Traceback" not in out.stderr and not out.ray_started
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def test_store_is_a_file(tmp_path):
    f = tmp_path / "results"
    f.write_text("not a directory")
    assert_named(run_sweep(tmp_path, "--store", str(f)), "--store:", "is a file, not a directory")
    assert_named(run_sweep(tmp_path, config_text=GOOD + f"store: {f}\n"), "c.yaml: store:", "is a file")


def test_store_unwritable(tmp_path):
    if os.geteuid() == 0:                                          # root ignores permission bits, not /proc
        target = "/proc/vissweep-results"
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        target = str(ro / "results")
    assert_named(run_sweep(tmp_path, "--store", target), "--store:", "is not writable")


def test_store_unknown_scheme(tmp_path):
    assert_named(run_sweep(tmp_path, "--store", "foo://bucket/results"), "--store:", "foo://", "pyarrow cannot open")


def test_config_path_missing(tmp_path):
    line = assert_named(run_sweep(tmp_path, config_text=None), "--config: no such file", "c.yaml")
    assert line.count("no such file") == 1


def test_duplicate_yaml_key(tmp_path):
    text = GOOD + "shard_size: 4\nshard_size: 8\n"
    assert_named(run_sweep(tmp_path, config_text=text), "key 'shard_size' appears twice", "line 6 and line 7")


def test_error_on_the_exact_key_once(tmp_path):
    text = GOOD.replace("grid: [{strategy: vispruner, budget: 16, ratio: 0.5}]",
                        "grid:\n  - keep_all\n  - {strategy: fastv, budget: [128, 64, 32], layer: 40}")
    line = assert_named(run_sweep(tmp_path, config_text=text), "grid[1].layer: fastv(layer=40)")
    assert line.count("layer K=40") == 1


def test_duplicate_grid_points_named(tmp_path):
    text = GOOD.replace("grid: [{strategy: vispruner, budget: 16, ratio: 0.5}]",
                        "grid:\n  - {strategy: vispruner, budget: [16, 8], ratio: 0.5}\n"
                        "  - {strategy: vispruner, budget: 8, ratio: 0.5}")
    assert_named(run_sweep(tmp_path, config_text=text),
                 "grid[1]: grid point vispruner(ratio=0.5) at budget T=8 duplicates the one from grid[0]")


def test_literal_api_key_rejected_without_echoing_it(tmp_path):
    key = "sk-planted-literal-0123456789"
    text = GOOD.replace("benchmarks: [{name: shapes, lite: 2}]",
                        f"benchmarks: [{{name: mmvet, judge: {{model: j, api_key: {key}}}}}]")
    out = run_sweep(tmp_path, config_text=text)
    assert_named(out, "benchmarks[0].judge.api_key:", "api_key_env: OPENAI_API_KEY")
    assert key not in out.stderr + out.stdout


def test_stale_marker_and_unreachable_address_fail_within_20s(tmp_path):
    port = free_port()                                             # nothing listens there
    (tmp_path / "tmp" / "ray").mkdir(parents=True)
    (tmp_path / "tmp" / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{port}")
    for args, env in ((["--address", "auto"], None), ([], {"RAY_ADDRESS": f"127.0.0.1:{port}"}),
                      (["--address", f"127.0.0.1:{port}"], None)):
        out = run_sweep(tmp_path, *args, env_extra=env)
        assert out.seconds < 20, out.seconds
        assert_named(out, f"no Ray cluster at 127.0.0.1:{port}", "--address local")
    assert "stale marker" in run_sweep(tmp_path, "--address", "auto").stderr
    with socket.socket() as s:                                     # accepts, but is no GCS: ray.init would hang
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        out = run_sweep(tmp_path, "--address", f"127.0.0.1:{s.getsockname()[1]}")
        assert out.seconds < 20, out.seconds
        assert_named(out, f"no Ray cluster at 127.0.0.1:{s.getsockname()[1]}", "no gRPC answer", "--address local")
    with socket.socket() as s:                                     # the port really was closed throughout
        assert s.connect_ex(("127.0.0.1", port)) != 0
