"""Nightly regression check: compare a run's per-sample rows against a baseline, point by point.

A point regresses on accuracy only if the drop exceeds its threshold AND a paired per-sample test
says it is not noise: exact McNemar on per-sample correctness when scores are binary, a paired
bootstrap otherwise. FLOPs are deterministic, so any increase beyond a tiny tolerance regresses;
latency gets a generous ratio plus an absolute floor. A baseline point whose strategy was re-configured
in the pinned config (for one strategy, one point gone and one new) is compared with its replacement, so a
weakened config cannot pass as "new". Driver-side only: no model, no Ray.
Run by jobs/nightly.py; see docs/DEPLOY.md.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sweeps.point_metrics import group_rows, relative_pct, summarize_rows
from sweeps.rows import ROW_SCHEMA


# ---------------------------------------------------------------------------------------- tests


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: discordant pairs b (base right, new wrong), c (the reverse).

    Under H0 each discordant pair is a fair coin, so min(b, c) ~ Binomial(b + c, 1/2);
    p = min(1, 2 * P[X <= min(b, c)]).
    """
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2.0 * tail)


@dataclass(frozen=True)
class BootstrapResult:
    delta: float        # mean(new - base)
    p_value: float      # two-sided, recentred bootstrap (Efron & Tibshirani ch. 16)
    ci_low: float       # percentile interval of mean(new - base)
    ci_high: float


def paired_bootstrap(base, new, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> BootstrapResult:
    """Paired bootstrap of the mean difference: resample samples (both runs together), n_boot times.

    p-value: the share of recentred bootstrap means |m* - d| at least as far from 0 as the observed |d|
    (the bootstrap distribution shifted to satisfy H0: mean difference 0).
    """
    d = np.asarray(new, dtype=np.float64) - np.asarray(base, dtype=np.float64)   # (n,)
    n = d.shape[0]
    if n == 0:
        return BootstrapResult(0.0, 1.0, 0.0, 0.0)
    obs = float(d.mean())
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    chunk = max(1, 2_000_000 // n)            # bound memory at ~16 MB of indices per chunk
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))      # (b, n)
        means[start:stop] = d[idx].mean(axis=1)
    if np.allclose(d, d[0]):                                    # no spread: the difference is exact
        p = 1.0 if obs == 0 else 0.0
    else:
        p = float(np.mean(np.abs(means - obs) >= abs(obs) - 1e-12))
    alpha = 1.0 - level
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return BootstrapResult(obs, p, float(lo), float(hi))


def is_binary(*arrays) -> bool:
    return all(np.isin(np.asarray(a, dtype=np.float64), (0.0, 1.0)).all() for a in arrays)


def paired_test(base, new, n_boot: int = 2000, seed: int = 0) -> tuple[str, float]:
    """(test name, p-value) for per-sample scores of the same samples in two runs."""
    base = np.asarray(base, dtype=np.float64)
    new = np.asarray(new, dtype=np.float64)
    if is_binary(base, new):
        b = int(((base == 1) & (new == 0)).sum())
        c = int(((base == 0) & (new == 1)).sum())
        return "mcnemar_exact", mcnemar_exact(b, c)
    return "paired_bootstrap", paired_bootstrap(base, new, n_boot, seed).p_value


# ----------------------------------------------------------------------------------- thresholds


@dataclass(frozen=True)
class Thresholds:
    acc_drop: float = 0.02              # max drop of the primary metric, in its own units (0.02 = 2 points on [0, 1])
    # MME's primary metric is the perception sum (max 2000): 30 points there ~ 1.5%
    acc_drop_by_benchmark: dict[str, float] = field(default_factory=lambda: {"mme": 30.0})
    rel_drop_pct: float = 2.0           # max drop of Rel.% of keep_all, percentage points
    alpha: float = 0.05                 # significance level of the paired tests
    flops_tol: float = 1e-6             # relative; FLOPs are deterministic
    latency_ratio: float = 2.0          # generous: shared machines are noisy
    latency_floor_s: float = 0.05       # and the increase must also exceed this many seconds
    n_boot: int = 2000
    seed: int = 0

    def acc_drop_for(self, benchmark: str) -> float:
        return self.acc_drop_by_benchmark.get(benchmark, self.acc_drop)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "Thresholds":
        d = dict(d or {})
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown regression thresholds {sorted(unknown)}; known: {sorted(cls.__dataclass_fields__)}")
        return cls(**d)


# ------------------------------------------------------------------------------------- compare


@dataclass
class Finding:
    model: str
    benchmark: str
    point_id: str
    check: str                 # accuracy | relative | flops | latency | coverage | errors
    metric: str
    base: float | None
    new: float | None
    threshold: float | None
    test: str | None = None
    p_value: float | None = None
    regressed: bool = False
    reason: str = ""


@dataclass
class Report:
    findings: list[Finding]
    thresholds: Thresholds
    base_label: str = ""
    new_label: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Finding]:
        return [f for f in self.findings if f.regressed]

    @property
    def status(self) -> str:
        return "fail" if self.regressions else "pass"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status, "base": self.base_label, "new": self.new_label,
            "n_checks": len(self.findings), "n_regressions": len(self.regressions),
            "thresholds": asdict(self.thresholds), "notes": self.notes,
            "findings": [asdict(f) for f in self.findings],
        }


def _primary_scores(rows: list[dict[str, Any]]) -> np.ndarray:
    return np.array([0.0 if r["score"] is None else float(r["score"]) for r in rows])   # errors score 0


def _paired(base_rows, new_rows):
    """Restrict both runs to the samples they share, in the same order."""
    common = sorted({r["sample_id"] for r in base_rows} & {r["sample_id"] for r in new_rows})
    by_b = {r["sample_id"]: r for r in base_rows}
    by_n = {r["sample_id"]: r for r in new_rows}
    return [by_b[s] for s in common], [by_n[s] for s in common]


def _compare_point(key, base_rows, new_rows, base_keep, new_keep, th: Thresholds) -> list[Finding]:
    model, bench, point_id = key
    out: list[Finding] = []
    missing = len({r["sample_id"] for r in base_rows} - {r["sample_id"] for r in new_rows})
    if missing:
        out.append(Finding(model, bench, point_id, "coverage", "samples", len(base_rows), len(base_rows) - missing, 0,
                           regressed=True, reason=f"{missing} baseline samples missing from the new run"))
    b_rows, n_rows = _paired(base_rows, new_rows)
    if not b_rows:
        return out
    b_pt, n_pt = summarize_rows(b_rows), summarize_rows(n_rows)
    # errored rows carry no score and no cost (summarize_rows), so more of them is its own regression
    if n_pt.n_errors > b_pt.n_errors:
        out.append(Finding(model, bench, point_id, "errors", "n_errors", b_pt.n_errors, n_pt.n_errors, 0, regressed=True,
                           reason=f"{n_pt.n_errors - b_pt.n_errors} more errored samples than the baseline"))
    b_s, n_s = _primary_scores(b_rows), _primary_scores(n_rows)

    # accuracy: the benchmark's own primary metric; significance from the per-sample primary score
    limit = th.acc_drop_for(bench)
    drop = b_pt.primary - n_pt.primary
    test, p = paired_test(b_s, n_s, th.n_boot, th.seed)
    reg = drop > limit and p < th.alpha
    out.append(Finding(model, bench, point_id, "accuracy", b_pt.primary_metric, b_pt.primary, n_pt.primary, limit,
                       test, p, reg, _why(drop, limit, p, th.alpha, reg)))

    # Rel.% of keep_all: tested on the per-sample gap to keep_all, (point - keep_all), paired across runs
    if b_pt.strategy != "keep_all" and base_keep and new_keep:
        bk, nk = _paired(base_keep, new_keep)
        shared = sorted({r["sample_id"] for r in b_rows} & {r["sample_id"] for r in bk} & {r["sample_id"] for r in nk})
        if shared:
            sel = lambda rows: [r for r in rows if r["sample_id"] in set(shared)]  # noqa: E731
            pb, pn, kb, kn = (summarize_rows(sel(x)) for x in (b_rows, n_rows, bk, nk))
            rel_b, rel_n = relative_pct(pb, kb), relative_pct(pn, kn)
            gap_b = _primary_scores(sel(b_rows)) - _primary_scores(sel(bk))
            gap_n = _primary_scores(sel(n_rows)) - _primary_scores(sel(nk))
            p_rel = paired_bootstrap(gap_b, gap_n, th.n_boot, th.seed).p_value
            rdrop = rel_b - rel_n
            reg = bool(rdrop > th.rel_drop_pct and p_rel < th.alpha)
            out.append(Finding(model, bench, point_id, "relative", "rel_pct", rel_b, rel_n, th.rel_drop_pct,
                               "paired_bootstrap", p_rel, reg, _why(rdrop, th.rel_drop_pct, p_rel, th.alpha, reg)))

    # FLOPs: deterministic; any increase beyond tolerance is a regression
    lim = b_pt.prefill_flops * (1.0 + th.flops_tol)
    reg = n_pt.prefill_flops > lim
    out.append(Finding(model, bench, point_id, "flops", "prefill_flops", b_pt.prefill_flops, n_pt.prefill_flops,
                       th.flops_tol, regressed=reg,
                       reason=f"+{(n_pt.prefill_flops / b_pt.prefill_flops - 1) * 100:.3g}% FLOPs" if reg and b_pt.prefill_flops else ""))

    # latency: median per sample; ratio AND absolute floor
    reg = (n_pt.latency_s > b_pt.latency_s * th.latency_ratio) and (n_pt.latency_s - b_pt.latency_s > th.latency_floor_s)
    out.append(Finding(model, bench, point_id, "latency", "latency_s", b_pt.latency_s, n_pt.latency_s, th.latency_ratio,
                       regressed=reg, reason=f"{n_pt.latency_s / max(b_pt.latency_s, 1e-12):.2f}x slower" if reg else ""))
    return out


def _why(drop: float, limit: float, p: float, alpha: float, reg: bool) -> str:
    if reg:
        return f"drop {drop:.4g} > {limit:g} and p={p:.3g} < {alpha:g}"
    if drop > limit:
        return f"drop {drop:.4g} > {limit:g} but p={p:.3g} >= {alpha:g}: not significant (noise)"
    return ""


def compare(base: pa.Table, new: pa.Table, thresholds: Thresholds | None = None,
            base_label: str = "baseline", new_label: str = "new") -> Report:
    """Check every (model, benchmark, point_id) of the baseline against the new run."""
    th = thresholds or Thresholds()
    gb, gn = group_rows(base), group_rows(new)
    keep_b = {k[:2]: v for k, v in gb.items() if v[0]["strategy"] == "keep_all"}
    keep_n = {k[:2]: v for k, v in gn.items() if v[0]["strategy"] == "keep_all"}
    findings: list[Finding] = []
    notes: list[str] = []
    successor = reconfigured(gb, gn)
    for key in sorted(gb):
        if key in successor:            # same strategy, changed config: compared with what replaced it
            new_key = successor[key]
            notes.append(f"{'/'.join(key)} was re-configured as {new_key[2]}: compared with it")
            found = _compare_point(new_key, gb[key], gn[new_key], keep_b.get(key[:2]), keep_n.get(key[:2]), th)
            for f in found:
                f.reason = f"vs baseline point {key[2]}" + (f"; {f.reason}" if f.reason else "")
            findings += found
            continue
        if key not in gn:
            findings.append(Finding(*key, "coverage", "point", 1, 0, None, regressed=True,
                                    reason="point missing from the new run"))
            continue
        findings += _compare_point(key, gb[key], gn[key], keep_b.get(key[:2]), keep_n.get(key[:2]), th)
    for key in sorted(set(gn) - set(gb) - set(successor.values())):
        notes.append(f"new point without baseline: {'/'.join(key)}")
    return Report(findings, th, base_label, new_label, notes)


def reconfigured(gb: dict, gn: dict) -> dict[tuple, tuple]:
    """Baseline point -> the new point that replaced it: where, for one (model, benchmark, strategy), exactly one
    baseline point is missing from the new run and exactly one new point has no baseline (a changed budget or
    parameter of that strategy in the pinned config). Such a change is then checked, not waved through as new."""
    def by_strategy(keys, groups):
        out: dict[tuple, list] = {}
        for k in keys:
            out.setdefault((*k[:2], groups[k][0]["strategy"]), []).append(k)
        return out

    gone = by_strategy([k for k in gb if k not in gn], gb)
    added = by_strategy([k for k in gn if k not in gb], gn)
    return {old[0]: added[s][0] for s, old in gone.items() if len(old) == 1 and len(added.get(s, [])) == 1}


# -------------------------------------------------------------------------------------- output


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4g}"
    return str(v)


def to_markdown(report: Report) -> str:
    lines = [f"# Nightly regression report: {report.status.upper()}", "",
             f"- new: `{report.new_label}`", f"- baseline: `{report.base_label}`",
             f"- checks: {len(report.findings)}, regressions: {len(report.regressions)}", ""]
    lines += [f"- note: {n}" for n in report.notes]
    for title, rows in (("Regressions", report.regressions), ("All checks", report.findings)):
        lines += ["", f"## {title}", ""]
        if not rows:
            lines.append("none")
            continue
        lines += ["| model | benchmark | point | check | metric | base | new | threshold | test | p | regressed | reason |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        lines += ["| " + " | ".join(_fmt(x) for x in (f.model, f.benchmark, f.point_id, f.check, f.metric, f.base, f.new,
                                                      f.threshold, f.test, f.p_value, "**yes**" if f.regressed else "no",
                                                      f.reason)) + " |" for f in rows]
    return "\n".join(lines) + "\n"


def write_report(report: Report, out_dir: str | Path) -> tuple[Path, Path]:
    """regression.md and regression.json under out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / "regression.md", out / "regression.json"
    md.write_text(to_markdown(report))
    js.write_text(json.dumps(report.to_dict(), indent=2, default=float))
    return md, js


# ------------------------------------------------------------------------------------ baselines


def load_rows(path: str | Path) -> pa.Table:
    """A pinned baseline: Parquet, or JSON / JSONL of per-sample rows in ROW_SCHEMA."""
    path = Path(path)
    if path.suffix == ".parquet":
        return pq.read_table(path)
    text = path.read_text()
    rows = [json.loads(line) for line in text.splitlines() if line.strip()] if path.suffix == ".jsonl" else json.loads(text)
    if isinstance(rows, dict):
        rows = rows.get("rows", [])
    for r in rows:
        if isinstance(r.get("created_at"), str):
            r["created_at"] = datetime.fromisoformat(r["created_at"])
    names = set(ROW_SCHEMA.names)
    rows = [{k: r.get(k) for k in names} for r in rows]
    return pa.Table.from_pylist(rows, schema=ROW_SCHEMA)


def write_rows_json(table: pa.Table, path: str | Path) -> Path:
    """Pin a run's rows as a JSON baseline (readable in review, loadable by load_rows)."""
    rows = table.to_pylist()
    for r in rows:
        if r.get("created_at") is not None:
            r["created_at"] = r["created_at"].isoformat()
    Path(path).write_text(json.dumps(rows, indent=1))
    return Path(path)
