"""Real local Ray clusters for tests: `ray start --head` bound to 127.0.0.1 on free ports, with the job server.

The head runs as `ray start --block` in its own process group; teardown signals that group only,
so clusters other people run on the same machine are left alone (a bare `ray stop` would stop
every Ray on the box). tests/conftest.py re-exports the session fixture `ray_cluster`, so every
test module that asks for it shares one cluster.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# `ray start` turns token auth on for its cluster; clients (job CLI, state API, ray.init, urllib here) must
# agree, and Ray reads the mode once at import, so it is set here, before any test imports ray.
os.environ.setdefault("RAY_AUTH_MODE", "token")
# Ray rewrites --node-ip-address 127.0.0.1 to the machine's routable address unless it is told this is a
# single-machine cluster; with this set, the node (and every address Ray advertises) stays on loopback.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
RAY = str(Path(sys.executable).with_name("ray"))


def _own_auth_token() -> None:
    """Give the test clusters a token of their own, written before anything starts.

    On a fresh machine there is no ~/.ray/auth_token: `ray start` in token mode does not make one, and a client
    polling the dashboard finds none (AuthenticationError). A token left in ~/.ray by an earlier cluster must
    not matter either, so the tests never read or write the home directory's token: RAY_AUTH_TOKEN_PATH is
    honoured by `ray start`, its workers, the job CLI, ray.init and the auth headers alike.
    """
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return
    path = Path(tempfile.mkdtemp(prefix="vsw-auth-")) / "auth_token"
    path.write_text(secrets.token_hex(32))
    path.chmod(0o600)
    os.environ["RAY_AUTH_TOKEN_PATH"] = str(path)


_own_auth_token()


def _get(url: str, timeout: float = 10) -> dict:
    """GET a dashboard endpoint with Ray's auth token header (token auth is on by default in Ray 2.5x+)."""
    from ray._private.authentication.http_token_authentication import get_auth_headers_if_auth_enabled

    req = urllib.request.Request(url, headers=get_auth_headers_if_auth_enabled({}))
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.load(r)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    gcs: str                 # 127.0.0.1:PORT, for ray.init / RAY_ADDRESS
    dashboard: str           # http://127.0.0.1:PORT, for `ray job submit --address`
    proc: subprocess.Popen
    temp_dir: str

    def env(self, **extra) -> dict[str, str]:
        env = {**os.environ, "RAY_ADDRESS": self.gcs, **extra}
        env.pop("MLFLOW_TRACKING_URI", None)
        env.update(extra)
        return env

    def submit(self, *args: str, wait: bool = True, timeout: float = 480, env: dict | None = None):
        """`ray job submit --working-dir <repo> -- <python> jobs/sweep.py ARGS`; returns the CompletedProcess or job id."""
        cmd = [RAY, "job", "submit", "--address", self.dashboard, "--working-dir", str(REPO)]
        if not wait:
            cmd.append("--no-wait")
        cmd += ["--", sys.executable, "jobs/sweep.py", *args]
        for _ in range(30):   # the job agent comes up a little after the dashboard answers
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env or self.env())
            if "No available agent to submit job" not in out.stderr:
                return out
            time.sleep(3)
        return out

    def job_status(self, job_id: str) -> str:
        return _get(f"{self.dashboard}/api/jobs/{job_id}")["status"]

    def job_logs(self, job_id: str) -> str:
        return _get(f"{self.dashboard}/api/jobs/{job_id}/logs")["logs"]

    def actors(self, class_name: str = "Replica") -> list[dict]:
        """Alive actors of a class, with pids (state API through the dashboard)."""
        from ray.util.state import list_actors

        return [a.__dict__ if hasattr(a, "__dict__") else dict(a) for a in
                list_actors(address=self.dashboard, filters=[("class_name", "=", class_name), ("state", "=", "ALIVE")],
                            detail=True, raise_on_missing_output=False)]

    def worker_pids(self) -> list[int]:
        """Worker processes of this cluster (they run in their own sessions, outside the head's group)."""
        try:
            from ray.util.state import list_workers

            return [w.pid for w in list_workers(address=self.dashboard, raise_on_missing_output=False)
                    if w.pid and w.worker_type == "WORKER"]
        except Exception:  # cluster already gone
            return []

    def stop(self) -> None:
        workers = self.worker_pids()
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)      # `ray start --block` stops the processes it started
            self.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        for pid in workers:                                # ours by id; normally already gone with the raylet
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)       # anything of ours that ignored SIGTERM
        except ProcessLookupError:
            pass
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def start_cluster(num_cpus: int = 4, num_gpus: int = 0, timeout: float = 180) -> Cluster:
    """A head on loopback. num_gpus declares GPUs as a resource; Ray accepts them without hardware."""
    port, dash = free_port(), free_port()
    temp_dir = tempfile.mkdtemp(prefix="vsw-ray-", dir="/tmp")   # short: Ray's socket paths must stay < 108 chars
    cmd = [RAY, "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port),
           "--include-dashboard", "true", "--dashboard-host", "127.0.0.1", "--dashboard-port", str(dash),
           "--ray-client-server-port", str(free_port()), "--dashboard-agent-listen-port", str(free_port()),
           "--dashboard-agent-grpc-port", str(free_port()), "--runtime-env-agent-port", str(free_port()),
           "--metrics-export-port", str(free_port()), "--num-cpus", str(num_cpus), "--num-gpus", str(num_gpus),
           "--temp-dir", temp_dir, "--disable-usage-stats"]
    log = open(Path(temp_dir) / "ray-start.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=REPO)
    cluster = Cluster(f"127.0.0.1:{port}", f"http://127.0.0.1:{dash}", proc, temp_dir)
    end, last = time.monotonic() + timeout, None
    while time.monotonic() < end:
        if proc.poll() is not None:
            said = (Path(temp_dir) / "ray-start.log").read_text()[-3000:]    # read before stop() removes temp_dir
            cluster.stop()
            raise RuntimeError(f"ray start exited {proc.returncode}: {said}")
        try:
            _get(f"{cluster.dashboard}/api/version", timeout=5)
            return cluster
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                cluster.stop()
                raise RuntimeError(f"dashboard refuses this client ({exc}); is RAY_AUTH_MODE=token set before ray "
                                   "is imported?") from exc
            last = exc
            time.sleep(1)
        except OSError as exc:
            last = exc
            time.sleep(1)
    cluster.stop()
    raise RuntimeError(f"Ray head did not come up within {timeout}s (last error: {last})")


@pytest.fixture(scope="session")
def ray_cluster():
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()
