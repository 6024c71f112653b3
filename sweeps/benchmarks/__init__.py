"""Benchmarks by name: a static name -> "module:Class" table (imports nothing heavy until asked).

    from sweeps.benchmarks import get_benchmark
    bench = get_benchmark("pope")                      # or get_benchmark("mmvet", judge=Judge())
    samples = bench.load(source, split=None, limit=None)
"""
from __future__ import annotations

from typing import Any

from pruning.registry import resolve

BENCHMARKS: dict[str, str] = {
    "vqav2": "sweeps.benchmarks.vqav2:VQAv2",
    "gqa": "sweeps.benchmarks.gqa:GQA",
    "vizwiz": "sweeps.benchmarks.vizwiz:VizWiz",
    "scienceqa_img": "sweeps.benchmarks.scienceqa:ScienceQAImg",
    "textvqa": "sweeps.benchmarks.textvqa:TextVQA",
    "pope": "sweeps.benchmarks.pope:POPE",
    "mme": "sweeps.benchmarks.mme:MME",
    "mmbench_en": "sweeps.benchmarks.mmbench:MMBenchEN",
    "mmbench_cn": "sweeps.benchmarks.mmbench:MMBenchCN",
    "mmvet": "sweeps.benchmarks.mmvet:MMVet",
    "tgif_qa": "sweeps.benchmarks.tgif_qa:TGIFQA",
    "msvd_qa": "sweeps.benchmarks.msvd_qa:MSVDQA",
    "msrvtt_qa": "sweeps.benchmarks.msrvtt_qa:MSRVTTQA",
    "activitynet_qa": "sweeps.benchmarks.activitynet_qa:ActivityNetQA",
    "shapes": "sweeps.benchmarks.shapes:Shapes",
}


def benchmark_class(name: str) -> type:
    return resolve(name, BENCHMARKS, "benchmark")


def get_benchmark(name: str, **params: Any):
    """Build a benchmark by registry name; unknown names get a did-you-mean KeyError, unknown params a TypeError."""
    cls = benchmark_class(name)
    try:
        return cls(**params)
    except TypeError as exc:
        raise TypeError(f"benchmark {name!r}: {exc}") from exc
