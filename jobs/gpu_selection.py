"""gpu_check section e: VisPruner's own cost at B=32, N=576 against the prefill time it saves.

Selection: `get_strategy("vispruner", ratio=0.5).select` on the model's real vision output (CUDA-event median).
Saved: keep_all's prefill minus the pruned plan's prefill at the same batch (adapter's CUDA-event phase, medians).
"""
from __future__ import annotations

from jobs.gpu_context import Context, images, timed
from jobs.gpu_mfu import prefill
from pruning import PrunePlan, get_strategy

NAME, TITLE = "selection", "e. VisPruner's own cost against the prefill it saves"
RATIO = 0.5  # r


def run(ctx: Context, rec: dict, save) -> None:
    p = ctx.profile
    vlm = ctx.model()
    B = p.select_batch
    vision = vlm.encode(images(B))
    rec.update(model=p.model, B=B, N=vision.num_tokens, ratio=RATIO, rows=[])
    full = prefill(ctx, vlm, PrunePlan("keep_all"), B, p.warmup, p.mfu_repeats)
    rec["full_prefill_s"] = full["prefill_s"]
    strategy = get_strategy("vispruner", ratio=RATIO)
    for T in p.latency_budgets:
        select_s, _, sel = timed(ctx, lambda: strategy.select(vision, T), p.warmup, p.repeats)
        pruned = prefill(ctx, vlm, PrunePlan("vispruner", T, {"ratio": RATIO}), B, p.warmup, p.mfu_repeats)
        saved = full["prefill_s"] - pruned["prefill_s"]
        rec["rows"].append({"T": T, "kept": int(sel.indices.shape[1]), "select_s": select_s,
                            "select_phase_s": pruned["select_s"], "prefill_s": pruned["prefill_s"], "saved_s": saved,
                            "select_over_saved": select_s / saved if saved > 0 else None})
        save()


def render(rec: dict) -> list[str]:
    if "full_prefill_s" not in rec:
        return []
    lines = [f"Model `{rec['model']}`, B={rec['B']}, N={rec['N']}, r={rec['ratio']}; keep_all prefill "
             f"{rec['full_prefill_s'] * 1e3:.2f} ms for the batch. `select` is the strategy alone; the adapter's select "
             "phase adds splicing the kept tokens into the prompt.", "",
             "| T | select ms | adapter select phase ms | prefill ms | prefill saved ms | select / saved |",
             "|---:|---:|---:|---:|---:|---:|"]
    for r in rec.get("rows", []):
        share = f"{r['select_over_saved']:.1%}" if r["select_over_saved"] is not None else "n/a (nothing saved)"
        lines.append(f"| {r['T']} | {r['select_s'] * 1e3:.2f} | {r['select_phase_s'] * 1e3:.2f} | {r['prefill_s'] * 1e3:.2f} | "
                     f"{r['saved_s'] * 1e3:.2f} | {share} |")
    return lines + [""]
