"""Sweep config: YAML -> validated, frozen SweepConfig. Every error is collected, named by key path, with a suggestion.

    python jobs/sweep.py --config sweeps/configs/demo.yaml

Validation is static: model token counts and supported strategies come from MODEL_FAMILIES below,
strategy parameters from the strategy dataclasses (torch-only imports), benchmark names from the
benchmark table. No model is loaded and no Ray actor is started here.
"""
from __future__ import annotations

import dataclasses
import difflib
import hashlib
import itertools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pruning.registry import STRATEGIES, closest, strategy_class
from sweeps.secrets import literal_secret_errors, redact, redact_text
from sweeps.yaml_load import YamlInputError, read_yaml

ENCODER_STRATEGIES = frozenset({"keep_all", "random", "spatial", "vispruner", "visionzip", "divprune", "prumerge_plus"})
ALL_STRATEGIES = frozenset(STRATEGIES)


@dataclass(frozen=True)
class ModelFamily:
    """What the config needs to know about a model family without loading it."""

    name: str
    patterns: tuple[str, ...]           # regexes over the model name (hub id, alias or local dir name)
    num_visual_tokens: int | None       # N: visual tokens per image (per crop for anyres); None = varies
    strategies: frozenset[str]          # registry names this family's adapter can run
    adapter: bool = True                # False: recognised, but pruning.models has no adapter for it yet
    depths: tuple[tuple[str, int], ...] = ()   # (name regex, LLM decoder layers), for decoder-stage layer checks

    def depth(self, model: str) -> int | None:
        return next((n for pattern, n in self.depths if re.search(pattern, model, re.IGNORECASE)), None)


MODEL_FAMILIES: tuple[ModelFamily, ...] = (
    # CLIP-L/14-336: 24 x 24 = 576 patches. tiny-llava keeps that geometry with narrow widths (8 decoder layers);
    # tiny-llava-shapes (trained, jobs/train_tiny.py) has 2 decoder layers.
    ModelFamily("llava15", (r"^tiny-llava$", r"^tiny-llava-shapes$", r"7b-shaped$", r"llava-1\.5", r"llava-v1\.5"), 576,
                ALL_STRATEGIES, depths=((r"^tiny-llava$", 8), (r"^tiny-llava-shapes$", 2), (r"7b", 32), (r"13b", 40))),
    # Recognised so that a config naming them fails here, before any actor starts, rather than at load time.
    ModelFamily("llava_next", (r"llava-v1\.6", r"llava-next"), 576, ALL_STRATEGIES, adapter=False),        # T per crop
    ModelFamily("video_llava", (r"video-llava",), 2048, ALL_STRATEGIES - {"prumerge_plus"}, adapter=False),  # 8 x 256
    ModelFamily("qwen2_5_vl", (r"qwen2\.5-vl",), None,
                frozenset({"keep_all", "random", "vispruner", "divprune", "fastv"}), adapter=False),
)

def _model_aliases() -> tuple[str, ...]:
    """Aliases load_vlm knows (static tables: importing them loads no model)."""
    try:
        from pruning.models import HUB_ALIASES, MODELS
    except ImportError:
        return ("tiny-llava",)
    return tuple(MODELS) + tuple(HUB_ALIASES)


MODEL_ALIASES = _model_aliases()
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def model_family(model: str) -> ModelFamily | None:
    name = Path(model).name if os.path.sep in model and Path(model).exists() else model
    for fam in MODEL_FAMILIES:
        if any(re.search(p, name, re.IGNORECASE) for p in fam.patterns):
            return fam
    return None


@dataclass(frozen=True)
class BenchmarkSpec:
    name: str
    source: str | None = None          # hub dataset id or local Parquet/JSONL directory; None = benchmark default
    split: str | None = None
    lite: int | None = None            # first n samples only (nightly "lite" sweeps, demos)
    judge: dict[str, Any] | None = None  # sweeps.judge.Judge(**judge) for judged benchmarks (MM-Vet, video QA)
    params: tuple[tuple[str, Any], ...] = ()   # benchmark constructor arguments, e.g. shapes {n: 32}


@dataclass(frozen=True)
class GridEntry:
    """One expanded grid point before it gets an id: a strategy, its budget T and its parameters."""

    strategy: str
    budget: int | None                 # T; None for keep_all
    params: tuple[tuple[str, Any], ...] = ()   # sorted (name, value); ratio r lives here

    @property
    def params_dict(self) -> dict[str, Any]:
        return dict(self.params)


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
    grid: tuple[GridEntry, ...]        # expanded, controls included, de-duplicated, in config order
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
            "grid": [[g.strategy, g.budget, [list(p) for p in g.params]] for g in self.grid],
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
BENCH_KEYS = ("name", "source", "split", "lite", "judge", "params")


def _did_you_mean(key: str, valid) -> str:
    near = difflib.get_close_matches(str(key), list(valid), n=2, cutoff=0.5)
    return f"did you mean {' or '.join(repr(n) for n in near)}?" if near else "valid keys: " + ", ".join(valid)


def _unknown_keys(d: dict, valid, where: str, errors: list[str]) -> None:
    for k in d:
        if k not in valid:
            errors.append(f"{where}{'.' if where else ''}{k}: unknown key; {_did_you_mean(k, valid)}")


def _int(value, where: str, errors: list[str], minimum: int = 0) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        errors.append(f"{where}: must be an integer >= {minimum}, got {value!r}")
        return None
    return value


def _benchmark_table() -> dict[str, Any] | None:
    try:
        from sweeps.benchmarks import BENCHMARKS
    except ImportError:
        return None
    return BENCHMARKS


def _check_models(raw, errors: list[str]) -> list[str]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        errors.append("models: must be a non-empty list of model names (e.g. [tiny-llava] or [llava-hf/llava-1.5-7b-hf])")
        return []
    models = []
    for i, m in enumerate(raw):
        where = f"models[{i}]"
        if not isinstance(m, str):
            errors.append(f"{where}: must be a string, got {m!r}")
            continue
        local = m.startswith(("/", "./", "../", "~")) or Path(m).expanduser().exists()
        if m in MODEL_ALIASES or (local and Path(m).expanduser().exists()):
            models.append(m)
        elif local:
            errors.append(f"{where}: local model path {m!r} does not exist")
            continue
        elif HUB_ID.match(m):
            models.append(m)
        else:
            errors.append(f"{where}: unknown model {m!r}; use an alias ({closest(m, MODEL_ALIASES)}), "
                          "an existing local path, or a hub id like 'llava-hf/llava-1.5-7b-hf'")
            continue
        fam = model_family(m)
        if fam is not None and not fam.adapter:
            ready = ", ".join(f.name for f in MODEL_FAMILIES if f.adapter)
            errors.append(f"{where}: {m!r} is a {fam.name} model, which has no adapter in pruning.models yet "
                          f"(supported families: {ready}); use e.g. llava-hf/llava-1.5-7b-hf")
    return models


def _check_benchmarks(raw, errors: list[str]) -> list[BenchmarkSpec]:
    if isinstance(raw, (str, dict)):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        errors.append("benchmarks: must be a non-empty list of benchmark names or {name, source, split, lite} mappings")
        return []
    table = _benchmark_table()
    if table is None:
        errors.append("benchmarks: the benchmark table (sweeps.benchmarks.BENCHMARKS) is not importable")
    specs = []
    for i, b in enumerate(raw):
        where = f"benchmarks[{i}]"
        entry = {"name": b} if isinstance(b, str) else b
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            errors.append(f"{where}: must be a benchmark name or a mapping with a 'name' key, got {b!r}")
            continue
        _unknown_keys(entry, BENCH_KEYS, where, errors)
        name = entry["name"]
        ok = True
        if any(sp.name == name for sp in specs):   # rows, runs and units are keyed by benchmark name
            errors.append(f"{where}.name: benchmark {name!r} is listed twice; a sweep holds each benchmark once "
                          "(run another split or source as its own sweep)")
            ok = False
        if table is not None and name not in table:
            errors.append(f"{where}.name: unknown benchmark {name!r}; {closest(name, list(table))}")
            ok = False
        lite = entry.get("lite")
        if lite is not None and _int(lite, f"{where}.lite", errors, minimum=1) is None:
            ok = False
        source = entry.get("source")
        if source is not None:
            if not isinstance(source, str):
                errors.append(f"{where}.source: must be a hub dataset id or a local directory, got {source!r}")
                ok = False
            elif not _is_hub_source(name, source, table) and not Path(source).expanduser().exists():
                errors.append(f"{where}.source: local data path {source!r} does not exist "
                              f"(or name one of the benchmark's hub ids: {_hub_ids(name, table) or 'none'})")
                ok = False
        judge = entry.get("judge")
        if judge is not None and not isinstance(judge, dict):
            errors.append(f"{where}.judge: must be a mapping (model, base_url, api_key_env, ...), got a "
                          f"{type(judge).__name__}")
            ok = False
        elif judge is not None:
            from sweeps.judge_config import judge_errors

            problems = judge_errors(judge, f"{where}.judge")
            errors += problems
            ok = ok and not problems
        params = entry.get("params") or {}
        if not isinstance(params, dict):
            errors.append(f"{where}.params: must be a mapping of benchmark arguments, got {params!r}")
            ok = False
        elif ok and table is not None:
            from sweeps.benchmarks import get_benchmark

            try:  # constructing a benchmark reads no data
                get_benchmark(name, **params)
            except (TypeError, ValueError) as exc:
                errors.append(f"{where}.params: {exc}")
                ok = False
        if ok:
            specs.append(BenchmarkSpec(name=name, source=source, split=entry.get("split"), lite=lite, judge=judge,
                                       params=tuple(sorted(params.items()))))
    return specs


def _hub_ids(name: str, table) -> tuple[str, ...]:
    if table is None or name not in table:
        return ()
    from sweeps.benchmarks import get_benchmark

    try:
        return tuple(getattr(get_benchmark(name), "hub_ids", ()))
    except Exception:  # a broken benchmark module is reported when it is used, not here
        return ()


def _is_hub_source(name: str, source: str, table) -> bool:
    if source == "generate" and name == "shapes":      # the synthetic benchmark draws its own images
        return True
    if source.startswith(("/", "./", "../", "~", "file://")):
        return False
    ids = _hub_ids(name, table)
    return any(source == h or source.startswith(h + ":") for h in ids)


def _strategy_fields(name: str) -> tuple[set[str] | None, str | None]:
    try:
        cls = strategy_class(name)
    except ImportError as exc:
        return None, f"strategy {name!r} is registered but its module does not import ({exc})"
    if not dataclasses.is_dataclass(cls):
        return set(), None
    return {f.name for f in dataclasses.fields(cls)}, None


def freeze(v: Any) -> Any:
    """YAML lists inside one parameter value (e.g. SparseVLM layers: [[1, 3, 5]]) -> tuples, so grid points hash."""
    return tuple(freeze(x) for x in v) if isinstance(v, (list, tuple)) else v


def _as_list(v) -> list:
    return list(v) if isinstance(v, (list, tuple)) else [v]


def _check_grid(raw, models: list[str], errors: list[str]) -> list[GridEntry]:
    if not isinstance(raw, list) or not raw:
        errors.append("grid: must be a non-empty list of {strategy: NAME, budget: [...], ratio: [...], ...} entries")
        return []
    families = {m: model_family(m) for m in models}
    entries: list[GridEntry] = []
    seen: dict[GridEntry, str] = {}                 # grid point -> the entry that first made it
    for i, g in enumerate(raw):
        where = f"grid[{i}]"
        if isinstance(g, str):
            g = {"strategy": g}
        if not isinstance(g, dict) or "strategy" not in g:
            errors.append(f"{where}: must be a mapping with a 'strategy' key, got {g!r}")
            continue
        name = g["strategy"]
        if not isinstance(name, str) or name not in STRATEGIES:
            errors.append(f"{where}.strategy: unknown strategy {name!r}; {closest(str(name), list(STRATEGIES))}")
            continue
        fields, problem = _strategy_fields(name)
        if problem:
            errors.append(f"{where}.strategy: {problem}")
            continue
        for m, fam in families.items():
            if fam is not None and name not in fam.strategies:
                errors.append(f"{where}.strategy: model {m!r} ({fam.name}) cannot run {name!r}; "
                              f"it supports {', '.join(sorted(fam.strategies))}")
        params = {k: v for k, v in g.items() if k not in ("strategy", "budget")}
        bad = False
        for k in params:
            if k not in fields:
                hint = _did_you_mean(k, sorted(fields)) if fields else f"{name!r} takes no parameters"
                errors.append(f"{where}.{k}: strategy {name!r} has no parameter {k!r}; {hint}")
                bad = True
        if "ratio" in params and "ratio" in fields:
            for j, r in enumerate(_as_list(params["ratio"])):
                if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0.0 <= r <= 1.0:
                    errors.append(f"{where}.ratio: r must be in [0, 1], got {r!r}"
                                  + (f" (item {j})" if isinstance(params["ratio"], list) else ""))
                    bad = True
        budgets: list[int | None] = [None]
        if name == "keep_all":
            if g.get("budget") is not None:
                errors.append(f"{where}.budget: keep_all keeps every token; remove 'budget'")
                bad = True
        elif "budget" not in g:
            errors.append(f"{where}.budget: {name!r} needs a token budget T, e.g. budget: [128, 64, 32]")
            bad = True
        else:
            budgets = _as_list(g["budget"])
            for b in budgets:
                if isinstance(b, bool) or not isinstance(b, int) or b < 1:
                    errors.append(f"{where}.budget: T must be an integer >= 1, got {b!r}")
                    bad = True
                    continue
                for m, fam in families.items():
                    if fam is not None and fam.num_visual_tokens is not None and b > fam.num_visual_tokens:
                        errors.append(f"{where}.budget: T={b} exceeds the {fam.num_visual_tokens} visual tokens of "
                                      f"{m!r}; use T <= {fam.num_visual_tokens} (or keep_all)")
                        bad = True
        if bad:
            continue
        keys = sorted(params)
        for b, combo in itertools.product(budgets, itertools.product(*[_as_list(params[k]) for k in keys])):
            p = {k: freeze(v) for k, v in zip(keys, combo)}   # a nested YAML list is one tuple value
            label = f"{name}({', '.join(f'{k}={v!r}' for k, v in p.items())})"
            try:  # the strategy's own parameter checks (e.g. VisionZip's dominant/contextual split)
                strategy = strategy_class(name)(**p)
                if b is not None and hasattr(strategy, "keep_counts"):
                    strategy.keep_counts(b)                  # SparseVLM: a released schedule exists for T
            except (TypeError, ValueError) as exc:
                errors.append(f"{_param_key(where, p, exc)}: {label} is invalid: {exc}")
                continue
            if not _fits_decoders(strategy, label, families, where, errors, p):
                continue
            entry = GridEntry(name, b, tuple(sorted(p.items())))
            if entry in seen:
                t = "" if b is None else f" at budget T={b}"
                errors.append(f"{where}: grid point {label}{t} duplicates the one from {seen[entry]}; remove one")
                continue
            seen[entry] = where
            entries.append(entry)
    return entries


def _param_key(where: str, params: dict, exc: BaseException) -> str:
    """`grid[1].layer` when the strategy's message names exactly one of the entry's parameters, else `grid[1]`."""
    named = [k for k in params if re.search(rf"\b{re.escape(k)}\b", str(exc))]
    return f"{where}.{named[0]}" if len(named) == 1 else where


def _fits_decoders(strategy, label: str, families: dict, where: str, errors: list[str], params: dict) -> bool:
    """Decoder-stage strategies check their prune layers (FastV's K, SparseVLM's layers) against each model's depth."""
    ok = True
    for m, fam in families.items():
        depth = fam.depth(m) if fam is not None else None
        if depth is None or not hasattr(strategy, "check_depth"):
            continue
        try:
            strategy.check_depth(depth)
        except ValueError as exc:
            errors.append(f"{_param_key(where, params, exc)}: {label} cannot run on {m!r} ({depth} decoder layers): {exc}")
            ok = False
    return ok


def with_controls(grid: list[GridEntry]) -> list[GridEntry]:
    """keep_all once, then random and spatial at every budget the grid uses (skipping what is already there)."""
    budgets = sorted({g.budget for g in grid if g.budget is not None}, reverse=True)
    extra = [GridEntry("keep_all", None)] + [GridEntry(s, b) for b in budgets for s in ("random", "spatial")]
    out: list[GridEntry] = []
    for g in extra + grid:
        if g not in out:
            out.append(g)
    return out


def parse_config(data: dict[str, Any], text: str = "", default_name: str = "sweep",
                 path: str | None = None) -> SweepConfig:
    """Validate a loaded YAML mapping completely; raise ConfigError listing every problem."""
    errors: list[str] = []
    if not isinstance(data, dict):
        raise ConfigError([f"top level must be a mapping of {', '.join(TOP_KEYS)}, got {type(data).__name__}"], path)
    _unknown_keys(data, TOP_KEYS, "", errors)
    errors += literal_secret_errors(data)
    for k in ("models", "benchmarks", "grid"):
        if k not in data:
            errors.append(f"{k}: required key is missing")
    models = _check_models(data.get("models"), errors) if "models" in data else []
    benchmarks = _check_benchmarks(data.get("benchmarks"), errors) if "benchmarks" in data else []
    grid = _check_grid(data.get("grid"), models, errors) if "grid" in data else []

    controls = data.get("controls", True)
    if not isinstance(controls, bool):
        errors.append(f"controls: must be true or false, got {controls!r}")
        controls = True
    if controls and grid:
        grid = with_controls(grid)
    else:
        grid = list(dict.fromkeys(grid))

    shard_size = _int(data.get("shard_size", 64), "shard_size", errors, minimum=1) or 64
    retries = _int(data.get("retries", 2), "retries", errors, minimum=0)
    judge_workers = _int(data.get("judge_workers", 4), "judge_workers", errors, minimum=1) or 4
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
        _unknown_keys(v, keys, sec, errors)
        sections[sec] = v

    rep = sections["replicas"]
    num_gpus = rep.get("num_gpus")                  # None: decided on the cluster (cluster/placement.py)
    if num_gpus is not None and (isinstance(num_gpus, bool) or not isinstance(num_gpus, (int, float)) or num_gpus < 0):
        errors.append(f"replicas.num_gpus: must be a number >= 0 (1 = one GPU per replica), or left out to "
                      f"take one GPU per replica when the cluster has GPUs; got {num_gpus!r}")
        num_gpus = None
    replicas = Replicas(
        count=_int(rep.get("count", 1), "replicas.count", errors, minimum=1) or 1,
        num_gpus=None if num_gpus is None else float(num_gpus),
        max_restarts=_int(rep.get("max_restarts", 2), "replicas.max_restarts", errors, minimum=0) or 0,
        max_in_flight=_int(rep.get("max_in_flight", 2), "replicas.max_in_flight", errors, minimum=1) or 2,
    )
    gen = sections["generation"]
    mnt = gen.get("max_new_tokens")
    if mnt is not None:
        mnt = _int(mnt, "generation.max_new_tokens", errors, minimum=1)
    generation = Generation(max_new_tokens=mnt,
                            batch_size=_int(gen.get("batch_size", 8), "generation.batch_size", errors, minimum=1) or 8)
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
