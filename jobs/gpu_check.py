"""Every GPU figure in one prepared run: python jobs/gpu_check.py --out DIR [--dry-run] [--only a,b,...]

Sections (one module each): a parity (jobs/gpu_parity.py), b Table 6 latency (gpu_latency), c sweep throughput
(gpu_throughput), d prefill MFU (gpu_mfu), e VisPruner's own cost (gpu_selection); `model` builds the 7B-shaped
model they share. Each section runs under its own time budget and fails soft: an exception or an overrun is
recorded and the next section starts. DIR/gpu_check.json and DIR/gpu_check.md are rewritten after every row,
so a killed run keeps what finished. Needs only `pruning`, torch, transformers and the standard library.

    python jobs/gpu_check.py --out /tmp/g                      # GPU: under 8 minutes on one H100/H200
    python jobs/gpu_check.py --dry-run --out /tmp/g            # CPU, tiny models: the same code path
    python jobs/gpu_check.py --merge /tmp/g [--into docs/PERF.md]   # the figures into docs/PERF.md
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib
import json
import os
import platform
import signal
import sys
import time
import traceback
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from the repo root

from jobs.perf_doc import write_section  # noqa: E402  (after the sys.path line)

HEADING = "## GPU check"
SECTIONS = {"parity": "jobs.gpu_parity", "model": None, "latency": "jobs.gpu_latency",
            "throughput": "jobs.gpu_throughput", "mfu": "jobs.gpu_mfu", "selection": "jobs.gpu_selection"}
RUN_KEYS = {"status", "budget_s", "seconds", "error", "traceback"}  # what run_section itself writes
LETTERS = {"a": "parity", "b": "latency", "c": "throughput", "d": "mfu", "e": "selection"}


def howto() -> str:
    from jobs.gpu_context import GPU

    return ("How to run it on a GPU box (torch + transformers, no Ray or MLflow, nothing installed): "
            "`python jobs/gpu_check.py --out $OUT` from the repository root, one H100/H200, under 8 minutes "
            f"(the section budgets add up to {sum(GPU.budgets.values()) / 60:.1f} min); then "
            "`python jobs/gpu_check.py --merge $OUT` on a checkout writes this section into docs/PERF.md. "
            "`--only b,d` reruns some sections.")


class SectionTimeout(BaseException):
    """Raised by SIGALRM when a section overruns its budget (BaseException: no `except Exception` swallows it)."""


@contextmanager
def time_budget(seconds: float):
    """Interrupt the block after `seconds` (between Python bytecodes, so after the CUDA call in flight returns)."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def stop(signum, frame):
        raise SectionTimeout(f"over its budget of {seconds:g} s")

    old = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.01))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class Report:
    """The run's JSON document, rewritten (with its Markdown) atomically after every recorded row."""

    def __init__(self, out: Path, doc: dict):
        self.out, self.doc = out, doc
        out.mkdir(parents=True, exist_ok=True)

    def save(self) -> None:
        self.doc["marks"] = [m | {"section": name} for name, rec in self.doc["sections"].items() for m in rec.get("marks", [])]
        for name, text in (("gpu_check.json", json.dumps(self.doc, indent=1, default=str)), ("gpu_check.md", render(self.doc))):
            tmp = self.out / f".{name}.tmp"
            tmp.write_text(text + "\n")
            os.replace(tmp, self.out / name)


def run_model(ctx, rec: dict, save) -> None:
    ctx.model()
    rec.update(alias=ctx.profile.model, load_s=ctx.load_seconds[ctx.profile.model], weights_bytes=ctx.allocated_bytes())


def run_section(name: str, ctx, report: Report, scale: float) -> None:
    rec = report.doc["sections"].setdefault(name, {})
    budget = ctx.profile.budgets[name] * scale
    rec.update(status="running", budget_s=budget)
    report.save()
    t0 = time.perf_counter()
    ctx.deadline = t0 + budget  # sections that can stop early and extrapolate read it (ctx.time_left())
    try:
        module = importlib.import_module(SECTIONS[name]) if SECTIONS[name] else None
        with time_budget(budget):
            (module.run if module else run_model)(ctx, rec, report.save)
        rec["status"] = "ok"
    except SectionTimeout as exc:
        rec.update(status="timeout", error=f"stopped: {exc}; the rows recorded before are kept")
    except Exception as exc:  # fail soft: recorded, the next section still runs
        rec.update(status="error", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(limit=8))
    finally:
        rec["seconds"] = time.perf_counter() - t0
        ctx.free()
        report.save()
    print(f"[gpu_check] {name}: {rec['status']} in {rec['seconds']:.1f} s" + (f" ({rec['error']})" if rec.get("error") else ""),
          file=sys.stderr, flush=True)


def meta(ctx, command: str) -> dict:
    import torch
    import transformers

    from jobs.machine import describe

    return {"tool": "jobs/gpu_check.py", "command": command, "profile": ctx.profile.name, "machine": describe(),
            "device": str(ctx.device), "device_name": torch.cuda.get_device_name(ctx.device) if ctx.cuda else "cpu",
            "torch": torch.__version__, "transformers": transformers.__version__, "python": platform.python_version(),
            "flash_attn_importable": ctx.flash, "attn": ctx.attn, "date": datetime.date.today().isoformat(),
            "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "sections": {}}


def render(doc: dict) -> str:
    lines = [HEADING, "", f"Command: `{doc['command']}`  ", f"Machine: {doc['machine']}  ",
             f"Date: {doc['date']}; torch {doc['torch']}, transformers {doc['transformers']}, attention `{doc['attn']}`"
             + (f"; total {doc['total_s']:.0f} s" if "total_s" in doc else "; run in progress or stopped"), ""]
    if doc["profile"] != "gpu":
        lines += [f"**{doc['profile']}: tiny models on {doc['device']}. This checks the code path; these are not GPU "
                  "figures.**", ""]
    lines += [howto(), "", "| section | mark | target | value | status |", "|---|---|---|---|---|"]
    lines += [f"| {m['section']} | {m['mark']} | {m['target']} | {m['value']} | {m['status']} |" for m in doc.get("marks", [])]
    lines.append("")
    for name, rec in doc["sections"].items():
        module = importlib.import_module(SECTIONS[name]) if SECTIONS[name] else None
        lines += [f"### {module.TITLE if module else 'Model build'}", "",
                  f"Status: {rec.get('status')}" + (f" in {rec['seconds']:.1f} s" if "seconds" in rec else "")
                  + f" (budget {rec.get('budget_s', 0):.0f} s)" + (f". **{rec['error']}**" if rec.get("error") else ""), ""]
        if module is None and "load_s" in rec:
            lines += [f"`{rec['alias']}` built in {rec['load_s']:.1f} s" + (f", {rec['weights_bytes'] / 2**20:.0f} MiB of "
                      "weights" if rec.get("weights_bytes") else "") + ".", ""]
        elif module is not None and set(rec) - RUN_KEYS:  # the section recorded something before it stopped
            try:
                lines += module.render(rec)
            except Exception as exc:  # a half-filled record must not stop the report
                lines += [f"(table incomplete: {type(exc).__name__}: {exc})", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def merge(src: Path, into: Path, force: bool) -> int:
    doc = json.loads((src / "gpu_check.json").read_text())
    if doc["profile"] != "gpu" and not force:
        raise SystemExit(f"{src}: a {doc['profile']} run holds no GPU figures; not merged (--force to merge anyway)")
    write_section(into, HEADING, render(doc))
    print(f"wrote {HEADING!r} into {into}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jobs/gpu_check.py", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="directory for gpu_check.json and gpu_check.md")
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny models, small sizes: the same code path")
    parser.add_argument("--only", default=None, help="comma-separated sections (a-e or names); default all")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: 1 with --dry-run, where a shared 2-core box thrashes with more)")
    parser.add_argument("--model", default=None, help="load_vlm alias for sections b-e (default: 7b-shaped; dry run: tiny-llava)")
    parser.add_argument("--attn", default="sdpa", choices=["sdpa", "flash_attention_2"],
                        help="attention kernel of the model in sections b-e (parity compares both when flash-attn imports)")
    parser.add_argument("--budget-scale", type=float, default=1.0, help="multiply every section's time budget")
    parser.add_argument("--merge", type=Path, help="write DIR/gpu_check.json into --into as the GPU check section")
    parser.add_argument("--into", type=Path, default=Path("docs/PERF.md"))
    parser.add_argument("--force", action="store_true", help="with --merge: accept a dry-run result")
    args = parser.parse_args(argv)
    if args.merge:
        return merge(args.merge, args.into, args.force)
    if not args.out:
        parser.error("--out DIR is required (or --merge DIR)")
    import torch

    from jobs.gpu_context import DRY, GPU, Context

    threads = args.threads or (1 if args.dry_run else None)
    if threads:
        torch.set_num_threads(threads)
    profile = DRY if args.dry_run else GPU
    ctx = Context(dataclasses.replace(profile, model=args.model) if args.model else profile,
                  device="cpu" if args.dry_run else None, attn=args.attn)
    wanted = [LETTERS.get(s.strip(), s.strip()) for s in args.only.split(",")] if args.only else list(SECTIONS)
    unknown = [s for s in wanted if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {', '.join(LETTERS)} or {', '.join(SECTIONS)}")
    if any(s not in ("parity", "model") for s in wanted) and "model" not in wanted:
        wanted.insert(0, "model")
    command = "python jobs/gpu_check.py " + " ".join(argv if argv is not None else sys.argv[1:])
    report = Report(args.out, meta(ctx, command.strip()))
    t0 = time.perf_counter()
    for name in (s for s in SECTIONS if s in wanted):
        run_section(name, ctx, report, args.budget_scale)
    report.doc["total_s"] = time.perf_counter() - t0
    report.save()
    print(render(report.doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
