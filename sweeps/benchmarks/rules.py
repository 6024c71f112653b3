"""Scoring rules: which harness's parsing and arithmetic a score follows, and scoring under several at once.

    get_benchmark("gqa")                        # rule="llava": the LLaVA-1.5 eval scripts the VisPruner paper used
    get_benchmark("gqa", rule="lmms_eval")      # lmms-eval 0.7.3's task utilities, exactly
    both = with_rules("gqa", ["llava", "lmms_eval"])   # first rule primary; score()["rules"][rule] holds each

Where the two harnesses agree a benchmark scores the same under both (docs/BENCHMARKS.md lists where
they differ). Every score dict names its rule (`"rule"`); a multi-rule score dict is the primary rule's
dict plus `"rules": {rule: dict}`, so `aggregate` of the primary works on it unchanged.
"""
from __future__ import annotations

import json
import math
from typing import Any, Iterable

from pruning.registry import closest

DEFAULT_RULE = "llava"
RULES = ("llava", "lmms_eval")
ALIASES = {"exact": "lmms_eval", "lmms": "lmms_eval", "lmms-eval": "lmms_eval"}   # POPE's earlier names


def check_rule(rule: str, where: str = "") -> str:
    """The canonical rule name; an unknown one raises ValueError with a did-you-mean."""
    name = ALIASES.get(rule, rule) if isinstance(rule, str) else rule
    if name not in RULES:
        head = f"{where}: " if where else ""
        raise ValueError(f"{head}unknown scoring rule {rule!r}; {closest(str(rule), RULES)}")
    return name


def rule_dict(score: dict[str, Any], rule: str) -> dict[str, Any] | None:
    """One rule's score dict out of a row's `scores` (multi-rule or single-rule); None when it was not scored so."""
    rules = score.get("rules")
    if isinstance(rules, dict):
        return rules.get(rule)
    if score.get("rule", DEFAULT_RULE) == rule:
        return score
    return None


def rules_of(scores: Iterable[dict[str, Any]]) -> list[str]:
    """The rules the rows were scored under, primary first (in the order the first row lists them)."""
    for s in scores:
        if isinstance(s.get("rules"), dict):
            return list(s["rules"])
        if s.get("rule"):
            return [s["rule"]]
    return [DEFAULT_RULE]


def for_rule(table, rule: str):
    """The results rows re-keyed to one rule: `scores` holds that rule's dict and `score` its per-sample score.

    Rows that were not scored under `rule` are dropped (a table of another sweep's rules reads as empty)."""
    import pyarrow as pa

    keep, scores, primary = [], [], []
    for i, raw in enumerate(table["scores"].to_pylist()):
        d = rule_dict(json.loads(raw), rule) if raw else {"error": "no score"}
        if d is None:
            continue
        keep.append(i)
        scores.append(json.dumps(d, default=str))
        v = d.get("score")
        primary.append(float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None)
    t = table.take(pa.array(keep, type=pa.int64()))
    t = t.set_column(t.schema.get_field_index("scores"), "scores", pa.array(scores, type=pa.string()))
    return t.set_column(t.schema.get_field_index("score"), "score", pa.array(primary, type=pa.float64()))


class WithRules:
    """One benchmark scored under several rules; everything but score/aggregate is the primary rule's benchmark."""

    def __init__(self, benches: dict[str, Any]):
        if not benches:
            raise ValueError("WithRules needs at least one rule")
        self.benches = benches
        self.rules = list(benches)
        self.primary = benches[self.rules[0]]

    def __getattr__(self, name: str) -> Any:          # load, prompt, category, name, primary_metric, ...
        primary = self.__dict__.get("primary")
        if primary is None:                            # during unpickling / copying, before __dict__ is set
            raise AttributeError(name)
        return getattr(primary, name)

    @property
    def rule(self) -> str:
        return self.rules[0]

    def score(self, sample, prediction: str | None) -> dict[str, Any]:
        per_rule = {r: b.score(sample, prediction) for r, b in self.benches.items()}
        return {**per_rule[self.rules[0]], "rules": per_rule}

    def aggregate(self, scores: list[dict[str, Any]]) -> dict[str, float]:
        return self.primary.aggregate(scores)

    def aggregate_rule(self, scores: list[dict[str, Any]], rule: str) -> dict[str, float]:
        """`rule`'s aggregate over multi-rule score dicts."""
        picked = [rule_dict(s, rule) for s in scores]
        return self.benches[rule].aggregate([d if d is not None else {"error": "no score"} for d in picked])


def with_rules(name: str, rules: list[str] | tuple[str, ...], **params: Any):
    """The benchmark under `rules` (first primary): itself for one rule, a WithRules for several."""
    from sweeps.benchmarks import get_benchmark

    names = [check_rule(r, f"benchmark {name!r}") for r in rules] or [DEFAULT_RULE]
    if len(set(names)) != len(names):
        raise ValueError(f"benchmark {name!r}: rule listed twice in {list(rules)}")
    params.pop("rule", None)
    benches = {r: get_benchmark(name, rule=r, **params) for r in names}
    return benches[names[0]] if len(names) == 1 else WithRules(benches)
