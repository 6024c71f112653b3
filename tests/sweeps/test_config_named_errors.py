"""Config errors sit on the exact key, are printed once, and duplicate grid points are named, not dropped."""
import pytest

from sweeps.config import ConfigError, parse_config

BASE = {"models": ["tiny-llava"], "benchmarks": ["pope"], "controls": False}


def errors_of(grid, **extra):
    with pytest.raises(ConfigError) as e:
        parse_config({**BASE, "grid": grid, **extra})
    return e.value.errors


def test_fastv_layer_beyond_the_decoder_is_on_grid_layer_once():
    # tiny-llava has 8 decoder layers; three budgets used to give the same error three times under grid[1]
    errs = errors_of([{"strategy": "keep_all"}, {"strategy": "fastv", "budget": [128, 64, 32], "layer": 40}])
    assert len(errs) == 1, errs
    assert errs[0].startswith("grid[1].layer: fastv(layer=40) cannot run on 'tiny-llava' (8 decoder layers)")


def test_duplicate_grid_points_are_named():
    errs = errors_of([{"strategy": "vispruner", "budget": [64, 32], "ratio": 0.5},
                      {"strategy": "random", "budget": 64},
                      {"strategy": "vispruner", "budget": 32, "ratio": [0.5, 0.75]}])
    assert errs == ["grid[2]: grid point vispruner(ratio=0.5) at budget T=32 duplicates the one from grid[0]; "
                    "remove one"]
    errs = errors_of([{"strategy": "keep_all"}, "keep_all"])
    assert errs == ["grid[1]: grid point keep_all() duplicates the one from grid[0]; remove one"]
    errs = errors_of([{"strategy": "random", "budget": [16, 16]}])
    assert errs == ["grid[0]: grid point random() at budget T=16 duplicates the one from grid[0]; remove one"]


def test_controls_may_repeat_a_point_of_the_grid():
    # controls add keep_all / random / spatial; a grid that already lists one is not an error
    cfg = parse_config({**BASE, "controls": True, "grid": [{"strategy": "random", "budget": 64}, "keep_all"]})
    assert [(g.strategy, g.budget) for g in cfg.grid] == [("keep_all", None), ("random", 64), ("spatial", 64)]


def test_errors_are_listed_once_each():
    e = ConfigError(["a: x", "b: y", "a: x"])
    assert e.errors == ["a: x", "b: y"] and str(e).count("a: x") == 1
