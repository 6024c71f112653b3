"""Qwen2.5-VL on one GPU: prefill and end-to-end latency and peak memory of a Qwen2.5-VL-7B-shaped random-weight
model (bf16, sdpa) at batch 1, full tokens and T = 512 / 256 / 128 (VisPruner r = 0.5, FastV K = 2), one 640x480
image at the shipped pixel range (min = max = 802816: N = 1036), a POPE prompt. For docs/PERF.md beside the papers'.

    python jobs/gpu_qwen.py --out /tmp/gpu_qwen            # on the GPU machine: < 8 min (build ~1 min, 7 plans)
    python jobs/gpu_qwen.py --out /tmp/gpu_qwen --dry-run  # tiny-qwen2.5-vl on CPU at the same N, to check the script

Per plan: `warmup` untimed + `repeats` timed runs of encode + generate; e2e is a CUDA-event pair around both,
vision / select / prefill / decode are the adapter's own phases (Output.timings); peak = max_memory_allocated over
the run (weights included). Medians. Writes gpu_qwen.json and gpu_qwen.md under --out, after every plan.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PIXELS = "?max_pixels=802816&min_pixels=802816"
QUESTION = "Is there a dog in the image?\nAnswer the question using a single word or phrase."


def plans():
    from pruning import PrunePlan

    return ([PrunePlan("keep_all")] + [PrunePlan("vispruner", T, {"ratio": 0.5}) for T in (512, 256, 128)]
            + [PrunePlan("fastv", T, {"layer": 2}) for T in (512, 256, 128)])


def image():
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    img = rng.integers(0, 60, (480, 640, 3), dtype=np.uint8)  # (H, W, 3) dark noise with bright blocks
    for _ in range(6):
        y, x = rng.integers(0, 400), rng.integers(0, 560)
        img[y:y + 80, x:x + 80] = rng.integers(0, 256, 3, dtype=np.uint8)
    return Image.fromarray(img)


def one(vlm, plan, img, new_tokens: int) -> dict:
    import torch

    from pruning.models.timing import PhaseTimer

    cuda = vlm.device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(vlm.device)
    timer = PhaseTimer(vlm.device)
    with timer.phase("e2e"):
        vision = vlm.encode([img])
        out = vlm.generate([QUESTION], plan, vision=vision, max_new_tokens=new_tokens)[0]
    peak = int(torch.cuda.max_memory_allocated(vlm.device)) if cuda else None
    return {"e2e": timer.seconds()["e2e"], **{k: out.timings.get(k, 0.0) for k in ("vision", "select", "prefill", "decode")},
            "peak": peak, "n_in": out.n_visual_in, "kept": out.n_visual_kept, "n_text": out.n_text, "flops": out.flops}


def table(rec: dict) -> str:
    lines = [f"Model `{rec['model']}` ({rec['dtype']}, {rec['attn']}) on {rec['device']}, batch 1, one 640x480 image "
             f"(N = {rec['rows'][0]['n_in'] if rec['rows'] else '?'}), POPE prompt, {rec['new_tokens']} greedy tokens; "
             f"median of {rec['repeats']} after {rec['warmup']} warm-up. Command: `{rec['command']}`", "",
             "| plan | tokens into layer 0 / after K | prefill TFLOPs | prefill ms | e2e ms | vision ms | peak GiB |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rec["rows"]:
        peak = "n/a" if r["peak"] is None else f"{r['peak'] / 2**30:.2f}"
        toks = f"{r['n_in']} / {r['kept']}" if r["plan"].startswith("fastv") else str(r["kept"])
        lines.append(f"| {r['plan']} | {toks} | {r['flops'] / 1e12:.3f} | {r['prefill'] * 1e3:.1f} | {r['e2e'] * 1e3:.1f} "
                     f"| {r['vision'] * 1e3:.1f} | {peak} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--dry-run", action="store_true", help="tiny-qwen2.5-vl on CPU at the same pixel range")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--new-tokens", type=int, default=8)
    ap.add_argument("--limit-s", type=float, default=420.0, help="stop starting new plans after this many seconds")
    a = ap.parse_args(argv)
    import torch

    from pruning.models import load_vlm

    start = time.monotonic()
    if a.dry_run:
        vlm, a.warmup, a.repeats = load_vlm("tiny-qwen2.5-vl" + PIXELS, device="cpu"), 0, 1
    else:
        if not torch.cuda.is_available():
            print("no CUDA device; use --dry-run to check the script on CPU", file=sys.stderr)
            return 2
        vlm = load_vlm("qwen2.5-vl-7b-shaped" + PIXELS, device="cuda", dtype="bfloat16", attn_implementation="sdpa")
    a.out.mkdir(parents=True, exist_ok=True)
    rec = {"model": vlm.name, "dtype": str(vlm.dtype).replace("torch.", ""), "attn": vlm.loop.impl,
           "device": torch.cuda.get_device_name(0) if vlm.device.type == "cuda" else "cpu",
           "new_tokens": a.new_tokens, "warmup": a.warmup, "repeats": a.repeats, "build_s": time.monotonic() - start,
           "command": "python jobs/gpu_qwen.py " + " ".join(argv if argv is not None else sys.argv[1:]), "rows": []}
    img = image()
    for plan in plans():
        if time.monotonic() - start > a.limit_s:
            rec["stopped"] = f"time limit {a.limit_s:.0f} s reached before {plan.key}"
            break
        runs = [one(vlm, plan, img, a.new_tokens) for _ in range(a.warmup + a.repeats)][a.warmup:]
        row = {"plan": plan.key, **{k: runs[0][k] for k in ("n_in", "kept", "n_text", "flops")}}
        row.update({k: statistics.median(r[k] for r in runs) for k in ("e2e", "vision", "select", "prefill", "decode")})
        row["peak"] = max(r["peak"] for r in runs) if runs[0]["peak"] is not None else None
        rec["rows"].append(row)
        (a.out / "gpu_qwen.json").write_text(json.dumps(rec, indent=1))
        (a.out / "gpu_qwen.md").write_text(table(rec))
        print(table(rec).splitlines()[-1], flush=True)
    rec["total_s"] = time.monotonic() - start
    (a.out / "gpu_qwen.json").write_text(json.dumps(rec, indent=1))
    print(f"wrote {a.out / 'gpu_qwen.md'} in {rec['total_s']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
