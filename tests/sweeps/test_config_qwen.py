"""Qwen2.5-VL in sweep configs: the shipped config, model options (min_pixels / max_pixels) written as a mapping
and carried in the model name, their checks, and strategies the family cannot run refused with the reason."""
import pathlib

import pytest

from pruning.models.model_options import check_options, split_options, with_options
from sweeps.config import ConfigError, load_config, parse_config

REPO = pathlib.Path(__file__).resolve().parents[2]


def errors_of(models, grid, controls=False):
    with pytest.raises(ConfigError) as exc:
        parse_config({"models": models, "benchmarks": ["shapes"], "grid": grid, "controls": controls})
    return exc.value.errors


def test_options_round_trip_through_the_name():
    name = with_options("qwen2.5-vl-7b", {"min_pixels": 802816, "max_pixels": 802816})
    assert name == "qwen2.5-vl-7b?max_pixels=802816&min_pixels=802816"  # keys sorted: one name per setting
    assert split_options(name) == ("qwen2.5-vl-7b", {"max_pixels": 802816, "min_pixels": 802816})
    assert split_options("llava-hf/llava-1.5-7b-hf") == ("llava-hf/llava-1.5-7b-hf", {}) and with_options("a", {}) == "a"
    for bad in ("m?max_pixels", "m?max_pixels=x", "m?a=1&a=2"):
        with pytest.raises(ValueError, match="m\\?"):
            split_options(bad)
    assert check_options("m", {"min_pixels": 700}, frozenset({"min_pixels"}), "qwen2_5_vl") == \
        ["'m': min_pixels must be an integer >= 784 (28 x 28 pixels, one merged token), got 700"]


def test_shipped_config_fixes_the_pixel_range_and_the_paper_budgets():
    path = REPO / "sweeps/configs/qwen25vl.yaml"
    cfg = load_config(path)
    assert cfg.models == ("qwen2.5-vl-7b?max_pixels=802816&min_pixels=802816",)
    assert {g.budget for g in cfg.grid if g.budget} == {512, 256, 128}
    assert {g.strategy for g in cfg.grid} == {"keep_all", "random", "vispruner", "fastv", "divprune"}  # no spatial
    assert path.read_text().splitlines()[0].startswith("# ray job submit") and "jobs/sweep.py" in path.read_text()
    tiny = load_config(path, overrides=["models[0].name=tiny-qwen2.5-vl"], limit=2)  # the tiny stand-in
    assert tiny.models == ("tiny-qwen2.5-vl?max_pixels=802816&min_pixels=802816",)


def test_bad_options_and_unsupported_strategies_name_the_reason():
    errs = errors_of([{"name": "qwen2.5-vl-7b", "min_pixels": 900000, "max_pixels": 802816, "maxpixels": 3},
                      {"name": "llava-1.5-7b", "min_pixels": 1000}, {"name": "qwen2.5-vl-3b", "max_pixels": "big"}],
                     [{"strategy": "sparsevlm", "budget": 64}, {"strategy": "visionzip", "budget": 64}])
    assert any(e.startswith("models[0]:") and "has no option 'maxpixels'; it takes max_pixels, min_pixels (did you mean 'max_pixels'?)" in e
               for e in errs)
    assert any(e.startswith("models[0]:") and "min_pixels=900000 exceeds max_pixels=802816" in e for e in errs)
    assert any(e.startswith("models[1]:") and "(llava15) has no option 'min_pixels'; it takes no model options" in e
               for e in errs)
    assert "models[2].max_pixels: model options are integers, got 'big'" in errs
    assert any(e.startswith("grid[0].strategy:") and "cannot run 'sparsevlm' (" in e and "3-D M-RoPE" in e for e in errs)
    assert any(e.startswith("grid[1].strategy:") and "[CLS]" in e for e in errs)


def test_controls_skip_spatial_only_when_a_family_cannot_run_it():
    grid = [{"strategy": "vispruner", "budget": 32, "ratio": 0.5}]
    qwen = parse_config({"models": ["tiny-qwen2.5-vl"], "benchmarks": ["shapes"], "grid": grid})
    assert [g.key for g in qwen.grid] == ["keep_all/Tall", "random/T32", "vispruner/T32/r0.5"]
    llava = parse_config({"models": ["tiny-llava"], "benchmarks": ["shapes"], "grid": grid})
    assert "spatial/T32" in [g.key for g in llava.grid]
