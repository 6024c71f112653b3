"""Video-LLaVA prefill / end-to-end latency and peak memory per plan on videos:
python jobs/bench.py video_llava [--model tiny-video-llava|video-llava-7b-shaped] [--batch 1]

One synthetic 8-frame video per sample (224 x 224 noise with a moving block); keep_all (8 x 257 = 2056 visual
tokens), VisPruner (r = 0.5, before the LLM) and FastV (K = 2, inside it) at the paper's video budgets
455 / 227 / 114, through the real adapter: video_tower once per batch, then per plan select -> prefill -> greedy
decode of a fixed number of tokens (EOS ignored). CUDA events on a GPU, perf_counter on CPU; minimum of
--repeats after --warmup. On a GPU: `--model video-llava-7b-shaped` (random fp16 weights, ~15 GB) runs in a few
minutes. Writes the "## Video-LLaVA latency and memory" section of docs/PERF.md.
"""
from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import torch

from jobs.bench_timing import time_plan, time_vision
from jobs.machine import describe
from jobs.perf_doc import write_section
from pruning import PrunePlan

SECTION = "## Video-LLaVA latency and memory"
BUDGETS = [455, 227, 114]
QUESTION = "What is happening in the video?"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="tiny-video-llava", help="load_vlm name: tiny-video-llava, "
                        "video-llava-7b-shaped, a path or hub id")
    parser.add_argument("--batch", type=int, nargs="+", default=[1], help="batch sizes (videos per batch)")
    parser.add_argument("--budgets", default=",".join(map(str, BUDGETS)), help="kept visual tokens T per video")
    parser.add_argument("--new-tokens", type=int, default=8, help="generated tokens per sample (EOS ignored)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--device", default=None, help="cuda / cpu (default: cuda when available)")
    parser.add_argument("--out", default="docs/PERF.md", help="markdown file whose section is rewritten ('-' = print only)")


def videos(n: int, frames: int = 8) -> list:
    from PIL import Image

    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        base = torch.randint(0, 256, (224, 224, 3), generator=g, dtype=torch.uint8)
        clip = []
        for f in range(frames):
            img = base.clone()
            img[60:120, 20 * f:20 * f + 60] = 255
            clip.append(Image.fromarray(img.numpy()))
        out.append(clip)
    return out


def run_once(vlm, plan: PrunePlan, vision, B: int, new_tokens: int) -> dict:
    prep, state, sec, peak = time_plan(vlm, [QUESTION] * B, plan, vision, new_tokens)
    b = prep.batch
    out = vlm._output("", prep.n_in, prep.lengths[0], b.n_text[0], state.kept_per_layer if prep.hooks else None, {},
                      None, None)
    return dict(select=sec["select"], prefill=sec["prefill"], decode=sec["decode"], kept=out.n_visual_kept,
                flops=out.flops, peak=peak)


def measure(vlm, B: int, budgets: list[int], args) -> list[dict]:
    clips = videos(B)
    vision, t_vision = time_vision(vlm, clips, args.warmup, args.repeats)
    plans = ([PrunePlan("keep_all")] + [PrunePlan("vispruner", T, {"ratio": 0.5}) for T in budgets]
             + [PrunePlan("fastv", T, {"layer": 2}) for T in budgets])
    rows = []
    for plan in plans:
        runs = [run_once(vlm, plan, vision, B, args.new_tokens) for _ in range(args.warmup + args.repeats)][args.warmup:]
        best = {k: min(r[k] for r in runs) for k in ("select", "prefill", "decode")}
        rows.append(dict(B=B, plan=plan.label, kept=runs[0]["kept"], flops=runs[0]["flops"], vision=t_vision,
                         **best, e2e=t_vision + sum(best.values()),
                         peak=max((r["peak"] or 0) for r in runs) or None))
        print(f"B={B} {plan.label:22s} kept={rows[-1]['kept']:<5d} prefill={best['prefill'] * 1e3:9.2f} ms", flush=True)
    return rows


def render(rows: list[dict], args, command: str, device: str, dtype) -> str:
    lines = [SECTION, "", f"Command: `{command}`  ",
             f"Machine: {describe()}; model `{args.model}` on {device}, {str(dtype).replace('torch.', '')}  ",
             f"Date: {datetime.date.today().isoformat()}  ",
             f"One synthetic 8-frame video per sample; video_tower once per batch, then per plan select -> prefill -> "
             f"{args.new_tokens} greedy tokens (EOS ignored); minimum of {args.repeats} runs after {args.warmup} warm-up; "
             "e2e = vision + select + prefill + decode. keep_all = 8 x 257 = 2056 visual tokens; T of the 2048 "
             "patch tokens otherwise (docs/ALGORITHMS.md, Video-LLaVA). FLOPs: pruning.accounting on the real lengths.", ""]
    if device == "cpu":
        lines += [f"**CPU figures on `{args.model}`: they check the code path, not GPU latency.**", ""]
    for B in sorted({r["B"] for r in rows}):
        part = [r for r in rows if r["B"] == B]
        base = part[0]
        lines += [f"**B={B}**", "", "| plan | visual tokens | prefill ms | e2e ms | prefill / full | e2e / full | "
                  "prefill TFLOPs | peak MiB |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in part:
            peak = f"{r['peak'] / 2**20:.0f}" if r["peak"] else "n/a (CPU)"
            lines.append(f"| {r['plan']} | {r['kept']} | {r['prefill'] * 1e3:.2f} | {r['e2e'] * 1e3:.2f} | "
                         f"{r['prefill'] / base['prefill']:.2f}x | {r['e2e'] / base['e2e']:.2f}x | "
                         f"{r['flops'] / 1e12:.4g} | {peak} |")
        lines.append("")
    return "\n".join(lines)


def main(args) -> int:
    from pruning.models import load_vlm

    command = "python jobs/bench.py " + " ".join(sys.argv[1:]) if sys.argv[1:] else "python jobs/bench.py video_llava"
    vlm = load_vlm(args.model, device=args.device)
    budgets = [int(x) for x in args.budgets.split(",")]
    rows = [r for B in args.batch for r in measure(vlm, B, budgets, args)]
    section = render(rows, args, command, vlm.device.type, vlm.dtype)
    print(section)
    if args.out != "-":
        write_section(Path(args.out), SECTION, section)
        print(f"wrote {SECTION!r} into {args.out}")
    return 0
