"""Where replicas run: GPUs per replica from the cluster's resources, and CUDA hidden from replicas without one.

    spec = resolve_replicas(cfg.replicas)          # on the driver, after ray.init: num_gpus from the cluster
    ReplicaPool.start(model, spec, tag)            # each Replica calls pin_devices() before torch sees CUDA

The driver usually runs on a CPU-only head (KubeRay, cluster launcher), so whether *it* sees CUDA says
nothing about the workers. `replicas.num_gpus` left unset therefore means "one GPU per replica when the
cluster has GPUs", read from `ray.cluster_resources()` after joining. An explicit value always wins.

Ray >= 2.4x no longer sets CUDA_VISIBLE_DEVICES="" for actors that asked for no GPU, so a 0-GPU replica
landing on a GPU node would see the GPU and run fp16 on CUDA while its peers run fp32 on CPU. pin_devices()
hides CUDA from such a replica before torch initialises it, so a result never depends on placement.
"""
from __future__ import annotations

import dataclasses
import os
import socket
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:                                   # no project imports at run time: replicas import this first
    from sweeps.config import Replicas


def replica_gpus(configured: float | None, cluster_resources: dict[str, float]) -> tuple[float, str]:
    """GPUs per replica and why: the config's value when set, else 1 if the cluster has a whole GPU, else 0."""
    if configured is not None:
        return float(configured), "replicas.num_gpus in the config"
    gpus = float(cluster_resources.get("GPU", 0.0))
    if gpus >= 1:
        return 1.0, f"the cluster has {gpus:g} GPU"
    return 0.0, "the cluster has no GPU now (replicas run on CPU; set replicas.num_gpus when GPU workers autoscale from 0)"


def resolve_replicas(spec: Replicas) -> tuple[Replicas, str]:
    """The config's Replicas with num_gpus decided from the joined Ray cluster; needs ray.init() first."""
    import ray

    resources = ray.cluster_resources()
    num_gpus, why = replica_gpus(spec.num_gpus, resources)
    note = why
    have = float(resources.get("GPU", 0.0))
    if num_gpus and spec.count * num_gpus > have:
        note += (f"; {spec.count * num_gpus:g} GPUs needed, {have:g} in the cluster now: the rest wait for the "
                 "autoscaler, up to the pool's ready timeout")
    return dataclasses.replace(spec, num_gpus=num_gpus), note


def pin_devices() -> list[str]:
    """In a replica actor, before torch touches CUDA: hide CUDA unless Ray assigned this actor a GPU.

    Returns the GPU ids Ray assigned (empty for a CPU replica)."""
    import ray

    ids = [str(i) for i in ray.get_runtime_context().get_accelerator_ids().get("GPU", [])]
    if not ids:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""      # read once, when torch first asks CUDA for its devices
        torch = sys.modules.get("torch")
        # torch imported earlier in this worker may have counted the devices already (and caches the count)
        if torch is not None and (torch.cuda.is_initialized() or torch.cuda.device_count() > 0):
            raise RuntimeError("this worker asked CUDA for its devices before the replica could hide them; a "
                               "replica without a GPU must not use one")
    return ids


def describe_device(vlm: Any, gpu_ids: list[str]) -> dict[str, Any]:
    """What a replica reports about its placement: node, device, and a note when the two disagree."""
    import ray
    import torch

    ctx = ray.get_runtime_context()
    device = str(getattr(vlm, "device", "cpu"))
    info = {"host": socket.gethostname(), "node_ip": ray.util.get_node_ip_address(),
            "node_id": ctx.get_node_id()[:8], "device": device, "dtype": str(getattr(vlm, "dtype", "")),
            "gpu_ids": ",".join(gpu_ids), "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "gpu_name": torch.cuda.get_device_name(0) if device.startswith("cuda") else "", "note": ""}
    if gpu_ids and not device.startswith("cuda"):
        info["note"] = (f"Ray assigned GPU {info['gpu_ids']} but torch sees no CUDA device "
                        "(CPU build of torch, or a GPU declared without hardware): running on CPU")
    return info


def placement_lines(model: str, num_gpus: float, why: str, infos: list[dict[str, Any]]) -> str:
    """What the job prints once a pool is ready: GPUs per replica and why, then each replica's node and device."""
    lines = [f"replicas of {model}: num_gpus={num_gpus:g} each ({why})"]
    for i in infos:
        device = f"{i.get('device')} {i.get('gpu_name') or ''}".rstrip()
        lines.append(f"  {i['replica']}: node {i.get('host')} ({i.get('node_ip')}, node {i.get('node_id')}), device {device}, "
                     f"Ray GPU ids [{i.get('gpu_ids', '')}]" + (f" -- {i['note']}" if i.get("note") else ""))
    return "\n".join(lines)


def placement_params(num_gpus: float, infos: list[dict[str, Any]]) -> dict[str, str]:
    """The same, as flat MLflow params on the sweep's parent run (one set per replica id)."""
    out = {}
    for i in infos:
        key = f"replica.{i['replica']}"
        out[f"{key}.node"] = f"{i.get('host')} ({i.get('node_ip')}, node {i.get('node_id')})"
        out[f"{key}.device"] = f"{i.get('device')} {i.get('gpu_name') or ''}".rstrip()
        out[f"{key}.num_gpus"] = f"{num_gpus:g}"
    return out
