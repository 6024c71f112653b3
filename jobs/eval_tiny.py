"""Quick in-process check of a model on generated `shapes` (no Ray, no MLflow): accuracy per plan, per question
type and per quadrant, through load_vlm and the benchmark's own prompt / score / aggregate.

    python jobs/eval_tiny.py [--model tiny-llava-shapes] [--seed 7] [--n 256] [--plans keep_all random:16 vispruner:16:0.5]

The sweep (jobs/sweep.py) is the canonical path; this is the model card's and the checkpoint test's measurement.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # runnable as a script from any cwd


def parse_plan(text: str):
    """"keep_all" | "NAME:T" | "vispruner:T:r" | "NAME:T:key=value" (int values) -> PrunePlan."""
    from pruning.types import PrunePlan

    name, *rest = text.split(":")
    if name == "keep_all":
        return PrunePlan("keep_all")
    params = {}
    for extra in rest[1:]:
        k, _, v = extra.partition("=")
        params.update({k: int(v)} if v else {"ratio": float(k)})
    return PrunePlan(name, budget=int(rest[0]), params=params)


def evaluate(vlm, plans, seed: int = 7, n: int = 256, batch_size: int = 16, max_new_tokens: int = 4) -> dict[str, dict]:
    """{plan label: shapes aggregate} for each plan, over the first n samples of shapes seed `seed`."""
    from sweeps.benchmarks import get_benchmark

    bench = get_benchmark("shapes", seed=seed, n=n)
    samples = bench.load()
    scores: dict[str, list] = {}
    for i in range(0, len(samples), batch_size):
        part = samples[i:i + batch_size]
        vision = vlm.encode([s.pil_image() for s in part])
        prompts = [bench.prompt(s) for s in part]
        for plan in plans:
            outs = vlm.generate(prompts, plan, vision=vision, max_new_tokens=max_new_tokens, sample_keys=[s.id for s in part])
            scores.setdefault(label(plan), []).extend(bench.score(s, o.text) for s, o in zip(part, outs))
    return {k: bench.aggregate(v) for k, v in scores.items()}


def label(plan) -> str:
    if plan.budget is None:
        return plan.strategy
    return f"{plan.strategy}/T{plan.budget}" + "".join(f"/{k}={v}" for k, v in sorted(plan.params.items()))


def main(argv: list[str] | None = None) -> int:
    import torch

    from pruning.models import load_vlm

    ap = argparse.ArgumentParser(prog="jobs/eval_tiny.py", description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny-llava-shapes")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--plans", nargs="+", default=["keep_all", "random:16", "vispruner:16:0.5"])
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    vlm = load_vlm(a.model, device="cpu")
    res = evaluate(vlm, [parse_plan(p) for p in a.plans], a.seed, a.n)
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
