"""cluster/ray_target.py: --address, else $RAY_ADDRESS, else local; the marker only for `auto`; dead addresses fail fast."""
import socket
import time

import pytest

from cluster.ray_target import RayTargetError, Target, choose, host_port, marker_file, probe, read_marker
from tests.ray_cluster import free_port


@pytest.fixture
def tmpdir_env(tmp_path, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv("RAY_TMPDIR", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    return tmp_path


def plant_marker(root, address):
    (root / "ray").mkdir(exist_ok=True)
    (root / "ray" / "ray_current_cluster").write_text(address + "\n")


def test_marker_lives_where_ray_reads_it(tmpdir_env, monkeypatch):
    from ray._common.utils import get_ray_address_file

    assert marker_file() == tmpdir_env / "ray" / "ray_current_cluster" == type(marker_file())(get_ray_address_file(None))
    monkeypatch.setenv("RAY_TMPDIR", str(tmpdir_env / "r"))
    assert str(marker_file()) == get_ray_address_file(None)


def test_the_rule(tmpdir_env, monkeypatch):
    plant_marker(tmpdir_env, "127.0.0.1:6399")
    assert read_marker() == "127.0.0.1:6399"
    assert choose(None) == Target(None, "default")                 # a marker is never joined by default
    assert choose("local") == Target(None, "--address")
    assert choose("127.0.0.1:1234") == Target("127.0.0.1:1234", "--address")
    assert choose("auto").address == "127.0.0.1:6399" and "marker" in choose("auto").source
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:7777")             # what `ray job submit` gives its driver
    assert choose(None) == Target("127.0.0.1:7777", "$RAY_ADDRESS")
    assert choose("local") == Target(None, "--address")             # the flag wins
    (tmpdir_env / "ray" / "ray_current_cluster").unlink()
    with pytest.raises(RayTargetError, match="--address=auto: no running cluster recorded in .*--address local"):
        choose("auto")


def test_host_port():
    assert host_port("127.0.0.1:6379") == ("127.0.0.1", 6379)
    assert host_port("ray://head:10001") == ("head", 10001)
    assert host_port("http://127.0.0.1:8265") == ("127.0.0.1", 8265)
    assert host_port("auto") is None and host_port("127.0.0.1:notaport") is None


def test_dead_and_stale_addresses_fail_fast_naming_the_way_out(tmpdir_env):
    port = free_port()                                              # nothing listens there
    plant_marker(tmpdir_env, f"127.0.0.1:{port}")
    t0 = time.monotonic()
    with pytest.raises(RayTargetError) as e:
        probe(choose("auto"))
    assert time.monotonic() - t0 < 5
    msg = str(e.value)
    assert f"no Ray cluster at 127.0.0.1:{port}" in msg and "stale marker" in msg and "--address local" in msg
    with pytest.raises(RayTargetError, match="is not HOST:PORT"):
        probe(Target("nonsense", "--address"))


def test_a_port_that_accepts_but_is_no_gcs_fails_fast():
    with socket.socket() as s:                                      # accepts TCP, never speaks HTTP/2
        s.bind(("127.0.0.1", 0))
        s.listen()
        t0 = time.monotonic()
        with pytest.raises(RayTargetError, match="something listens there but gives no gRPC answer") as e:
            probe(Target(f"127.0.0.1:{s.getsockname()[1]}", "--address"), timeout=2)
        assert time.monotonic() - t0 < 5 and "--address local" in str(e.value)


def test_a_grpc_server_passes():
    import grpc
    from concurrent.futures import ThreadPoolExecutor

    server = grpc.server(ThreadPoolExecutor(max_workers=1))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        probe(Target(f"127.0.0.1:{port}", "--address"))
    finally:
        server.stop(0)


def test_loopback():
    from cluster.ray_target import is_loopback

    assert is_loopback("127.0.0.1:6379") and is_loopback("localhost:1") and not is_loopback("10.0.0.2:6379")
    assert not is_loopback(None)


@pytest.mark.slow
def test_auto_follows_a_live_marker_to_a_real_gcs(ray_cluster, tmpdir_env):
    plant_marker(tmpdir_env, ray_cluster.gcs)
    target = choose("auto")
    assert target.address == ray_cluster.gcs
    probe(target)                                                   # TCP + gRPC handshake pass on a real GCS
    assert choose(None).address is None                            # still never joined by default
