"""jobs/gpu_check.py: the dry run end to end (CPU, tiny models) with Ray/MLflow/pyarrow/sweeps imports blocked, its
JSON and Markdown against independent restatements, fail-soft sections, budgets, and the merge into docs/PERF.md."""
import json
import math
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# what the GPU machine lacks (Ray, MLflow) or what the script must not need (pyarrow paths, the upper layers)
BLOCKED = ("ray", "mlflow", "pyarrow", "pandas", "sweeps", "cluster", "dashboards")
LAUNCH = """
import runpy, sys
BLOCKED = {blocked!r}
for name in BLOCKED:
    sys.modules[name] = None  # `import name` raises, importlib.util.find_spec(name) answers None: as if absent
sys.argv = ["jobs/gpu_check.py"] + {args!r}
try:
    {body}
finally:
    print("LOADED_BLOCKED", sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED and sys.modules[m] is not None))
"""
RUN_SCRIPT = 'runpy.run_path("jobs/gpu_check.py", run_name="__main__")'
IMPORT_ALL = ('import importlib; [importlib.import_module(m) for m in ("jobs.gpu_check", "jobs.gpu_context", '
              '"jobs.gpu_parity", "jobs.gpu_latency", "jobs.gpu_throughput", "jobs.gpu_mfu", "jobs.gpu_selection")]')
TINY = types.SimpleNamespace(hidden_size=64, intermediate_size=160, num_hidden_layers=8)  # tiny-llava's Llama


def launch(body: str, args: list[str], env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    code = LAUNCH.format(blocked=BLOCKED, args=args, body=body)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                         env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **(env or {})})
    assert "LOADED_BLOCKED []" in out.stdout, out.stdout[-2000:] + out.stderr[-4000:]
    return out


def layer_flops(n: int, d: int = 64, m: int = 160) -> int:
    """F(n) = 8nd^2 + 4n^2d + 6ndm, restated from the papers' convention (not imported from pruning.accounting)."""
    return 8 * n * d * d + 4 * n * n * d + 6 * n * d * m


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-check")
    cache = tmp_path_factory.mktemp("vissweep-cache")
    t0 = time.perf_counter()
    proc = launch(RUN_SCRIPT, ["--dry-run", "--out", str(out)], env={"VISSWEEP_CACHE": str(cache)})
    wall = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads((out / "gpu_check.json").read_text()), (out / "gpu_check.md").read_text(), wall, out, cache


def test_imports_with_ray_mlflow_pyarrow_blocked():
    proc = launch(IMPORT_ALL, [], timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]


def test_dry_run_runs_every_section_in_under_two_minutes(dry_run):
    doc, _, wall, _, _ = dry_run
    assert list(doc["sections"]) == ["parity", "model", "latency", "throughput", "mfu", "selection"]
    assert {n: s["status"] for n, s in doc["sections"].items()} == dict.fromkeys(doc["sections"], "ok")
    assert doc["profile"] == "dry-run" and doc["device"] == "cpu"
    assert doc["total_s"] < 120, f"dry run took {doc['total_s']:.0f} s of sections ({wall:.0f} s with start-up)"
    for s in doc["sections"].values():
        assert 0 < s["seconds"] <= s["budget_s"]


def test_parity_covers_every_tiny_alias_with_exact_fp32_and_explained_bf16(dry_run):
    from pruning.models import MODELS, model_config, model_spec
    from pruning.models.anyres import packing

    rec = dry_run[0]["sections"]["parity"]
    aliases = sorted(a for a in MODELS if a.startswith("tiny"))
    assert "tiny-llava" in aliases and rec["aliases"] == aliases and rec["errors"] == []
    for alias in aliases:
        fp32 = [r for r in rec["rows"] if r["alias"] == alias and r["device"] == "cpu float32 sdpa"]
        assert [r["plan"] for r in fp32] == ["keep_all/Tall", "vispruner/T64/r0.5"]
        for r in fp32:  # two independent loads in fp32 on one CPU: bit-identical
            assert r["same_indices"] and r["index_overlap"] == 1.0 and r["texts_identical"] == r["n"] == 2
            assert r["attention_max_abs_diff"] == 0.0 and r["status"] == "pass"
            assert all(a == b for a, b in r["texts"])
        kept = [576, 64]
        if model_spec(alias).per == "crop":  # anyres: keep_all is the first image's packed length, T=64 per crop
            kept = [packing(model_config(alias), (240, 320)).length, fp32[1]["kept"]]  # gpu_context.images: 320x240
            assert 64 < kept[1] < kept[0]
        assert [r["kept"] for r in fp32] == kept
        bf16 = [r for r in rec["rows"] if r["alias"] == alias and r["device"] == "cpu bfloat16 sdpa"]
        assert [r["kept"] for r in bf16] == kept
        for r in bf16:
            assert 0.0 < r["index_overlap"] <= 1.0 and 0 <= r["texts_identical"] <= r["first_word_same"] <= r["n"]
            assert r["text_ok"] == (r["texts_identical"] == r["n"] or r["first_word_same"] == r["n"])
            ok = r["same_indices"] and r["text_ok"] and r["same_kept"]
            assert r["status"] == ("pass" if ok else "fail: near tie at the cut" if r["near_tie"] else "fail")
            if r["important_same"] is False:  # a flip across the top-k cut needs the two values to move by >= margin
                assert r["cut_margin"] <= 2 * r["attention_max_abs_diff"]
                assert r["near_tie"] == (r["cut_margin_rel"] < 2 ** -7)  # bfloat16's epsilon
    same = sum(r["same_indices"] for r in rec["rows"])
    assert rec["marks"][0]["value"] == f"{same}/{len(rec['rows'])}"
    assert rec["marks"][0]["status"] == ("met" if same == len(rec["rows"]) else "missed")


def test_latency_table6_rows_ratios_and_marks(dry_run):
    rec = dry_run[0]["sections"]["latency"]
    assert [r["label"] for r in rec["rows"]] == ["keep_all/Tall", "vispruner/T144/r0.5", "vispruner/T29/r0.5",
                                                   "fastv/T144", "fastv/T29"]
    full = rec["rows"][0]
    n_text = full["n_text"]
    assert n_text > 10  # the POPE question + post-prompt + template
    for r in rec["rows"]:
        assert r["kept"] == r["budget"] and r["n_text"] == n_text
        for phase in ("vision", "select", "prefill", "decode"):
            assert 0 < r[phase] < r["e2e"]  # each phase is inside the e2e interval of every repeat
        assert math.isclose(r["e2e_ratio"], r["e2e"] / full["e2e"]) and r["peak"] is None
        K, T = (2, r["kept"]) if r["plan"] == "fastv" else (0, r["kept"])
        n_first = 576 if r["plan"] == "fastv" else T
        want = K * layer_flops(n_first + n_text) + (8 - K) * layer_flops(T + n_text)
        assert math.isclose(r["flops"], want), r
        assert math.isclose(r["flops_ratio"], want / (8 * layer_flops(576 + n_text)))
    assert rec["rows"][1]["paper_ratio"] == 85 / 107 and rec["rows"][2]["paper_ratio"] == 78 / 107
    assert [m["status"] for m in rec["marks"]] == ["met" if r["e2e_ratio"] <= r["paper_ratio"] else "missed"
                                                    for r in rec["rows"][1:3]]


def test_throughput_same_work_both_ways_and_ratio(dry_run):
    rec = dry_run[0]["sections"]["throughput"]
    svc, ref = rec["service"], rec["reference"]
    assert rec["grid_points"] == 9 and len(set(rec["grid"])) == 9
    assert svc["answers"] == ref["answers"] == rec["samples"] * 9 == 36 and ref["grid_points_measured"] == 9
    assert math.isclose(ref["total_s"], ref["wall_s"] + 9 * ref["reload_s"]) and ref["reload_s"] > 0
    assert math.isclose(rec["ratio"], (svc["answers"] / svc["wall_s"]) / (ref["answers"] / ref["total_s"]))
    for way in (svc, ref):
        assert way["encode_s"] + way["select_s"] + way["prefill_s"] + way["decode_s"] <= way["wall_s"] * 1.001
    assert svc["encode_s"] < ref["encode_s"]  # 2 encodes of 2 images vs 36 of one
    assert rec["same_answers"] >= 0.9  # fp32: batched and batch-1 greedy answers agree
    assert rec["marks"][0]["status"] == ("met" if rec["ratio"] >= 5 else "missed")


def test_mfu_flops_and_peak_table(dry_run):
    from jobs.gpu_mfu import dense_peak

    rec = dry_run[0]["sections"]["mfu"]
    assert [r["B"] for r in rec["rows"]] == [1, 2, 4]
    for r in rec["rows"]:
        assert r["kept"] == 576
        assert math.isclose(r["flops"], r["B"] * 8 * layer_flops(576 + r["n_text"]))
        assert math.isclose(r["achieved_flops"], r["flops"] / r["prefill_s"]) and r["mfu"] is None
    assert rec["peak_flops"] is None and rec["marks"][0]["status"] == "n/a"
    assert dense_peak("NVIDIA H100 80GB HBM3")[0] == 989.4e12 and "H100 SXM" in dense_peak("NVIDIA H100 80GB HBM3")[1]
    assert dense_peak("NVIDIA H100 PCIe")[0] == 756.5e12 and dense_peak("NVIDIA H100 NVL")[0] == 835.5e12
    assert dense_peak("NVIDIA H200")[0] == 989.4e12 and "H200" in dense_peak("NVIDIA H200")[1]
    assert dense_peak("NVIDIA A100-SXM4-80GB")[0] == 312e12
    assert dense_peak("Tesla T4") is None and dense_peak(None) is None


def test_selection_cost_against_saved_prefill(dry_run):
    rec = dry_run[0]["sections"]["selection"]
    assert rec["B"] == 2 and rec["N"] == 576
    assert [r["T"] for r in rec["rows"]] == [144, 29] and [r["kept"] for r in rec["rows"]] == [144, 29]
    for r in rec["rows"]:
        assert math.isclose(r["saved_s"], rec["full_prefill_s"] - r["prefill_s"]) and r["saved_s"] > 0
        assert math.isclose(r["select_over_saved"], r["select_s"] / r["saved_s"])


def test_markdown_holds_every_section_and_the_marks(dry_run):
    doc, md, _, _, _ = dry_run
    assert md.startswith("## GPU check\n") and "not GPU figures" in md and "python jobs/gpu_check.py --out $OUT" in md
    for title in ("### a. Parity", "### Model build", "### b. Table 6", "### c. Sweep throughput", "### d. Prefill MFU",
                  "### e. VisPruner"):
        assert title in md
    assert len(doc["marks"]) >= 5 and all(f"| {m['section']} | {m['mark']} |" in md for m in doc["marks"])
    assert "| keep_all/Tall | 576 |" in md and "**Service / reference:" in md


def test_merge_refuses_a_dry_run_and_replaces_only_its_section(dry_run, tmp_path):
    from jobs.gpu_check import main

    perf = tmp_path / "PERF.md"
    perf.write_text("# Performance\n\n## A\n\na stays\n\n## GPU check\n\nold text\n\n## B\n\nb stays\n")
    with pytest.raises(SystemExit, match="no GPU figures"):
        main(["--merge", str(dry_run[3]), "--into", str(perf)])
    assert main(["--merge", str(dry_run[3]), "--into", str(perf), "--force"]) == 0
    text = perf.read_text()
    assert text.count("## GPU check") == 1 and "old text" not in text and "### e. VisPruner" in text
    assert text.startswith("# Performance\n\n## A\n\na stays\n\n## GPU check\n") and text.endswith("## B\n\nb stays\n")


def test_a_failing_model_fails_its_sections_soft(tmp_path):
    from jobs.gpu_check import main

    assert main(["--dry-run", "--threads", "2", "--only", "b,c", "--model", "no-such-model", "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "gpu_check.json").read_text())
    assert list(doc["sections"]) == ["model", "latency", "throughput"]
    assert all(s["status"] == "error" and "no-such-model" in s["error"] for s in doc["sections"].values())
    assert "unknown model 'no-such-model'" in (tmp_path / "gpu_check.md").read_text()


def test_reference_way_stops_at_a_grid_point_when_the_budget_runs_short(dry_run, monkeypatch):
    from jobs.gpu_context import DRY, Context, images, pope_questions
    from jobs.gpu_throughput import SAFETY_S, grid, reference

    monkeypatch.setenv("VISSWEEP_CACHE", str(dry_run[4]))  # the tiny model the dry run built
    ctx = Context(DRY, device="cpu")
    vlm = ctx.model()
    ctx.deadline = time.perf_counter() + SAFETY_S / 2  # the first point always runs; no second one fits
    ref = reference(ctx, vlm, images(2), pope_questions(2), 2, grid())
    assert ref["grid_points_measured"] == 1 and ref["answers"] == 2
    assert set(ref["texts"]) == {(grid()[0].label, 0), (grid()[0].label, 1)}


def _section(name: str, run) -> str:
    module = types.ModuleType(name)
    module.TITLE, module.run = name, run
    module.render = lambda rec: [f"rows: {len(rec.get('rows', []))}", ""]
    sys.modules[name] = module
    return name


def test_budget_stops_a_section_keeps_its_rows_and_the_next_one_runs(tmp_path, monkeypatch):
    import dataclasses

    import jobs.gpu_check as gc
    from jobs.gpu_context import DRY, Context

    def slow(ctx, rec, save):
        rec["rows"] = []
        while True:
            rec["rows"].append(len(rec["rows"]))
            save()
            time.sleep(0.05)

    def boom(ctx, rec, save):
        rec["rows"] = [1]
        save()
        raise RuntimeError("kernel exploded")

    def fine(ctx, rec, save):
        rec["rows"] = [1, 2]

    sections = {"slow": _section("gpu_check_slow", slow), "boom": _section("gpu_check_boom", boom),
                "fine": _section("gpu_check_fine", fine)}
    monkeypatch.setattr(gc, "SECTIONS", sections)
    ctx = Context(dataclasses.replace(DRY, budgets={"slow": 0.5, "boom": 5, "fine": 5}), device="cpu")
    report = gc.Report(tmp_path, {"command": "test", "profile": "dry-run", "machine": "m", "device": "cpu", "date": "d",
                                  "torch": "t", "transformers": "t", "attn": "sdpa", "sections": {}})
    t0 = time.perf_counter()
    for name in sections:
        gc.run_section(name, ctx, report, scale=1.0)
    assert time.perf_counter() - t0 < 5
    doc = json.loads((tmp_path / "gpu_check.json").read_text())
    slow_rec, boom_rec, fine_rec = (doc["sections"][n] for n in sections)
    assert slow_rec["status"] == "timeout" and "budget of 0 s" not in slow_rec["error"] and len(slow_rec["rows"]) >= 3
    assert 0.5 <= slow_rec["seconds"] < 2
    assert boom_rec["status"] == "error" and boom_rec["error"] == "RuntimeError: kernel exploded" and boom_rec["rows"] == [1]
    assert fine_rec["status"] == "ok" and fine_rec["rows"] == [1, 2]
    md = (tmp_path / "gpu_check.md").read_text()
    assert "Status: timeout" in md and "RuntimeError: kernel exploded" in md and "rows: 2" in md


def test_inputs_match_the_pope_benchmark_and_the_paper_config():
    import yaml

    from jobs.gpu_context import GPU, pope_questions
    from sweeps.benchmarks import get_benchmark
    from sweeps.benchmarks.base import Sample

    bench = get_benchmark("pope")
    assert pope_questions(2)[1] == bench.prompt(Sample(id="1", question="Is there a car in the image?"))
    cfg = yaml.safe_load((REPO / "sweeps/configs/llava15_paper.yaml").read_text())
    assert GPU.sweep_batch == cfg["generation"]["batch_size"]
    assert GPU.model == "7b-shaped" and GPU.mfu_batches == (1, 8, 32) and GPU.sweep_samples == 64
    assert sum(GPU.budgets.values()) < 8 * 60


def test_perf_doc_says_how_to_run_it_with_the_code_budgets():
    from jobs.gpu_context import GPU

    text = (REPO / "docs/PERF.md").read_text()
    section = text.split("\n## GPU check\n", 1)[1].split("\n## ", 1)[0]
    assert "python jobs/gpu_check.py --out $OUT" in section and "python jobs/gpu_check.py --merge $OUT" in section
    assert f"capped at {sum(GPU.budgets.values()) / 60:.1f} min" in section
    for name, label in (("parity", "parity"), ("model", "7B-shaped build"), ("latency", "latency"),
                        ("throughput", "throughput"), ("mfu", "MFU"), ("selection", "selection")):
        assert f"{label} {GPU.budgets[name]} s" in section, name
