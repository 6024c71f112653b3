"""PrunePlan: the one grid point. What one generate call asks for, and the key every layer files results under.

    PrunePlan("vispruner", budget=64, params={"ratio": 0.75}).key     # "vispruner/T64/r0.75"
    PrunePlan("fastv", 64, {"layer": 2}).key                           # "fastv/T64/layer=2"
    PrunePlan("keep_all").key                                          # "keep_all/Tall"

The same object is the config's grid entry, a unit's point, the replica's plan, the store's `point_id`,
MLflow's child-run key and the dashboards' series. Parameters are held sorted, with YAML lists frozen
to tuples (SparseVLM layers), so plans hash and compare by content.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


def freeze(v: Any) -> Any:
    """YAML lists inside one parameter value (e.g. SparseVLM layers: [[1, 3, 5]]) -> tuples, so plans hash."""
    return tuple(freeze(x) for x in v) if isinstance(v, (list, tuple)) else v


def _fmt(v: Any) -> str:
    if isinstance(v, tuple):                 # e.g. SparseVLM layers=(1, 3, 5) -> "1,3,5"
        return ",".join(_fmt(x) for x in v)
    return repr(v) if isinstance(v, str) else str(v)


class Params(tuple):
    """A plan's parameters: (name, value) pairs sorted by name, values frozen (lists -> tuples), that also read
    as a mapping (`params["ratio"]`, get, keys, items, `**params`) and equal the dict they hold."""

    def __new__(cls, items: Any = ()):
        pairs = items.items() if isinstance(items, Mapping) else (items or ())
        return super().__new__(cls, sorted(((str(k), freeze(v)) for k, v in pairs), key=lambda kv: kv[0]))

    def keys(self) -> list[str]:
        return [k for k, _ in self]

    def values(self) -> list[Any]:
        return [v for _, v in self]

    def items(self) -> list[tuple[str, Any]]:
        return list(tuple.__iter__(self))

    def get(self, key: str, default: Any = None) -> Any:
        return next((v for k, v in tuple.__iter__(self) if k == key), default)

    def __getitem__(self, key):
        if isinstance(key, str):
            for k, v in tuple.__iter__(self):
                if k == key:
                    return v
            raise KeyError(key)
        return tuple.__getitem__(self, key)

    def __contains__(self, key) -> bool:
        return key in self.keys() if isinstance(key, str) else tuple.__contains__(self, key)

    def __eq__(self, other) -> bool:
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other)
        return tuple.__eq__(self, other)

    def __ne__(self, other) -> bool:
        return not self == other

    __hash__ = tuple.__hash__

    def __repr__(self) -> str:
        return f"Params({dict(self.items())!r})"


@dataclass(frozen=True)
class PrunePlan:
    """A registry strategy name, a budget T and its parameters (a mapping, or (name, value) pairs).

    The budget is checked when the plan is built (`build()`, i.e. inside generate), so a plan can be
    carried to a replica and fail there with its own message, as any other bad plan does.
    """

    strategy: str
    budget: int | None = None  # T: kept visual tokens per image (per crop for anyres); None = keep all
    params: Params = field(default_factory=Params)   # a mapping or (name, value) pairs; held as Params

    def __post_init__(self) -> None:
        if not isinstance(self.params, Params):
            object.__setattr__(self, "params", Params(self.params))

    def check(self) -> None:
        if self.budget is not None and (not isinstance(self.budget, int) or isinstance(self.budget, bool) or self.budget < 1):
            raise ValueError(f"PrunePlan.budget must be a positive integer (T >= 1), got {self.budget!r}")

    def build(self):
        """The strategy object this plan names (validated budget and parameters)."""
        from pruning.registry import get_strategy

        self.check()
        return get_strategy(self.strategy, **self.params)

    # ---------------------------------------------------------------- the one key format
    @property
    def ratio(self) -> float | None:
        """r, where the strategy has one."""
        r = self.params.get("ratio")
        return None if r is None else float(r)

    @property
    def key(self) -> str:
        """Stable key, e.g. "vispruner/T64/r0.75", "keep_all/Tall", "fastv/T64/layer=2"."""
        parts = [self.strategy, "Tall" if self.budget is None else f"T{self.budget}"]
        parts += [f"r{v}" if k == "ratio" else f"{k}={_fmt(v)}" for k, v in self.params.items()]
        return "/".join(parts)

    point_id = key  # the results store's column name for the key

    @property
    def label(self) -> str:
        """Short display form for tables and logs, strategy/T/r ("fastv/T64"); not a key (it drops other
        parameters): results are filed under `key`."""
        parts = [self.strategy, "Tall" if self.budget is None else f"T{self.budget}"]
        if self.ratio is not None:
            parts.append(f"r{self.params['ratio']}")
        return "/".join(parts)

    @property
    def plan(self) -> "PrunePlan":  # a grid point is its plan (sweeps.grid.GridPoint is this class)
        return self

    def run_name(self, model: str, benchmark: str) -> str:
        """MLflow child-run name {model}/{benchmark}/{strategy}/T{budget}-r{ratio} (STYLE.md)."""
        tail = "Tall" if self.budget is None else f"T{self.budget}"
        if self.ratio is not None:
            tail += f"-r{self.ratio}"
        extra = [f"{k}={_fmt(v)}" for k, v in self.params.items() if k != "ratio"]
        return "/".join([model.split("/")[-1], benchmark, self.strategy, tail] + extra)

    # ---------------------------------------------------------------- plain-data form (JSON, Parquet, MLflow)
    def to_dict(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "budget": self.budget, "params": dict(self.params.items())}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PrunePlan":
        return cls(d["strategy"], d.get("budget"), d.get("params") or {})

    @classmethod
    def of(cls, point: "PrunePlan | Mapping[str, Any]") -> "PrunePlan":
        """A plan from a plan or its to_dict() form."""
        return point if isinstance(point, cls) else cls.from_dict(point)

    @classmethod
    def from_entry(cls, entry: "PrunePlan") -> "PrunePlan":
        return entry
