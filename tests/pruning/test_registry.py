"""Registry: did-you-mean errors, parameter validation, and a light import (no transformers, no models)."""
import subprocess
import sys
from pathlib import Path

import pytest

from pruning.registry import STRATEGIES, get_strategy, strategy_class

REPO = Path(__file__).resolve().parents[2]
MINE = ["keep_all", "random", "spatial", "vispruner", "fastv"]


def test_unknown_name_suggests_closest():
    with pytest.raises(KeyError, match="did you mean 'vispruner'"):
        get_strategy("vispuner")
    with pytest.raises(KeyError, match="did you mean 'fastv'"):
        get_strategy("fast_v")
    with pytest.raises(KeyError, match="valid names: .*vispruner"):
        get_strategy("zzzzzz")


def test_unknown_parameter_suggests_closest():
    with pytest.raises(TypeError, match="no parameter 'ratoi'; did you mean 'ratio'"):
        get_strategy("vispruner", ratoi=0.5)
    with pytest.raises(TypeError, match="no parameter 'layers'; did you mean 'layer'"):
        get_strategy("fastv", layers=2)
    with pytest.raises(TypeError, match="no parameter 'sead'; did you mean 'seed'"):
        get_strategy("random", sead=1)


@pytest.mark.parametrize("ratio", [-0.01, 1.01, 2, "0.5", True, float("nan")])
def test_ratio_outside_unit_interval_is_rejected(ratio):
    with pytest.raises(ValueError, match=r"VisPruner: ratio r must be in \[0, 1\]"):
        get_strategy("vispruner", ratio=ratio)


@pytest.mark.parametrize("name", ["vispruner", "random", "spatial"])
@pytest.mark.parametrize("budget", [0, -5, 2.5, True])
def test_budget_below_one_is_rejected(name, budget):
    import torch

    from pruning.types import VisionTokens

    tokens = VisionTokens(features=torch.randn(1, 16, 4), attention=torch.rand(1, 16))
    with pytest.raises(ValueError, match="budget T must be an integer >= 1"):
        get_strategy(name).select(tokens, budget)


@pytest.mark.parametrize("name", MINE)
def test_my_names_resolve_to_frozen_dataclasses_with_a_stage(name):
    import dataclasses

    cls = strategy_class(name)
    assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen
    assert cls.stage in ("encoder", "decoder")
    obj = get_strategy(name)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, dataclasses.fields(cls)[0].name if dataclasses.fields(cls) else "x", 1)


def test_every_registered_module_path_is_well_formed():
    for name, target in STRATEGIES.items():
        module, _, attr = target.partition(":")
        assert module.startswith("pruning.strategies.") and attr, (name, target)


def test_importing_the_registry_pulls_in_no_model_code():
    code = (
        "import sys, pruning.registry as r\n"
        "r.get_strategy('vispruner'); r.get_strategy('fastv'); r.get_strategy('random'); r.get_strategy('spatial')\n"
        "bad = sorted(m for m in sys.modules if m == 'transformers' or m.startswith('transformers.')"
        " or m == 'pruning.models' or m.startswith('pruning.models.') or m in ('ray', 'mlflow'))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
