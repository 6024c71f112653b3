"""Sweep config: YAML -> validated, frozen SweepConfig. Every error is collected, named by key path, with a suggestion.

    python jobs/sweep.py --config sweeps/configs/demo.yaml

Validation is static: a model's family, token count N, decoder depth and supported strategies come from
the pruning.models family table, read from the model's config (no weights); strategy parameters from the
strategy dataclasses (torch-only imports); benchmark names from the benchmark table (config_checks.py).
No model is loaded and no Ray actor is started here. The grid is a tuple of PrunePlans, the one grid point.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from pruning.plan import PrunePlan, freeze
from sweeps.config_checks import (BenchmarkSpec, check_benchmarks, check_grid, check_models, int_at_least,
                                  model_aliases, unknown_keys, with_controls)
from sweeps.secrets import literal_secret_errors, redact, redact_text
from sweeps.yaml_load import YamlInputError, read_yaml

GridEntry = PrunePlan   # the grid's entries are PrunePlans (the name the config used before)


@dataclass(frozen=True)
class Replicas:
    count: int = 1
    num_gpus: float | None = None      # per replica; None: 1 when the Ray cluster has GPUs, else 0, decided
                                       # after joining it (cluster/placement.py), never from the driver's CUDA
    max_restarts: int = 2
    max_in_flight: int = 2             # units queued per replica (backpressure)


@dataclass(frozen=True)
class Generation:
    max_new_tokens: int | None = None  # None = each benchmark's own
    batch_size: int = 8


@dataclass(frozen=True)
class MLflowSpec:
    experiment: str = "vissweep"
    tracking_uri: str | None = None    # None = $MLFLOW_TRACKING_URI, else sqlite under the store dir
    stream_every_s: float = 2.0        # at most one streamed step per benchmark this often (0 = every commit)


@dataclass(frozen=True)
class SweepConfig:
    name: str
    models: tuple[str, ...]
    benchmarks: tuple[BenchmarkSpec, ...]
    grid: tuple[PrunePlan, ...]        # expanded, controls included, de-duplicated, in config order
    shard_size: int = 64
    replicas: Replicas = field(default_factory=Replicas)
    generation: Generation = field(default_factory=Generation)
    mlflow: MLflowSpec = field(default_factory=MLflowSpec)
    store: str = "./results"
    controls: bool = True
    retries: int = 2                   # extra attempts for a failed unit before it is quarantined
    judge_workers: int = 4
    unit_timeout_s: float | None = None  # a unit running longer: its replica is restarted, the unit retried
    scoring_rules: tuple[str, ...] = ()   # scoring.rules: rows scored under each, first = `score`; () = each benchmark's own
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    text: str = field(default="", compare=False, hash=False)

    def content_hash(self) -> str:
        """Hash of everything that decides the results (not replicas, store or MLflow): reruns resume on it."""
        content = {
            "models": list(self.models),
            "benchmarks": [dataclasses.asdict(b) for b in self.benchmarks],
            "grid": [[g.strategy, g.budget, [list(p) for p in g.params.items()]] for g in self.grid],
            "shard_size": self.shard_size,
            "max_new_tokens": self.generation.max_new_tokens,
        }
        if self.scoring_rules:                    # no scoring section leaves earlier sweep ids unchanged
            content["scoring_rules"] = list(self.scoring_rules)
        return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:10]

    def default_sweep_id(self) -> str:
        return f"{self.name}-{self.content_hash()}"


class ConfigError(ValueError):
    """All problems of one config, each naming its key path and a fix."""

    def __init__(self, errors: list[str], path: str | None = None):
        self.errors = errors = list(dict.fromkeys(errors))     # each problem once, in the order found
        head = f"{path}: " if path else ""
        if len(errors) == 1:                       # one problem, one line
            super().__init__(f"{head}{errors[0]}")
        else:
            super().__init__(f"{head}{len(errors)} problems in sweep config:\n" + "\n".join(f"  - {e}" for e in errors))


TOP_KEYS = ("name", "models", "benchmarks", "grid", "shard_size", "replicas", "generation", "mlflow",
            "store", "controls", "retries", "judge_workers", "unit_timeout_s", "scoring")
SECTION_KEYS = {
    "replicas": ("count", "num_gpus", "max_restarts", "max_in_flight"),
    "generation": ("max_new_tokens", "batch_size"),
    "mlflow": ("experiment", "tracking_uri", "stream_every_s"),
    "scoring": ("rules",),
}


def parse_config(data: dict[str, Any], text: str = "", default_name: str = "sweep",
                 path: str | None = None) -> SweepConfig:
    """Validate a loaded YAML mapping completely; raise ConfigError listing every problem."""
    errors: list[str] = []
    if not isinstance(data, dict):
        raise ConfigError([f"top level must be a mapping of {', '.join(TOP_KEYS)}, got {type(data).__name__}"], path)
    unknown_keys(data, TOP_KEYS, "", errors)
    errors += literal_secret_errors(data)
    for k in ("models", "benchmarks", "grid"):
        if k not in data:
            errors.append(f"{k}: required key is missing")
    models, specs = check_models(data.get("models"), errors) if "models" in data else ([], {})
    benchmarks = check_benchmarks(data.get("benchmarks"), errors) if "benchmarks" in data else []
    grid = check_grid(data.get("grid"), specs, errors) if "grid" in data else []

    controls = data.get("controls", True)
    if not isinstance(controls, bool):
        errors.append(f"controls: must be true or false, got {controls!r}")
        controls = True
    if controls and grid:
        grid = with_controls(grid, specs)
    else:
        grid = list(dict.fromkeys(grid))

    shard_size = int_at_least(data.get("shard_size", 64), "shard_size", errors, minimum=1) or 64
    retries = int_at_least(data.get("retries", 2), "retries", errors, minimum=0)
    judge_workers = int_at_least(data.get("judge_workers", 4), "judge_workers", errors, minimum=1) or 4
    unit_timeout_s = data.get("unit_timeout_s")
    if unit_timeout_s is not None and (isinstance(unit_timeout_s, bool) or not isinstance(unit_timeout_s, (int, float))
                                       or unit_timeout_s <= 0):
        errors.append(f"unit_timeout_s: must be a number of seconds > 0 (or null for no limit), got {unit_timeout_s!r}")
        unit_timeout_s = None

    sections: dict[str, dict] = {}
    for sec, keys in SECTION_KEYS.items():
        v = data.get(sec, {}) or {}
        if not isinstance(v, dict):
            errors.append(f"{sec}: must be a mapping with keys {', '.join(keys)}, got {v!r}")
            v = {}
        unknown_keys(v, keys, sec, errors)
        sections[sec] = v

    rep = sections["replicas"]
    num_gpus = rep.get("num_gpus")                  # None: decided on the cluster (cluster/placement.py)
    if num_gpus is not None and (isinstance(num_gpus, bool) or not isinstance(num_gpus, (int, float)) or num_gpus < 0):
        errors.append(f"replicas.num_gpus: must be a number >= 0 (1 = one GPU per replica), or left out to "
                      f"take one GPU per replica when the cluster has GPUs; got {num_gpus!r}")
        num_gpus = None
    replicas = Replicas(
        count=int_at_least(rep.get("count", 1), "replicas.count", errors, minimum=1) or 1,
        num_gpus=None if num_gpus is None else float(num_gpus),
        max_restarts=int_at_least(rep.get("max_restarts", 2), "replicas.max_restarts", errors, minimum=0) or 0,
        max_in_flight=int_at_least(rep.get("max_in_flight", 2), "replicas.max_in_flight", errors, minimum=1) or 2,
    )
    gen = sections["generation"]
    mnt = gen.get("max_new_tokens")
    if mnt is not None:
        mnt = int_at_least(mnt, "generation.max_new_tokens", errors, minimum=1)
    generation = Generation(max_new_tokens=mnt,
                            batch_size=int_at_least(gen.get("batch_size", 8), "generation.batch_size", errors, minimum=1) or 8)
    ml = sections["mlflow"]
    for k in ("experiment", "tracking_uri"):
        if k in ml and ml[k] is not None and not isinstance(ml[k], str):
            errors.append(f"mlflow.{k}: must be a string, got {ml[k]!r}")
    every = ml.get("stream_every_s", 2.0)
    if isinstance(every, bool) or not isinstance(every, (int, float)) or every < 0:
        errors.append(f"mlflow.stream_every_s: must be a number of seconds >= 0, got {every!r}")
        every = 2.0
    mlflow_spec = MLflowSpec(experiment=str(ml.get("experiment") or "vissweep"), tracking_uri=ml.get("tracking_uri"),
                             stream_every_s=float(every))

    scoring_rules = _check_rules(sections["scoring"], benchmarks, errors)

    store = data.get("store", "./results")
    if not isinstance(store, str) or not store:
        errors.append(f"store: must be a local path or a pyarrow filesystem URI (file://, s3://, gs://), got {store!r}")
    name = data.get("name", default_name)
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][\w.-]*", name):
        errors.append(f"name: must be a simple identifier (letters, digits, '_', '-', '.'), got {name!r}")
    if errors:
        raise ConfigError(errors, path)
    return SweepConfig(name=name, models=tuple(models), benchmarks=tuple(benchmarks), grid=tuple(grid),
                       shard_size=shard_size, replicas=replicas, generation=generation, mlflow=mlflow_spec,
                       store=store, controls=controls, retries=retries, judge_workers=judge_workers,
                       unit_timeout_s=None if unit_timeout_s is None else float(unit_timeout_s),
                       scoring_rules=scoring_rules, raw=redact(data), text=redact_text(text, data))


def _check_rules(scoring: dict, benchmarks: list[BenchmarkSpec], errors: list[str]) -> tuple[str, ...]:
    """scoring.rules: names from sweeps.benchmarks.rules (did-you-mean), no repeats; not also per benchmark."""
    from sweeps.benchmarks.rules import DEFAULT_RULE, check_rule

    if "rules" not in scoring:
        return ()
    raw = scoring["rules"]
    raw = [raw] if isinstance(raw, str) else raw
    if not isinstance(raw, list) or not raw:
        errors.append(f"scoring.rules: must be a non-empty list of rule names (llava, lmms_eval), got {raw!r}")
        return (DEFAULT_RULE,)
    rules: list[str] = []
    for i, r in enumerate(raw):
        try:
            name = check_rule(r)
        except ValueError as exc:
            errors.append(f"scoring.rules[{i}]: {exc}")
            continue
        if name in rules:
            errors.append(f"scoring.rules[{i}]: rule {name!r} is listed twice")
            continue
        rules.append(name)
    for i, b in enumerate(benchmarks):
        if "rule" in dict(b.params):
            errors.append(f"benchmarks[{i}].params.rule: the sweep sets scoring.rules; drop the benchmark's own rule")
    return tuple(rules) or (DEFAULT_RULE,)


def load_config(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = (), limit: int | None = None,
                command: str = "", **kw) -> SweepConfig:
    """Read and validate a sweep YAML file (default name: the file's stem); duplicated keys are errors.

    `overrides` ("key=value", jobs/sweep.py --set) and `limit` (--limit) apply before validation
    (sweeps/overrides.py); the config's text is then the overridden YAML, headed by `command`."""
    try:
        text, data = read_yaml(path)
    except YamlInputError as exc:
        raise ConfigError(exc.errors, str(path)) from None
    if overrides or limit is not None:
        from sweeps.overrides import OverrideError, apply

        try:
            data, text = apply(data, overrides, limit, command)
        except OverrideError as exc:
            raise ConfigError(str(exc).splitlines(), str(path)) from None
    return parse_config(data, text=text, default_name=Path(path).stem, path=str(path), **kw)


__all__ = ["BenchmarkSpec", "ConfigError", "Generation", "GridEntry", "MLflowSpec", "Replicas", "SweepConfig",
           "freeze", "load_config", "model_aliases", "parse_config", "with_controls"]
