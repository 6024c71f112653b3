"""LLaVA-OneVision in a sweep config: the hub aliases resolve to the pinned checkpoint config (no weights), its
spec is read from it (729 per crop, Qwen2-7B with 4 KV heads), and strategies that need a [CLS] are rejected
at validation with the reason."""
import pytest

from pruning.models import model_spec
from sweeps.config import ConfigError, parse_config


def test_hub_aliases_read_the_pinned_configs():
    big, small = model_spec("llava-onevision-7b"), model_spec("llava-onevision-0.5b")
    assert (big.model_type, big.tokens, big.per, big.depth, big.heads, big.kv_heads, big.head_dim) == \
           ("llava_onevision", 27 * 27, "crop", 28, 28, 4, 128)
    assert (small.tokens, small.depth, small.heads, small.kv_heads, small.head_dim) == (729, 24, 14, 2, 64)
    assert model_spec("tiny-llava-onevision").tokens == 729  # the tiny model keeps the real geometry


def test_cls_strategies_and_budgets_past_a_crop_are_rejected_with_the_reason():
    grid = [{"strategy": "visionzip", "budget": 64}, {"strategy": "prumerge_plus", "budget": 64},
            {"strategy": "vispruner", "budget": 730}, {"strategy": "fastv", "budget": 64, "layer": 28}]
    with pytest.raises(ConfigError) as exc:
        parse_config({"models": ["llava-onevision-7b"], "benchmarks": ["shapes"], "grid": grid, "controls": False})
    errs = exc.value.errors
    for i, name in enumerate(["visionzip", "prumerge_plus"]):
        assert any(e.startswith(f"grid[{i}].strategy: model 'llava-onevision-7b' (llava_onevision) cannot run "
                                f"'{name}' (it needs a [CLS] token, which this vision tower does not have); it supports divprune, "
                                "fastv, keep_all, random, vispruner") for e in errs)
    assert any(e.startswith("grid[2].budget: T=730 exceeds the 729 visual tokens per crop of 'llava-onevision-7b'")
               for e in errs)
    assert any("(28 decoder layers)" in e for e in errs)
    ok = parse_config({"models": ["llava-onevision-7b"], "benchmarks": ["shapes"], "controls": False,
                       "grid": [{"strategy": "vispruner", "budget": [729, 32], "ratio": 0.5}]})
    assert [p.budget for p in ok.grid] == [729, 32]
