"""Static strategy registry: name -> "module:Class". Importing this module imports no model and touches no device."""
from __future__ import annotations

import dataclasses
import difflib
import importlib
from typing import Any

STRATEGIES: dict[str, str] = {
    "keep_all": "pruning.strategies.keep_all:KeepAll",
    "random": "pruning.strategies.random_select:RandomSelect",
    "spatial": "pruning.strategies.spatial:Spatial",
    "vispruner": "pruning.strategies.vispruner:VisPruner",
    "visionzip": "pruning.strategies.visionzip:VisionZip",
    "divprune": "pruning.strategies.divprune:DivPrune",
    "prumerge_plus": "pruning.strategies.prumerge_plus:PruMergePlus",
    "fastv": "pruning.strategies.fastv:FastV",
    "sparsevlm": "pruning.strategies.sparsevlm:SparseVLM",
}


def closest(name: str, valid: list[str] | tuple[str, ...] | set[str], n: int = 3) -> str:
    """A did-you-mean suffix naming the closest valid names (or all of them when nothing is close)."""
    valid = sorted(valid)
    near = difflib.get_close_matches(name, valid, n=n, cutoff=0.5)
    if near:
        return "did you mean " + " or ".join(repr(x) for x in near) + "?"
    return "valid names: " + ", ".join(valid)


def resolve(name: str, table: dict[str, str], kind: str) -> Any:
    """Import the class a static table names; unknown names get a did-you-mean error."""
    if not isinstance(name, str) or name not in table:
        raise KeyError(f"unknown {kind} {name!r}; {closest(str(name), list(table))}")
    module, _, attr = table[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def strategy_class(name: str) -> type:
    return resolve(name, STRATEGIES, "strategy")


def get_strategy(name: str, **params: Any):
    """Build a strategy by registry name. Unknown names and unknown/invalid parameters fail with a clear message."""
    cls = strategy_class(name)
    fields = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
    unknown = [k for k in params if k not in fields]
    if unknown:
        hint = closest(unknown[0], list(fields)) if fields else f"{name!r} takes no parameters"
        raise TypeError(f"strategy {name!r} has no parameter {unknown[0]!r}; {hint}")
    return cls(**params)


def check_ratio(owner: str, name: str, value: float) -> None:
    """Shared parameter check: a ratio must be a number in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0.0 <= float(value) <= 1.0):
        raise ValueError(f"{owner}: {name} must be in [0, 1], got {value!r}")


def check_budget(owner: str, budget: Any) -> None:
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ValueError(f"{owner}: budget T must be an integer >= 1, got {budget!r}")
