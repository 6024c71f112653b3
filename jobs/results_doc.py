"""Markdown tables (accuracy overall, per question type, per quadrant; strategy x budget T) and the dashboards'
Pareto / budget / positional-bias figures for one `shapes` sweep: the body of docs/RESULTS.md.

    python jobs/results_doc.py shapes-results --store results --figures docs/results > /tmp/tables.md
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # runnable as a script from any cwd

from sweeps.benchmarks.shapes import QUADRANTS, TYPES  # noqa: E402
from sweeps.point_metrics import summarize  # noqa: E402
from sweeps.store import read_results  # noqa: E402


def label(p) -> str:
    if p.strategy == "vispruner":
        return f"vispruner r={p.ratio:g}"
    return p.strategy


def grid_table(points, metric: str) -> str:
    """Rows: strategy (keep_all first); columns: budgets T descending; cells: `metric` x 100."""
    budgets = sorted({p.budget for p in points if p.budget is not None}, reverse=True)
    keep = next((p for p in points if p.strategy == "keep_all"), None)
    rows: dict[str, dict[int, float]] = {}
    for p in points:
        if p.budget is not None:
            rows.setdefault(label(p), {})[p.budget] = p.metrics.get(metric, float("nan"))
    head = "| strategy | " + " | ".join(f"T={b}" for b in budgets) + " |"
    out = [head, "|---" * (len(budgets) + 1) + "|"]
    if keep is not None:
        v = keep.metrics.get(metric, float("nan"))
        out.append("| keep_all (576) | " + " | ".join(f"{100 * v:.1f}" for _ in budgets) + " |")
    for name in sorted(rows):
        out.append(f"| {name} | " + " | ".join(f"{100 * rows[name][b]:.1f}" if b in rows[name] else "" for b in budgets) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="jobs/results_doc.py", description=__doc__.splitlines()[0])
    ap.add_argument("sweep_id")
    ap.add_argument("--store", default="results")
    ap.add_argument("--figures", help="folder for the dashboards' PNG figures")
    a = ap.parse_args(argv)
    points = summarize(read_results(a.store, a.sweep_id))
    if not points:
        print(f"sweep {a.sweep_id!r}: no rows in {a.store}", file=sys.stderr)
        return 2
    p0 = points[0]
    print(f"Model `{p0.model}`, benchmark `{p0.benchmark}`, {p0.n} samples per point; accuracy in %.\n")
    print("### Accuracy\n\n" + grid_table(points, "accuracy") + "\n")
    for t in TYPES:
        print(f"### Question type: {t}\n\n" + grid_table(points, f"acc_by_type/{t}") + "\n")
    for q in (*QUADRANTS, "none"):
        print(f"### Object quadrant: {q}\n\n" + grid_table(points, f"acc_by_quadrant/{q}") + "\n")
    if a.figures:
        from dashboards import bias, pareto

        out = Path(a.figures)
        out.mkdir(parents=True, exist_ok=True)
        pareto.save(pareto.pareto_figure(points, "tflops"), out / "pareto_tflops.png")
        pareto.save(pareto.budget_figure(points), out / "accuracy_vs_budget.png")
        pareto.save(bias.bias_figure(points), out / "bias_by_quadrant.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
