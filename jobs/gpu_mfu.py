"""gpu_check section d: prefill MFU at batch 1, 8 and 32 = analytic prefill FLOPs (pruning.accounting, via
Output.flops) / the adapter's CUDA-event prefill time / the device's dense fp16/bf16 tensor peak (named below).

keep_all, one image per sample and the same POPE prompt in every row, so no padding: every FLOP counted is done.
The papers' convention counts LLM layers only (no vision tower, no LM head) and full QK^T (causal attention does
about half of that term, ~1% of the total at 605 tokens), so MFU here is slightly generous, never inflated by padding.
"""
from __future__ import annotations

import statistics

from jobs.gpu_context import Context, images, pope_questions
from pruning import PrunePlan

NAME, TITLE = "mfu", "d. Prefill MFU against the device's dense fp16/bf16 peak"
MARK_MFU, MARK_BATCH = 0.50, 32
# dense (no sparsity) fp16/bf16 tensor-core peaks, TFLOP/s, from NVIDIA's data sheets; first match wins
PEAKS = [("H200 NVL", 835.5, "H200 NVL"), ("H200", 989.4, "H200 SXM"), ("GH200", 989.4, "GH200"),
         ("H100 NVL", 835.5, "H100 NVL"), ("H100 PCIe", 756.5, "H100 PCIe"), ("H100", 989.4, "H100 SXM"),
         ("A100", 312.0, "A100")]


def dense_peak(device_name: str | None) -> tuple[float, str] | None:
    """(peak FLOP/s, which part) for a CUDA device name, or None when the part is not in PEAKS (or on CPU)."""
    if not device_name:
        return None
    for key, tflops, label in PEAKS:
        if key.lower() in device_name.lower():
            return tflops * 1e12, f"{label}, {tflops:g} TFLOP/s dense fp16/bf16"
    return None


def prefill(ctx: Context, vlm, plan: PrunePlan, B: int, warmup: int, repeats: int) -> dict:
    """Median CUDA-event prefill seconds of `plan` at batch B (max_new_tokens=1: prefill's logits give the token)."""
    vision = vlm.encode(images(B))
    questions = pope_questions(1) * B
    runs = []
    ctx.reset_peak()
    for _ in range(warmup + repeats):
        runs.append(vlm.generate(questions, plan, vision=vision, max_new_tokens=1))
    runs = runs[warmup:]
    outs = runs[0]
    return {"prefill_s": statistics.median(o[0].timings["prefill"] for o in runs),
            "select_s": statistics.median(o[0].timings["select"] for o in runs),
            "flops": float(sum(o.flops for o in outs)), "kept": outs[0].n_visual_kept, "n_text": outs[0].n_text,
            "peak": ctx.peak_bytes()}


def run(ctx: Context, rec: dict, save) -> None:
    import torch

    p = ctx.profile
    vlm = ctx.model()
    name = torch.cuda.get_device_name(ctx.device) if ctx.cuda else None
    peak = dense_peak(name)
    rec.update(model=p.model, dtype=str(vlm.dtype).replace("torch.", ""), device_name=name or "cpu",
               peak_flops=peak[0] if peak else None, peak=peak[1] if peak else "no known peak for this device", rows=[])
    for B in p.mfu_batches:
        row = {"B": B, **prefill(ctx, vlm, PrunePlan("keep_all"), B, p.warmup, p.mfu_repeats)}
        row["achieved_flops"] = row["flops"] / row["prefill_s"]
        row["mfu"] = row["achieved_flops"] / peak[0] if peak else None
        rec["rows"].append(row)
        save()
    top = max(rec["rows"], key=lambda r: r["B"])
    ok = top["mfu"] is not None and top["B"] >= MARK_BATCH
    rec["marks"] = [{"mark": f"prefill MFU >= {MARK_MFU:.0%} at B={MARK_BATCH}", "target": f"{MARK_MFU:.0%}",
                     "value": f"{top['mfu']:.1%} at B={top['B']}" if top["mfu"] is not None else "n/a",
                     "status": ("met" if top["mfu"] >= MARK_MFU else "missed") if ok else "n/a"}]
    save()


def render(rec: dict) -> list[str]:
    batches = ", ".join(str(r["B"]) for r in rec.get("rows", []))
    lines = [f"Batches {batches}. Model `{rec.get('model')}` ({rec.get('dtype')}) on {rec.get('device_name')}; "
             f"peak: {rec.get('peak')}. "
             "keep_all, 576 visual tokens + the POPE prompt per sample; FLOPs from pruning.accounting (LLM layers, "
             "2 per multiply-add).", "",
             "| B | tokens / sample | prefill ms | prefill TFLOPs | achieved TFLOP/s | MFU | peak MiB |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rec.get("rows", []):
        mfu = f"{r['mfu']:.1%}" if r["mfu"] is not None else "n/a"
        peak = f"{r['peak'] / 2**20:.0f}" if r.get("peak") else "n/a (CPU)"
        lines.append(f"| {r['B']} | {r['kept'] + r['n_text']} | {r['prefill_s'] * 1e3:.2f} | {r['flops'] / 1e12:.3f} | "
                     f"{r['achieved_flops'] / 1e12:.3f} | {mfu} | {peak} |")
    return lines + [""]
