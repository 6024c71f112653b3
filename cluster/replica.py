"""Replica: a Ray actor pinning one VLM on one GPU (or CPU), loaded once, serving every grid point of a unit.

    ReplicaActor.options(num_gpus=1, max_restarts=2).remote("llava-hf/llava-1.5-7b-hf", "r0")

`run(payload)` decodes the shard's media (an image, or a video's frames), runs the vision tower ONCE per
batch, then generates for every grid point from that same VisionTokens (DESIGN.md "Vision once, many plans"). A bad sample
(corrupt image, a failing generate) becomes a row with `error` set; it never fails the unit.
Scoring happens on the driver; the rows returned here carry the raw prediction and its cost.
"""
from __future__ import annotations

import os
import socket
import time
import traceback
from typing import Any

import ray

from sweeps.grid import Payload
from sweeps.rows import Result

__all__ = ["Payload", "Replica", "ReplicaActor"]


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


class Replica:
    def __init__(self, model: str, replica_id: str, threads: int | None = None):
        from cluster.placement import describe_device, pin_devices

        in_actor = ray.is_initialized() and ray.get_runtime_context().get_actor_id() is not None
        gpu_ids = pin_devices() if in_actor else []   # first: CUDA hidden unless Ray gave this actor a GPU
        import torch

        from pruning.models import load_vlm

        if threads:
            torch.set_num_threads(threads)
        self.replica_id, self.model_name = replica_id, model
        self.vlm = load_vlm(model)                    # weights load here, once per replica (re-run on restart)
        ctx = ray.get_runtime_context() if in_actor else None
        self.node = f"{socket.gethostname()}/{ctx.get_node_id()[:8]}" if ctx else socket.gethostname()
        self.placement = describe_device(self.vlm, gpu_ids) if in_actor else {"device": str(self.vlm.device)}
        self.started = time.time()

    def info(self) -> dict[str, Any]:
        return {"replica": self.replica_id, "node": self.node, "pid": os.getpid(), "model": self.model_name,
                "num_visual_tokens": self.vlm.num_visual_tokens, "started": self.started, **self.placement}

    def run(self, p: Payload) -> list[dict[str, Any]]:
        """Rows (one per grid point x sample) with prediction, kept tokens, FLOPs, KV bytes, timings, error."""
        plans = p.points                              # PrunePlans (sweeps.grid.Payload normalises dicts)
        for plan in plans:                            # a malformed plan fails the unit, not each of its rows
            plan.check()
        rows: list[dict[str, Any]] = []
        for start in range(0, len(p.samples), p.batch_size):
            samples = p.samples[start:start + p.batch_size]
            prompts = p.prompts[start:start + p.batch_size]
            images, errors = self._decode(samples)
            ok = [i for i, e in enumerate(errors) if e is None]
            vision, ok, errors = self._encode(images, ok, errors, samples)
            for k, plan in enumerate(plans):
                outs = self._generate([prompts[i] for i in ok], plan, vision, [samples[i].id for i in ok], p.max_new_tokens)
                by_index = dict(zip(ok, outs))
                for i, s in enumerate(samples):
                    rows.append({"point": k, **self._row(s, plan, by_index.get(i), errors[i])})
        return rows

    def _decode(self, samples):
        """Each sample's media: its PIL image, or its video as a list of PIL frames (video benchmarks)."""
        images, errors = [], []
        for s in samples:
            try:
                if s.error:
                    raise ValueError(f"sample {s.id}: {s.error}")
                images.append(s.media())
                errors.append(None)
            except Exception as exc:  # corrupt or missing image: this sample only
                images.append(None)
                errors.append(_short(exc))
        return images, errors

    def _encode(self, images, ok, errors, samples):
        """Vision tower once for the batch; when the batch fails, per sample to isolate the bad ones."""
        if not ok:
            return None, ok, errors
        try:
            return self.vlm.encode([images[i] for i in ok]), ok, errors
        except Exception:
            good = []
            for i in ok:
                try:
                    self.vlm.encode([images[i]])
                    good.append(i)
                except Exception as exc:
                    errors[i] = _short(exc)
            if not good:
                return None, good, errors
            return self.vlm.encode([images[i] for i in good]), good, errors

    def _generate(self, prompts, plan, vision, keys, max_new_tokens):
        """One batched generate per plan; when it fails, per sample so one bad sample cannot sink the batch."""
        from pruning.types import Output

        if not prompts:
            return []
        try:
            return self.vlm.generate(prompts, plan, vision=vision, max_new_tokens=max_new_tokens, sample_keys=keys)
        except Exception:
            outs = []
            for j, q in enumerate(prompts):
                one = vision.take_samples([j])
                try:
                    outs += self.vlm.generate([q], plan, vision=one, max_new_tokens=max_new_tokens,
                                              sample_keys=[keys[j]])
                except Exception as exc:  # n_visual_in: the sample's own count (anyres: its packed length)
                    outs.append(Output(text="", n_visual_in=one.counts[0], n_visual_kept=0,
                                       error=_short(exc) + "\n" + traceback.format_exc(limit=3)[-800:]))
            return outs

    def _row(self, sample, plan, out, error) -> dict[str, Any]:
        return Result.measured(sample.id, out, error, self.replica_id, self.node)


ReplicaActor = ray.remote(Replica)
