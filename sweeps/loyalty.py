"""Loyalty (EffiVLM-Bench, Wang et al. 2025): how often a pruned model gives the answer the unpruned one gives.

    loyalty = |{samples i : answer_point(i) == answer_keep_all(i)}| / |{samples i with a keep_all answer}|

per (model, benchmark, grid point), paired by sample id. Unlike accuracy it is informative when the
model is weak: a pruned model that is wrong *in the same way* as the full model is loyal.

The answer is the one the benchmark's scorer parsed from the reply where it keeps one (POPE / MME
`pred`: yes / no; shapes `answer`: the normalised reply), otherwise the reply itself, case-folded with
whitespace collapsed and trailing punctuation dropped. A sample keep_all failed on has no reference and
is left out; a sample the grid point failed on (error row) counts as not agreeing.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from sweeps.point_metrics import group_rows

PARSED_KEYS = ("pred", "answer")        # the scorer's parsed answer, where the benchmark records one
KEEP_ALL = "keep_all"


@dataclass(frozen=True)
class Loyalty:
    share: float                        # in [0, 1]; NaN when no sample has a keep_all answer
    agree: int
    n: int                              # samples compared (keep_all answered them)


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text.casefold()).strip().rstrip(".!?,;:").strip()


def answer_of(row: dict[str, Any]) -> str | None:
    """The row's answer for comparison; None for an error row (no answer)."""
    if row.get("error"):
        return None
    scores = json.loads(row["scores"]) if row.get("scores") else {}
    if scores.get("error"):
        return None
    for key in PARSED_KEYS:
        if isinstance(scores.get(key), str):
            return normalize(scores[key])
    pred = row.get("prediction")
    return None if pred is None else normalize(pred)


def agreement(rows: list[dict[str, Any]], base_rows: list[dict[str, Any]]) -> Loyalty:
    """Loyalty of one grid point's rows to keep_all's rows (same model and benchmark), paired by sample_id."""
    reference = {r["sample_id"]: answer_of(r) for r in base_rows}
    reference = {sid: a for sid, a in reference.items() if a is not None}
    mine = {r["sample_id"]: answer_of(r) for r in rows}
    compared = [sid for sid in reference if sid in mine]
    agree = sum(1 for sid in compared if mine[sid] is not None and mine[sid] == reference[sid])
    return Loyalty(agree / len(compared) if compared else float("nan"), agree, len(compared))


def loyalty_by_point(table: pa.Table) -> dict[tuple[str, str, str], Loyalty]:
    """{(model, benchmark, point_id): Loyalty} for every point of a (model, benchmark) that has a keep_all point."""
    groups = group_rows(table)
    base = {(k[0], k[1]): rows for k, rows in groups.items() if rows[0]["strategy"] == KEEP_ALL}
    return {k: agreement(rows, base[(k[0], k[1])]) for k, rows in groups.items() if (k[0], k[1]) in base}
