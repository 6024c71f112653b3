"""Sweep config checks: models (through the pruning.models family table), benchmarks and the grid.

Every problem is appended to `errors` with its key path and a suggestion; nothing is loaded or started.
A model's family and spec (N, decoder depth) come from its config, read without weights; the grid expands
into PrunePlans, the one grid-point type.
"""
from __future__ import annotations

import dataclasses
import difflib
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pruning.models.families import FAMILIES, ModelSpec, family, model_config
from pruning.models.model_options import check_options, split_options, with_options
from pruning.plan import PrunePlan, freeze
from pruning.registry import STRATEGIES, closest, strategy_class


@dataclass(frozen=True)
class BenchmarkSpec:
    name: str
    source: str | None = None          # hub dataset id or local Parquet/JSONL directory; None = benchmark default
    split: str | None = None
    lite: int | None = None            # first n samples only (nightly "lite" sweeps, demos)
    judge: dict[str, Any] | None = None  # sweeps.judge.Judge(**judge) for judged benchmarks (MM-Vet, video QA)
    params: tuple[tuple[str, Any], ...] = ()   # benchmark constructor arguments, e.g. shapes {n: 32}


def did_you_mean(key: str, valid) -> str:
    near = difflib.get_close_matches(str(key), list(valid), n=2, cutoff=0.5)
    return f"did you mean {' or '.join(repr(n) for n in near)}?" if near else "valid keys: " + ", ".join(valid)


def unknown_keys(d: dict, valid, where: str, errors: list[str]) -> None:
    for k in d:
        if k not in valid:
            errors.append(f"{where}{'.' if where else ''}{k}: unknown key; {did_you_mean(k, valid)}")


def int_at_least(value, where: str, errors: list[str], minimum: int = 0) -> int | None:
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


def model_aliases() -> tuple[str, ...]:
    """Aliases load_vlm knows (static tables: importing them loads no model)."""
    from pruning.models import HUB_ALIASES, MODELS

    return tuple(MODELS) + tuple(HUB_ALIASES)


BENCH_KEYS = ("name", "source", "split", "lite", "judge", "params")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def check_models(raw, errors: list[str]) -> tuple[list[str], dict[str, ModelSpec]]:
    """Model names, and the spec of each one whose config could be read (pruning.models family table)."""
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        errors.append("models: must be a non-empty list of model names (e.g. [tiny-llava] or [llava-hf/llava-1.5-7b-hf])")
        return [], {}
    aliases = model_aliases()
    models, specs = [], {}
    for i, m in enumerate(raw):
        where = f"models[{i}]"
        if isinstance(m, dict):  # {name: ..., <option>: value}: the family's model options (model_options.py)
            if not isinstance(m.get("name"), str):
                errors.append(f"{where}: a model mapping needs a 'name' string, got {m!r}")
                continue
            bad = {k: v for k, v in m.items() if k != "name" and (isinstance(v, bool) or not isinstance(v, int))}
            if bad:
                errors += [f"{where}.{k}: model options are integers, got {v!r}" for k, v in bad.items()]
                continue
            m = with_options(m["name"], {k: v for k, v in m.items() if k != "name"})
        if not isinstance(m, str):
            errors.append(f"{where}: must be a string or a {{name: ..., <option>: value}} mapping, got {m!r}")
            continue
        try:
            m_base, options = split_options(m)
        except ValueError as exc:
            errors.append(f"{where}: {exc}")
            continue
        m, full = m_base, m
        local = m.startswith(("/", "./", "../", "~")) or Path(m).expanduser().exists()
        if m in aliases or (local and Path(m).expanduser().exists()):
            models.append(full)  # the name travels with its options (load_vlm applies them)
        elif local:
            errors.append(f"{where}: local model path {m!r} does not exist")
            continue
        elif HUB_ID.match(m):
            models.append(full)
        else:
            errors.append(f"{where}: unknown model {m!r}; use an alias ({closest(m, aliases)}), "
                          "an existing local path, or a hub id like 'llava-hf/llava-1.5-7b-hf'")
            continue
        try:  # the family and its spec come from the model's config (no weights), never from its name
            config = model_config(m)
            fam = family(config.model_type, m)
            spec = fam.spec(config)
        except (OSError, ValueError) as exc:
            errors.append(f"{where}: {exc}")
            continue
        errors += [f"{where}: {p}" for p in check_options(full, options, fam.processor_options, fam.name)]
        specs[full] = spec
        if fam.adapter is None:
            ready = ", ".join(f.name for f in FAMILIES.values() if f.adapter)
            errors.append(f"{where}: {m!r} is a {fam.name} model, which has no adapter in pruning.models yet "
                          f"(supported families: {ready}); use e.g. llava-hf/llava-1.5-7b-hf")
    return models, specs


def check_benchmarks(raw, errors: list[str]) -> list[BenchmarkSpec]:
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
        unknown_keys(entry, BENCH_KEYS, where, errors)
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
        if lite is not None and int_at_least(lite, f"{where}.lite", errors, minimum=1) is None:
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
        elif ok and table is not None and name != "shapes" and not _hub_ids(name, table):
            errors.append(f"{where}.source: {name} has no hub release, so it needs source: a local directory "
                          "holding its release files (layouts: docs/BENCHMARKS.md)")
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


def _as_list(v) -> list:
    return list(v) if isinstance(v, (list, tuple)) else [v]


def check_grid(raw, specs: dict[str, ModelSpec], errors: list[str]) -> list[PrunePlan]:
    """The expanded grid: one PrunePlan per (strategy, budget T, parameter combination), checked against every
    model's spec (supported strategies, N, decoder depth)."""
    if not isinstance(raw, list) or not raw:
        errors.append("grid: must be a non-empty list of {strategy: NAME, budget: [...], ratio: [...], ...} entries")
        return []
    entries: list[PrunePlan] = []
    seen: dict[PrunePlan, str] = {}                 # grid point -> the entry that first made it
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
        for m, spec in specs.items():
            fam = FAMILIES[spec.model_type]
            if name not in fam.strategies:
                why = f" ({fam.unsupported[name]})" if name in fam.unsupported else ""
                errors.append(f"{where}.strategy: model {m!r} ({fam.name}) cannot run {name!r}{why}; "
                              f"it supports {', '.join(sorted(fam.strategies))}")
        params = {k: v for k, v in g.items() if k not in ("strategy", "budget")}
        bad = False
        for k in params:
            if k not in fields:
                hint = did_you_mean(k, sorted(fields)) if fields else f"{name!r} takes no parameters"
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
                for m, spec in specs.items():
                    if spec.tokens is not None and b > spec.tokens:
                        per = "" if spec.per == "image" else f" per {spec.per}"
                        errors.append(f"{where}.budget: T={b} exceeds the {spec.tokens} visual tokens{per} of "
                                      f"{m!r}; use T <= {spec.tokens} (or keep_all)")
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
            if not _fits_decoders(strategy, label, specs, where, errors, p):
                continue
            entry = PrunePlan(name, b, p)
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


def _fits_decoders(strategy, label: str, specs: dict[str, ModelSpec], where: str, errors: list[str],
                   params: dict) -> bool:
    """Decoder-stage strategies check their prune layers (FastV's K, SparseVLM's layers) against each model's depth."""
    ok = True
    for m, spec in specs.items():
        depth = spec.depth
        if not hasattr(strategy, "check_depth"):
            continue
        try:
            strategy.check_depth(depth)
        except ValueError as exc:
            errors.append(f"{_param_key(where, params, exc)}: {label} cannot run on {m!r} ({depth} decoder layers): "
                          f"{exc}")
            ok = False
    return ok


def with_controls(grid: list[PrunePlan], specs: dict[str, ModelSpec] | None = None) -> list[PrunePlan]:
    """keep_all once, then random and spatial at every budget the grid uses (skipping what is already there,
    and a control some model's family cannot run: spatial for Qwen2.5-VL, whose grid differs per image)."""
    budgets = sorted({g.budget for g in grid if g.budget is not None}, reverse=True)
    runs = lambda s: all(s in FAMILIES[sp.model_type].strategies for sp in (specs or {}).values())  # noqa: E731
    extra = [PrunePlan("keep_all", None)] + [PrunePlan(s, b) for b in budgets for s in ("random", "spatial") if runs(s)]
    out: list[PrunePlan] = []
    for g in extra + grid:
        if g not in out:
            out.append(g)
    return out


