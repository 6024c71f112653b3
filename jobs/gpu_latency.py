"""gpu_check section b: VisPruner's Table 6 shape for shape. LLaVA-1.5-7B-shaped random weights, fp16, batch 1, a
POPE prompt; keep_all (576), VisPruner and FastV (K=2) at 144 / 64 / 29 kept tokens.

Per plan and repeat: `encode` one image, then `generate` (select -> prefill -> greedy decode). e2e is a CUDA-event
pair around both calls; prefill / select / decode are the adapter's own CUDA-event phases (Output.timings); peak
memory is torch.cuda.max_memory_allocated over the repeat (weights included). Medians over repeats after warm-up.
"""
from __future__ import annotations

import statistics

from jobs.gpu_context import Context, images, pope_questions
from pruning import PrunePlan
from pruning.models.timing import PhaseTimer

NAME, TITLE = "latency", "b. Table 6 shape for shape: latency and memory at batch 1"
# VisPruner Table 6 (LLaVA-1.5-7B, POPE, one A100): ms per sample with 576 / 144 / 29 visual tokens
PAPER_MS = {576: 107.0, 144: 85.0, 29: 78.0}


def plans(budgets) -> list[PrunePlan]:
    return ([PrunePlan("keep_all")] + [PrunePlan("vispruner", T, {"ratio": 0.5}) for T in budgets]
            + [PrunePlan("fastv", T, {"layer": 2}) for T in budgets])


def one(ctx: Context, vlm, plan: PrunePlan, image, question: str, new_tokens: int) -> dict:
    ctx.reset_peak()
    timer = PhaseTimer(ctx.device)
    with timer.phase("e2e"):
        vision = vlm.encode([image])
        out = vlm.generate([question], plan, vision=vision, max_new_tokens=new_tokens)[0]
    t = out.timings
    return {"e2e": timer.seconds()["e2e"], "vision": t.get("vision", 0.0), "select": t.get("select", 0.0),
            "prefill": t.get("prefill", 0.0), "decode": t.get("decode", 0.0), "peak": ctx.peak_bytes(),
            "kept": out.n_visual_kept, "n_text": out.n_text, "flops": out.flops}


def run(ctx: Context, rec: dict, save) -> None:
    p = ctx.profile
    vlm = ctx.model()
    image, question = images(1)[0], pope_questions(1)[0]
    rec.update(model=p.model, dtype=str(vlm.dtype).replace("torch.", ""), attn=ctx.attn, new_tokens=p.latency_new_tokens,
               warmup=p.warmup, repeats=p.repeats, weights_bytes=ctx.allocated_bytes(), rows=[])
    for plan in plans(p.latency_budgets):
        runs = [one(ctx, vlm, plan, image, question, p.latency_new_tokens) for _ in range(p.warmup + p.repeats)][p.warmup:]
        row = {"plan": plan.strategy, "label": plan.label, "budget": plan.budget or runs[0]["kept"],
               "kept": runs[0]["kept"], "n_text": runs[0]["n_text"], "flops": runs[0]["flops"]}
        for k in ("e2e", "vision", "select", "prefill", "decode"):
            row[k] = statistics.median(r[k] for r in runs)
        row["peak"] = max(r["peak"] for r in runs) if ctx.cuda else None
        rec["rows"].append(row)
        ratios(rec)  # after every row: a stopped run keeps its ratios and marks so far
        save()


def ratios(rec: dict) -> None:
    """Each row against keep_all, the paper's ratios beside it, and the mark: pruned ratios at least as good."""
    full = next(r for r in rec["rows"] if r["plan"] == "keep_all")
    for r in rec["rows"]:
        r["e2e_ratio"], r["prefill_ratio"] = r["e2e"] / full["e2e"], r["prefill"] / full["prefill"]
        r["flops_ratio"] = r["flops"] / full["flops"]
        r["paper_ratio"] = PAPER_MS[r["budget"]] / PAPER_MS[576] if r["budget"] in PAPER_MS else None
    marks = []
    for r in rec["rows"]:
        if r["plan"] == "vispruner" and r["paper_ratio"] is not None:
            marks.append({"mark": f"VisPruner T={r['budget']} e2e / full <= paper's", "target": f"{r['paper_ratio']:.2f}x",
                          "value": f"{r['e2e_ratio']:.2f}x",
                          "status": "met" if r["e2e_ratio"] <= r["paper_ratio"] else "missed"})
    rec["marks"] = marks


def render(rec: dict) -> list[str]:
    lines = [f"Model `{rec.get('model')}` ({rec.get('dtype')}, attention `{rec.get('attn')}`), batch 1, one image and "
             f"a POPE prompt ({rec['rows'][0]['n_text'] if rec.get('rows') else '?'} text tokens with this tokenizer), "
             f"{rec.get('new_tokens')} greedy tokens; median of {rec.get('repeats')} after {rec.get('warmup')} warm-up. "
             "e2e = encode + generate (CUDA events around both); the phases are the adapter's own. Paper: VisPruner "
             "Table 6, one A100, 107 / 85 / 78 ms at 576 / 144 / 29 tokens.", ""]
    if rec.get("weights_bytes"):
        lines += [f"Weights resident before the runs: {rec['weights_bytes'] / 2**20:.0f} MiB.", ""]
    lines += ["| plan | kept | vision ms | select ms | prefill ms | decode ms | e2e ms | prefill / full | e2e / full | "
              "paper / full | FLOPs / full | peak MiB |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rec.get("rows", []):
        ms = lambda k: f"{r[k] * 1e3:.2f}"  # noqa: E731
        ratio = lambda k: f"{r[k]:.2f}x" if r.get(k) is not None else "-"  # noqa: E731
        peak = f"{r['peak'] / 2**20:.0f}" if r.get("peak") else "n/a (CPU)"
        lines.append(f"| {r['label']} | {r['kept']} | {ms('vision')} | {ms('select')} | {ms('prefill')} | {ms('decode')} | "
                     f"{ms('e2e')} | {ratio('prefill_ratio')} | {ratio('e2e_ratio')} | {ratio('paper_ratio')} | "
                     f"{ratio('flops_ratio')} | {peak} |")
    return lines + [""]
