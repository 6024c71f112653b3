"""Benchmarks (not tests): python jobs/bench.py {strategies,llava,sweep,chaos,video_llava} [--out docs/PERF.md] ...

Each subcommand lives in jobs/bench_<name>.py with `add_arguments(parser)` and `main(args)`;
results are printed and written into docs/PERF.md with the command and the machine.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from the repo root

SUBCOMMANDS = {
    "strategies": "jobs.bench_strategies",   # selection cost per strategy (N=576, C=1024, B=1/32)
    "llava": "jobs.bench_llava",             # prefill / end-to-end latency and memory per plan
    "sweep": "jobs.bench_sweep",             # sweep throughput vs the reference scripts' way
    "chaos": "jobs.bench_chaos",             # the demo sweep under replica kills vs a calm run
    "video_llava": "jobs.bench_video_llava", # Video-LLaVA latency / memory on videos at T = 455/227/114
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jobs/bench.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    modules = {}
    for name, module in SUBCOMMANDS.items():
        try:
            modules[name] = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        modules[name].add_arguments(sub.add_parser(name, help=(modules[name].__doc__ or "").splitlines()[0]))
    args = parser.parse_args(argv)
    return int(modules[args.what].main(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
