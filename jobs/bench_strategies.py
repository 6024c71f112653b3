"""Selection cost per strategy: .venv/bin/python jobs/bench.py strategies [--out docs/PERF.md]

Times each registered strategy's `select` on synthetic CLIP-L/14-336-shaped inputs (N=576 patches,
C=1024) at B=1 and B=32 for T in 192/128/64: median wall time of several repeats after warm-up, on
CPU and on CUDA when available. For VisPruner it also gives the analytic selection FLOPs (the
residual similarity matrix, 2*R0^2*C per sample, R0 = N - int(T*r)) against the LLaVA-1.5-7B
prefill FLOPs the pruning saves (pruning.accounting, n_text=29), and times the released-style
variant that recomputes U[evens] @ U[odds].T every round. Writes the "## Strategy selection cost"
section of docs/PERF.md (other sections are left as they are).
"""
from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import torch

from jobs.machine import describe
from jobs.perf_doc import write_section
from pruning.accounting import prefill_flops
from pruning.registry import STRATEGIES, get_strategy
from pruning.strategies.vispruner import MAX_REMOVED_PER_ROUND
from pruning.types import Selection, VisionTokens

SECTION = "## Strategy selection cost"
N, C = 576, 1024  # CLIP-L/14-336: 24 x 24 patches, width 1024
KEY_WIDTH, LLM_WIDTH = 64, 4096  # head-averaged key width (VisionZip), LLaVA-1.5-7B embedding width (DivPrune)
LLAVA_7B = SimpleNamespace(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32)
N_TEXT = 29


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="docs/PERF.md", help="markdown file whose section is rewritten ('-' = print only)")
    parser.add_argument("--batches", default="1,32", help="batch sizes B")
    parser.add_argument("--budgets", default="192,128,64", help="budgets T")
    parser.add_argument("--ratios", default="0.5,0.75", help="VisPruner ratios r")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (median reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed warm-up calls")
    parser.add_argument("--devices", default="cpu,cuda", help="devices to time on (cuda skipped when unavailable)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's own choice)")


def make_tokens(B: int, device: str, seed: int = 0) -> VisionTokens:
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(B, N, C, generator=g)
    extra = {
        "sample_keys": torch.arange(B, dtype=torch.int64),
        "projected": torch.randn(B, N, LLM_WIDTH, generator=g),  # DivPrune: LLM-input embeddings
        "last_attention": torch.rand(B, N, generator=g).softmax(-1),  # PruMerge+: last-layer [CLS] row
        "last_keys": torch.randn(B, N, C, generator=g),  # PruMerge+: last-layer keys
        "decoder_attention": torch.rand(B, N, generator=g).softmax(-1),  # FastV: layer K-1 last-token row
    }
    return VisionTokens(features=feats.to(device), attention=torch.rand(B, N, generator=g).softmax(-1).to(device),
                        keys=torch.randn(B, N, KEY_WIDTH, generator=g).to(device), cls=torch.randn(B, C, generator=g).to(device),
                        extra={k: v.to(device) for k, v in extra.items()})


def released_style(tokens: VisionTokens, budget: int, ratio: float) -> torch.Tensor:
    """VisPruner with the released loop's cost: U[evens] @ U[odds].T recomputed every round (batched)."""
    feats, attn = tokens.features, tokens.attention
    B = feats.shape[0]
    n_imp = int(budget * ratio)
    n_div = budget - n_imp
    order = attn.argsort(dim=-1, descending=True, stable=True)
    res = order[:, n_imp:]
    u = feats / feats.norm(dim=-1, keepdim=True)  # (B, N, C)
    while n_div > 0:
        R = res.shape[1]
        evens, odds = res[:, 0::2], res[:, 1::2]
        k = min(MAX_REMOVED_PER_ROUND, R - n_div, evens.shape[1])
        if k <= 0:
            break
        ue = u.gather(1, evens.unsqueeze(-1).expand(-1, -1, C))  # (B, E, C)
        uo = u.gather(1, odds.unsqueeze(-1).expand(-1, -1, C))  # (B, O, C)
        best = (ue @ uo.transpose(1, 2)).amax(dim=-1)  # (B, E)
        kept = best.argsort(dim=-1, descending=True, stable=True)[:, k:]
        res = torch.cat([evens.gather(1, kept), odds], dim=1)
    return torch.cat([order[:, :n_imp], res], dim=1).sort(dim=-1).values


def rounds_flops(budget: int, ratio: float) -> tuple[int, int]:
    """(similarity FLOPs once per call, FLOPs of recomputing each round) per sample: 2*R0^2*C vs sum 2*E*O*C."""
    n_imp = int(budget * ratio)
    n_div = budget - n_imp
    R = R0 = N - n_imp
    total = 0
    while n_div > 0:
        E, O = (R + 1) // 2, R // 2
        k = min(MAX_REMOVED_PER_ROUND, R - n_div, E)
        if k <= 0:
            break
        total += 2 * E * O * C
        R -= k
    return (2 * R0 * R0 * C if n_div > 0 else 0), total


def timed(fn, device: str, repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def strategy_cases(ratios: list[float]) -> tuple[list[tuple[str, object, str]], list[str]]:
    """(label, callable(tokens, T) -> Selection, note) for every strategy whose module exists; skip notes."""
    cases, skipped = [], []
    want = [("keep_all", {}), ("random", {}), ("spatial", {}), ("spatial", {"mode": "pool"})]
    want += [("vispruner", {"ratio": r}) for r in ratios]
    want += [("visionzip", {}), ("divprune", {}), ("prumerge_plus", {}), ("fastv", {}), ("sparsevlm", {})]
    for name, params in want:
        label = name + "".join(f" {k}={v}" for k, v in params.items())
        try:
            strategy = get_strategy(name, **params)
        except ModuleNotFoundError as exc:
            skipped.append(f"{name}: module {STRATEGIES[name].split(':')[0]} not importable ({exc.name})")
            continue
        if getattr(strategy, "stage", "encoder") == "decoder" and not hasattr(strategy, "select_from_attention"):
            skipped.append(f"{name}: decoder-stage, selection happens inside the LLM (timed by `bench.py llava`)")
            continue
        note = "ranking step only (attention row given)" if name == "fastv" else ""
        note = note or ("adaptive count, T ignored" if name == "prumerge_plus" else "")
        cases.append((label, strategy.select, note))
    return cases, skipped


def run(args) -> tuple[list[dict], list[dict], list[str]]:
    batches = [int(x) for x in args.batches.split(",")]
    budgets = [int(x) for x in args.budgets.split(",")]
    ratios = [float(x) for x in args.ratios.split(",")]
    devices = [d for d in args.devices.split(",") if d == "cpu" or (d == "cuda" and torch.cuda.is_available())]
    cases, skipped = strategy_cases(ratios)
    rows = []
    for device in devices:
        for B in batches:
            tokens = make_tokens(B, device)
            for label, select, note in cases:
                for T in budgets:
                    try:
                        sel: Selection = select(tokens, T)
                        kept = int(sel.lengths.float().mean()) if sel.lengths is not None else sel.num_kept
                        sec, best = timed(lambda: select(tokens, T), device, args.repeats, args.warmup)
                    except Exception as exc:  # a peer strategy missing an input: report, do not abort
                        skipped.append(f"{label} B={B} T={T} on {device}: {type(exc).__name__}: {exc}")
                        break
                    rows.append(dict(device=device, B=B, strategy=label, T=T, kept=kept, ms=sec * 1e3, min_ms=best * 1e3, note=note))
                    print(f"{device:4s} B={B:<3d} {label:24s} T={T:<4d} kept={kept:<4d} {sec * 1e3:9.2f} ms (min {best * 1e3:.2f})", flush=True)
            for r in ratios:
                for T in budgets:
                    sec, best = timed(lambda: released_style(tokens, T, r), device, args.repeats, args.warmup)
                    rows.append(dict(device=device, B=B, strategy=f"vispruner ratio={r} (recompute per round)", T=T,
                                     kept=T, ms=sec * 1e3, min_ms=best * 1e3, note="released loop's cost, for comparison"))
                    print(f"{device:4s} B={B:<3d} vispruner r={r} recompute T={T:<4d} {sec * 1e3:9.2f} ms (min {best * 1e3:.2f})", flush=True)
    flops = []
    for r in ratios:
        for T in budgets:
            once, rounds = rounds_flops(T, r)
            saved = prefill_flops(LLAVA_7B, N, N_TEXT) - prefill_flops(LLAVA_7B, T, N_TEXT)
            flops.append(dict(r=r, T=T, R0=N - int(T * r), once=once, rounds=rounds, saved=saved))
    return rows, flops, skipped


def render(rows: list[dict], flops: list[dict], skipped: list[str], args, command: str) -> str:
    lines = [SECTION, "",
             f"Command: `{command}`  ",
             f"Machine: {describe()}, {torch.get_num_threads()} torch CPU thread(s)  ",
             f"Date: {datetime.date.today().isoformat()}; 1-min load average at start {args.load:.1f} "
             "(other jobs on a shared box inflate wall times; compare rows of one run, not runs)  ",
             f"Inputs: synthetic, N={N} patches, C={C} (CLIP-L/14-336), float32; median of {args.repeats} runs after "
             f"{args.warmup} warm-up. `kept` is the real token count (spatial pool: s*s; PruMerge+: batch mean).", ""]
    devices = sorted({r["device"] for r in rows})
    budgets = sorted({r["T"] for r in rows}, reverse=True)
    for device in devices:
        for B in sorted({r["B"] for r in rows if r["device"] == device}):
            part = [r for r in rows if r["device"] == device and r["B"] == B]
            lines += [f"**{device}, B={B}**: ms per `select` call for the whole batch, median / min", "",
                      "| strategy | " + " | ".join(f"T={T}" for T in budgets) + " | kept | note |",
                      "|---|" + "---|" * len(budgets) + "---|---|"]
            for label in dict.fromkeys(r["strategy"] for r in part):
                hits = {r["T"]: r for r in part if r["strategy"] == label}
                cells = [f"{hits[T]['ms']:.2f} / {hits[T]['min_ms']:.2f}" if T in hits else "-" for T in budgets]
                kept = "/".join(str(hits[T]["kept"]) if T in hits else "-" for T in budgets)
                lines.append(f"| {label} | " + " | ".join(cells) + f" | {kept} | {hits[next(iter(hits))]['note']} |")
            speedups = []
            for r in part:
                if r["strategy"].endswith("(recompute per round)"):
                    once = [x for x in part if x["strategy"] == r["strategy"].split(" (")[0] and x["T"] == r["T"]]
                    if once:
                        speedups.append(r["min_ms"] / once[0]["min_ms"])
            if speedups:
                lines += ["", f"Once-per-call similarity vs recomputing it every round (VisPruner, min times): "
                              f"{min(speedups):.1f}x to {max(speedups):.1f}x faster."]
            lines.append("")
    lines += ["**VisPruner selection FLOPs vs the prefill it saves** (per sample, LLaVA-1.5-7B, n_text=29, "
              "pruning.accounting): the similarity among the R0 = N - int(T*r) residual tokens is computed once "
              "per call (2*R0^2*C FLOPs) and each duplicate-removal round gathers its evens x odds block from it; the "
              "released loop recomputes U[evens] @ U[odds].T every round (sum of 2*E*O*C).", "",
              "| r | T | R0 | similarity once (GFLOPs) | recompute per round (GFLOPs) | prefill saved (TFLOPs) | once / saved |",
              "|---|---|---|---|---|---|---|"]
    for f in flops:
        pct = 100 * f["once"] / f["saved"]
        lines.append(f"| {f['r']} | {f['T']} | {f['R0']} | {f['once'] / 1e9:.3f} | {f['rounds'] / 1e9:.2f} | "
                     f"{f['saved'] / 1e12:.2f} | {pct:.3f}% |")
    lines.append("")
    if skipped:
        lines += ["Not timed:", ""] + [f"- {s}" for s in skipped] + [""]
    return "\n".join(lines)




def main(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    command = ".venv/bin/python jobs/bench.py " + " ".join(sys.argv[1:]) if sys.argv[1:] else ".venv/bin/python jobs/bench.py strategies"
    args.load = os.getloadavg()[0]
    rows, flops, skipped = run(args)
    section = render(rows, flops, skipped, args, command)
    print(section)
    if args.out != "-":
        write_section(Path(args.out), SECTION, section)
        print(f"wrote {SECTION!r} into {args.out}")
    return 0


if __name__ == "__main__":  # also runnable directly
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    raise SystemExit(main(parser.parse_args()))
