"""LLaVA-NeXT without weights: hub aliases resolve offline to the pinned configs, a budget is per crop at
validation, and docs/ALGORITHMS.md's 7B table (counts, prefill FLOPs) matches a plain restatement."""
import re
from pathlib import Path

import pytest

from pruning.models import HUB_ALIASES, model_config, model_spec
from pruning.models.anyres import packing
from sweeps.config import ConfigError, parse_config

DOC = Path(__file__).resolve().parents[3] / "docs" / "ALGORITHMS.md"


def layer_flops(n: int, d: int = 4096, m: int = 11008) -> int:
    """F(n) = 8nd^2 + 4n^2d + 6ndm (the papers' convention), vicuna-7b widths."""
    return 8 * n * d * d + 4 * n * n * d + 6 * n * d * m


def test_hub_aliases_resolve_offline_with_per_crop_specs():
    assert HUB_ALIASES["llava-next-7b"] == "llava-hf/llava-v1.6-vicuna-7b-hf"
    assert HUB_ALIASES["llava-next-mistral-7b"] == "llava-hf/llava-v1.6-mistral-7b-hf"
    vic, mis = model_spec("llava-next-7b"), model_spec("llava-next-mistral-7b")
    assert (vic.model_type, vic.tokens, vic.per, vic.depth, vic.kv_heads) == ("llava_next", 576, "crop", 32, 32)
    assert (mis.tokens, mis.per, mis.kv_heads, mis.head_dim) == (576, "crop", 8, 128)  # GQA
    assert packing(model_config("llava-next-7b"), (672, 672)).length == 576 + 48 * 49


def test_a_budget_above_one_crop_is_refused_per_crop():
    with pytest.raises(ConfigError) as exc:
        parse_config({"models": ["llava-next-7b"], "benchmarks": ["shapes"], "controls": False,
                      "grid": [{"strategy": "vispruner", "budget": 640}]})
    assert any("T=640 exceeds the 576 visual tokens per crop of 'llava-next-7b'" in e for e in exc.value.errors)


def test_the_documented_7b_table():
    section = DOC.read_text().split("## LLaVA-NeXT (`llava_next`, anyres)", 1)[1]
    rows = {m[0]: m[1:] for m in re.findall(r"^\| (\d+) \| (\d+) \| (\d+) \| ([\d.]+) \| ([\d.]+) \|$", section, re.M)}
    assert set(rows) == {"128", "64", "32"}
    n_text, full = 29, 576 + 48 * 49  # 672 x 672: 5 crops, nothing unpadded, 48 newline rows
    keep_all = f"| keep_all | 2880 ({32 * layer_flops(2880 + n_text) / 1e12:.2f}) | {full} | " \
               f"{32 * layer_flops(full + n_text) / 1e12:.2f} | - |"
    assert keep_all in section
    for T, (paper, real, tflops, fastv) in rows.items():
        T = int(T)
        assert (int(paper), int(real)) == (5 * T, 5 * T + 48)
        assert float(tflops) == round(32 * layer_flops(5 * T + 48 + n_text) / 1e12, 2)
        fv = 2 * layer_flops(full + n_text) + 30 * layer_flops(5 * T + n_text)  # FastV K=2 keeps T x 5
        assert float(fastv) == round(fv / 1e12, 2)
