"""`--set key=value` and `--limit N` (lmms-eval's habits) applied to a sweep config before it is validated.

    python jobs/sweep.py --config sweeps/configs/demo.yaml --set replicas.count=1 --set 'grid[0].budget=[64, 32]' --limit 8

A key is a path into the YAML as written: `mlflow.experiment`, `benchmarks[0].lite` (or `benchmarks.0.lite`).
The value is parsed as YAML, so `8`, `true`, `null`, `[64, 32]` and `{strategy: fastv, budget: [64]}` keep
their types. A path may add a key (validation then rejects an unknown one with a did-you-mean, exactly as
for the file); it may not index past the end of a list. A benchmark written as a bare name becomes a
mapping when a key under it is set. `--limit N` caps every benchmark at its first N samples (its `lite`,
kept when already smaller). The result is validated like the file; the config text stored with the sweep
(and logged to MLflow) is the overridden config, headed by the options that made it.
"""
from __future__ import annotations

import copy
import re
from typing import Any

import yaml

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class OverrideError(ValueError):
    pass


def parse_path(key: str) -> list[str | int]:
    """'benchmarks[0].lite' / 'benchmarks.0.lite' -> ['benchmarks', 0, 'lite']."""
    steps: list[str | int] = []
    pos = 0
    for m in _STEP.finditer(key):
        gap = key[pos:m.start()]
        if gap not in ("", "."):
            raise OverrideError(f"cannot read key path {key!r} near {gap!r}")
        name, index = m.groups()
        steps.append(int(index) if index is not None else int(name) if name.isdigit() else name)
        pos = m.end()
    if not steps or key[pos:] not in ("",) or key.startswith(".") or ".." in key:
        raise OverrideError(f"cannot read key path {key!r}; write e.g. replicas.count or benchmarks[0].lite")
    return steps


def _descend(node: Any, step: str | int, key: str) -> Any:
    if isinstance(step, int):
        if not isinstance(node, list):
            raise OverrideError(f"{key}: [{step}] indexes a list, but this part of the config is {type(node).__name__}")
        if step >= len(node):
            raise OverrideError(f"{key}: index {step} is past the end of a list of {len(node)}")
        return node
    if not isinstance(node, dict):
        raise OverrideError(f"{key}: {step!r} names a key, but this part of the config is a {type(node).__name__}")
    return node


def set_value(data: dict[str, Any], key: str, value: Any) -> None:
    """Set data[path] = value in place, creating mappings along the way."""
    path = parse_path(key)
    node: Any = data
    for i, step in enumerate(path):
        node = _descend(node, step, key)
        last = i == len(path) - 1
        if last:
            node[step] = value
            return
        child = node[step] if isinstance(step, int) or step in node else None
        if child is None:
            child = {}
        elif isinstance(child, str) and path[0] == "benchmarks" and isinstance(path[i + 1], str):
            child = {"name": child}                      # "pope" -> {name: pope, <key>: ...}
        node[step] = child
        node = child


def parse_item(item: str) -> tuple[str, Any]:
    """'key=value' -> (key, YAML-parsed value)."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise OverrideError(f"--set {item!r}: write KEY=VALUE, e.g. --set replicas.count=2")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise OverrideError(f"--set {item!r}: the value is not valid YAML ({str(exc).splitlines()[0]})") from None
    return key.strip(), value


def limit_benchmarks(data: dict[str, Any], limit: int) -> None:
    """Every benchmark keeps at most its first `limit` samples (lmms-eval --limit)."""
    benches = data.get("benchmarks")
    if isinstance(benches, (str, dict)):
        benches = data["benchmarks"] = [benches]
    if not isinstance(benches, list):
        return                                               # validation reports the malformed list
    for i, b in enumerate(benches):
        entry = {"name": b} if isinstance(b, str) else b
        if isinstance(entry, dict):
            lite = entry.get("lite")
            entry["lite"] = limit if not isinstance(lite, int) or isinstance(lite, bool) else min(lite, limit)
            benches[i] = entry


def apply(data: Any, overrides: list[str] | tuple[str, ...] = (), limit: int | None = None,
          command: str = "") -> tuple[Any, str | None]:
    """(overridden copy of data, its YAML text headed by `command`), or (data, None) when nothing changes.

    Raises OverrideError listing every unreadable --set at once."""
    if not overrides and limit is None:
        return data, None
    out = copy.deepcopy(data) if isinstance(data, dict) else {}
    problems = []
    for item in overrides:
        try:
            set_value(out, *parse_item(item))
        except OverrideError as exc:
            problems.append(str(exc))
    if problems:
        raise OverrideError("\n".join(problems))
    if limit is not None:
        limit_benchmarks(out, limit)
    head = f"# {command}\n" if command else ""
    text = head + "# (the config file with the --set / --limit overrides above applied)\n" + yaml.safe_dump(
        out, sort_keys=False, default_flow_style=None)
    return out, text
