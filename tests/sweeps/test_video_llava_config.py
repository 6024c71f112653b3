"""sweeps/configs/video_llava_paper.yaml: the paper's video budgets on the Video-LLaVA-7B checkpoint, validated
offline from its pinned config; what the family cannot run is rejected up front."""
from pathlib import Path

import pytest

from sweeps.config import ConfigError, load_config, parse_config

CONFIG = Path(__file__).resolve().parents[2] / "sweeps" / "configs" / "video_llava_paper.yaml"


def test_shipped_config_has_the_paper_budgets_on_the_video_benchmarks():
    cfg = load_config(CONFIG)
    assert CONFIG.read_text().splitlines()[0].startswith("# ray job submit") and "jobs/sweep.py" in CONFIG.read_text()
    assert list(cfg.models) == ["LanguageBind/Video-LLaVA-7B-hf"]
    assert [b.name for b in cfg.benchmarks] == ["activitynet_qa"]   # the one with a hub release
    text = CONFIG.read_text()
    assert all(f"# - {{name: {n}, source: " in text for n in ("msvd_qa", "msrvtt_qa", "tgif_qa"))
    pruned = [p for p in cfg.grid if p.strategy != "keep_all"]
    assert {p.budget for p in pruned} == {455, 227, 114}
    assert any(p.strategy == "keep_all" for p in cfg.grid)


def test_the_commented_video_benchmarks_validate_once_their_source_exists(tmp_path):
    import yaml

    lines = [ln.replace("  # - {", "  - {") for ln in CONFIG.read_text().splitlines()]
    data = yaml.safe_load("\n".join(lines).replace("/data/GPT_Zero_Shot_QA", str(tmp_path)))
    for d in ("MSVD_Zero_Shot_QA", "MSRVTT_Zero_Shot_QA", "TGIF_Zero_Shot_QA"):
        (tmp_path / d).mkdir()
    assert [b.name for b in parse_config(data).benchmarks] == ["activitynet_qa", "msvd_qa", "msrvtt_qa", "tgif_qa"]


def test_a_video_benchmark_without_a_hub_release_needs_a_source():
    with pytest.raises(ConfigError) as exc:
        parse_config({"models": ["video-llava-7b"], "benchmarks": ["tgif_qa"], "controls": False,
                      "grid": [{"strategy": "vispruner", "budget": 114, "ratio": 0.5}]})
    assert any(e.startswith("benchmarks[0].source: tgif_qa has no hub release") for e in exc.value.errors)


def test_tiny_alias_swapped_in_validates_to_the_same_grid():
    import yaml

    data = yaml.safe_load(CONFIG.read_text())
    data["models"] = ["tiny-video-llava"]   # same geometry: 8 frames x 256 patches, so the same budgets fit
    tiny = parse_config(data)
    assert list(tiny.models) == ["tiny-video-llava"] and tiny.grid == load_config(CONFIG).grid


def errors_of(grid):
    with pytest.raises(ConfigError) as exc:
        parse_config({"models": ["video-llava-7b"], "benchmarks": ["activitynet_qa"], "grid": grid, "controls": False})
    return exc.value.errors


def test_what_video_llava_cannot_run_is_rejected_before_any_work():
    errs = errors_of([{"strategy": "prumerge_plus", "budget": 114}, {"strategy": "vispruner", "budget": 2049},
                      {"strategy": "sparsevlm", "budget": 455}])
    assert any(e.startswith("grid[0].strategy:") and "cannot run 'prumerge_plus'" in e for e in errs)
    assert any(e.startswith("grid[1].budget:") and "exceeds the 2048 visual tokens per video" in e for e in errs)
    assert any(e.startswith("grid[2]") and "no released keep schedule for budget T=455" in e for e in errs)
    ok = parse_config({"models": ["video-llava-7b"], "benchmarks": ["activitynet_qa"], "controls": False,
                       "grid": [{"strategy": "vispruner", "budget": 2048, "ratio": 0.5}]})
    assert [p.budget for p in ok.grid] == [2048]   # T = N: every patch token of the video
