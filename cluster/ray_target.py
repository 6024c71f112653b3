"""Which Ray cluster a sweep runs on: an explicit choice, never a stale marker or a stranger's cluster by surprise.

    python jobs/sweep.py --config C.yaml                      # $RAY_ADDRESS if set (ray job submit sets it), else local
    python jobs/sweep.py --config C.yaml --address auto       # the cluster `ray start` left in its marker file
    python jobs/sweep.py --config C.yaml --address HOST:PORT  # that cluster's GCS

The rule: `--address`, else `$RAY_ADDRESS`, else a new local Ray on 127.0.0.1. The marker file
(`$RAY_TMPDIR`, else `$TMPDIR`, else /tmp, then `ray/ray_current_cluster`, as Ray 2.60 reads it) is
used only for `--address auto`; on a shared machine it may point at someone else's cluster, or at
one that is gone. Any address is probed before `ray.init` with a TCP connect and a gRPC handshake
(PROBE_S each), so a closed, stale or non-GCS one fails within seconds, naming the address and
`--address local`, instead of Ray retrying for minutes.
"""
from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

PROBE_S = 5.0               # one TCP connect; a refused port answers at once


class RayTargetError(RuntimeError):
    """The chosen cluster cannot be reached; the message names the address and the way out."""


@dataclass(frozen=True)
class Target:
    address: str | None     # None: start a local Ray
    source: str             # where the choice came from: --address, $RAY_ADDRESS, marker file, default


def marker_file() -> Path:
    """Where Ray 2.60 keeps the address of the last `ray start` (ray._common.utils.get_ray_address_file)."""
    base = os.environ.get("RAY_TMPDIR") or (os.environ.get("TMPDIR") if sys.platform.startswith("linux") else None)
    return Path(base or "/tmp") / "ray" / "ray_current_cluster"


def read_marker() -> str | None:
    try:
        return marker_file().read_text().strip() or None
    except OSError:
        return None


def choose(address: str | None) -> Target:
    """--address, else $RAY_ADDRESS, else local. `auto` (either way) means the marker file, which must exist."""
    if address:
        given, source = address, "--address"
    elif os.environ.get("RAY_ADDRESS"):
        given, source = os.environ["RAY_ADDRESS"], "$RAY_ADDRESS"
    else:
        return Target(None, "default")
    if given == "local":
        return Target(None, source)
    if given == "auto":
        found = read_marker()
        if found is None:
            raise RayTargetError(f"{source}=auto: no running cluster recorded in {marker_file()}; start one with "
                                 "`ray start --head --node-ip-address 127.0.0.1`, give HOST:PORT, or use --address local")
        return Target(found, f"{source}=auto (marker {marker_file()})")
    return Target(given, source)


def host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of 'HOST:PORT', 'ray://HOST:PORT' or 'http://HOST:PORT'; None when it has no port."""
    u = urlparse(address if "://" in address else f"gcs://{address}")
    try:
        port = u.port
    except ValueError:
        return None
    return (u.hostname, port) if u.hostname and port else None


def probe(target: Target, timeout: float = PROBE_S) -> None:
    """Raise RayTargetError unless something accepts a TCP connection at the target's address."""
    hp = host_port(target.address)
    if hp is None:
        raise RayTargetError(f"Ray address {target.address!r} (from {target.source}) is not HOST:PORT; "
                             "give HOST:PORT of a running cluster's GCS, or --address local for a local Ray")
    try:
        with socket.create_connection(hp, timeout=timeout):
            pass
    except OSError as exc:
        reason = "timed out" if isinstance(exc, socket.timeout) else (exc.strerror or type(exc).__name__)
        stale = " (a stale marker: that cluster is gone)" if "marker" in target.source else ""
        raise RayTargetError(f"no Ray cluster at {target.address} (from {target.source}{stale}: {reason} within "
                             f"{timeout:g} s); use --address local to start a local Ray on 127.0.0.1, or give "
                             "--address HOST:PORT of a running cluster") from None
    if not _speaks_grpc(hp, timeout):             # a port that accepts but is no GCS: ray.init would retry for minutes
        raise RayTargetError(f"no Ray cluster at {target.address} (from {target.source}): something listens there "
                             f"but gives no gRPC answer within {timeout:g} s (a dashboard's HTTP port?); give the "
                             "GCS port (`ray start --port`, 6379 by default) or use --address local")


def _speaks_grpc(hp: tuple[str, int], timeout: float) -> bool:
    """Does the port complete an HTTP/2 (gRPC) handshake? Transport only: no call, so token auth does not matter."""
    if os.environ.get("RAY_USE_TLS", "0") not in ("0", ""):
        return True                               # a TLS GCS would refuse the plain channel; let ray.init decide
    import grpc

    channel = grpc.insecure_channel(f"{hp[0]}:{hp[1]}")
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
        return True
    except grpc.FutureTimeoutError:
        return False
    finally:
        channel.close()


def is_loopback(address: str | None) -> bool:
    hp = host_port(address) if address else None
    return hp is not None and hp[0] in ("127.0.0.1", "localhost", "::1")


def describe_joined() -> str:
    """The cluster this driver is connected to: GCS address, nodes, CPUs, GPUs."""
    import ray

    res = ray.cluster_resources()
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    gcs = ray.get_runtime_context().gcs_address
    return (f"{gcs} ({len(nodes)} node{'s' if len(nodes) != 1 else ''}, {res.get('CPU', 0):g} CPUs, "
            f"{res.get('GPU', 0):g} GPUs)")
