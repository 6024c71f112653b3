"""Sweep config validation: every error class names its key path and a suggestion; nothing starts."""
import pathlib
import textwrap

import pytest
import ray

from sweeps.config import ConfigError, GridEntry, load_config, parse_config, with_controls


def write(tmp_path, text):
    p = tmp_path / "sweep.yaml"
    p.write_text("# python jobs/sweep.py --config sweep.yaml\n" + textwrap.dedent(text))
    return p


def errors_of(data, **kw):
    with pytest.raises(ConfigError) as exc:
        parse_config(data, **kw)
    return exc.value.errors


def base(**over):
    d = {"models": ["tiny-llava"], "benchmarks": ["shapes"],
         "grid": [{"strategy": "vispruner", "budget": [64, 32], "ratio": [0.5, 0.75]}], "controls": False}
    d.update(over)
    return d


def test_valid_config_expands_grid_and_controls(tmp_path):
    p = write(tmp_path, """
        models: [tiny-llava]
        benchmarks: [{name: shapes, lite: 8}]
        grid:
          - {strategy: vispruner, budget: [144, 64], ratio: [0.5, 0.75]}
        shard_size: 4
        replicas: {count: 2}
        mlflow: {experiment: demo}
        """)
    cfg = load_config(p)
    vis = [(g.budget, g.params) for g in cfg.grid if g.strategy == "vispruner"]
    assert vis == [(144, (("ratio", 0.5),)), (144, (("ratio", 0.75),)), (64, (("ratio", 0.5),)), (64, (("ratio", 0.75),))]
    # controls: keep_all once, random + spatial at each budget present (144, 64)
    ctrl = [(g.strategy, g.budget) for g in cfg.grid if g.strategy != "vispruner"]
    assert ctrl == [("keep_all", None), ("random", 144), ("spatial", 144), ("random", 64), ("spatial", 64)]
    assert cfg.name == "sweep" and cfg.shard_size == 4 and cfg.replicas.count == 2
    assert cfg.replicas.num_gpus is None                     # unset: decided on the cluster, not from this machine
    assert parse_config(base(replicas={"num_gpus": 0})).replicas.num_gpus == 0.0     # explicit values are kept
    assert parse_config(base(replicas={"num_gpus": 0.5})).replicas.num_gpus == 0.5
    assert cfg.benchmarks[0].lite == 8 and cfg.mlflow.experiment == "demo"
    # the sweep id is a function of content, not of replicas/store
    same = load_config(p)
    assert same.default_sweep_id() == cfg.default_sweep_id()
    other = parse_config({**cfg.raw, "replicas": {"count": 5}}, default_name="sweep")
    assert other.default_sweep_id() == cfg.default_sweep_id()
    changed = parse_config({**cfg.raw, "shard_size": 8}, default_name="sweep")
    assert changed.default_sweep_id() != cfg.default_sweep_id()


def test_controls_false_and_dedup():
    cfg = parse_config(base())
    assert {g.strategy for g in cfg.grid} == {"vispruner"}
    grid = with_controls([GridEntry("random", 64), GridEntry("keep_all", None)])
    assert grid == [GridEntry("keep_all", None), GridEntry("random", 64), GridEntry("spatial", 64)]


def test_unknown_keys_get_did_you_mean():
    errs = errors_of(base(shard_sise=4, replicas={"cuont": 2}, generation={"batch_size": 2, "max_new_token": 3}))
    assert any(e.startswith("shard_sise: unknown key") and "'shard_size'" in e for e in errs)
    assert any(e.startswith("replicas.cuont: unknown key") and "'count'" in e for e in errs)
    assert any(e.startswith("generation.max_new_token: unknown key") and "'max_new_tokens'" in e for e in errs)


def test_unknown_strategy_and_benchmark_names():
    errs = errors_of(base(benchmarks=["shapse", {"name": "pope", "lite": 0}],
                          grid=[{"strategy": "vispruners", "budget": 64}]))
    assert any(e.startswith("benchmarks[0].name: unknown benchmark 'shapse'") and "'shapes'" in e for e in errs)
    assert any(e.startswith("benchmarks[1].lite:") and ">= 1" in e for e in errs)
    assert any(e.startswith("grid[0].strategy: unknown strategy 'vispruners'") and "'vispruner'" in e for e in errs)


def test_unknown_model():
    errs = errors_of(base(models=["tiny-lava", "./no/such/dir", "llava-hf/llava-1.5-7b-hf"]))
    assert any(e.startswith("models[0]: unknown model 'tiny-lava'") and "'tiny-llava'" in e for e in errs)
    assert any(e.startswith("models[1]: local model path './no/such/dir' does not exist") for e in errs)
    assert not any(e.startswith("models[2]") for e in errs)   # hub id shape is accepted


def test_budget_ratio_and_params():
    errs = errors_of(base(grid=[
        {"strategy": "keep_all"},
        {"strategy": "vispruner", "budget": [600, 64], "ratio": [0.5, 1.5]},
        {"strategy": "vispruner", "budget": 64, "ratoi": 0.5},
        {"strategy": "vispruner"},
        {"strategy": "keep_all", "budget": 64},
    ]))
    assert any(e.startswith("grid[1].budget: T=600 exceeds the 576 visual tokens of 'tiny-llava'") for e in errs)
    assert any(e.startswith("grid[1].ratio: r must be in [0, 1], got 1.5") for e in errs)
    assert any(e.startswith("grid[2].ratoi: strategy 'vispruner' has no parameter 'ratoi'") and "'ratio'" in e
               for e in errs)
    assert any(e.startswith("grid[3].budget: 'vispruner' needs a token budget T") for e in errs)
    assert any(e.startswith("grid[4].budget: keep_all keeps every token") for e in errs)
    assert not any(e.startswith("grid[0]") for e in errs)
    assert len(errs) == 5                                      # all collected, one raise


def test_model_family_support_and_missing_data(tmp_path):
    errs = errors_of(base(models=["Qwen/Qwen2.5-VL-7B-Instruct"],
                          benchmarks=[{"name": "shapes", "source": str(tmp_path / "missing")}],
                          grid=[{"strategy": "visionzip", "budget": 64}]))
    assert any(e.startswith("grid[0].strategy: model 'Qwen/Qwen2.5-VL-7B-Instruct' (qwen2_5_vl) cannot run 'visionzip'")
               for e in errs)
    assert any(e.startswith("benchmarks[0].source: local data path") and "does not exist" in e for e in errs)
    ok = parse_config(base(benchmarks=[{"name": "shapes", "source": str(tmp_path)}]))
    assert ok.benchmarks[0].source == str(tmp_path)


def test_errors_are_reported_together_before_anything_starts(tmp_path):
    p = write(tmp_path, """
        models: [tiny-lava]
        benchmarks: [shapse]
        grid: [{strategy: vispruner, budget: 999, ratio: 2}]
        replicas: {count: 0}
        """)
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    msg = str(exc.value)
    for key in ("models[0]", "benchmarks[0].name", "grid[0].ratio", "replicas.count"):
        assert f"  - {key}:" in msg
    assert ray.is_initialized() is False


def test_decoder_strategy_budgets_and_layers_checked_against_the_model():
    errs = errors_of(base(grid=[{"strategy": "sparsevlm", "budget": [100, 64]},           # 100: no released schedule
                                {"strategy": "sparsevlm", "budget": 64, "layers": [[1, 3, 5]]},  # one value (lists are axes)
                                {"strategy": "fastv", "budget": 64, "layer": 8}]))             # K=8 of 8 layers
    assert any(e.startswith("grid[0]: sparsevlm() is invalid") and "T=100" in e and "valid budgets" in e for e in errs)
    # budget 64 with the default layers (2, 6, 15) cannot fit tiny-llava's 8 decoder layers
    assert any(e.startswith("grid[0]: sparsevlm() cannot run on 'tiny-llava' (8 decoder layers)") for e in errs)
    assert any(e.startswith("grid[2].layer: fastv(layer=8) cannot run on 'tiny-llava' (8 decoder layers)") for e in errs)
    assert not any(e.startswith("grid[1]") for e in errs)
    assert len(errs) == 3
    # the paper's defaults fit LLaVA-1.5-7B's 32 layers
    ok = parse_config(base(models=["llava-hf/llava-1.5-7b-hf"], grid=[{"strategy": "sparsevlm", "budget": [192, 64]},
                                                                      {"strategy": "fastv", "budget": 64, "layer": 2}]))
    assert [g.strategy for g in ok.grid] == ["sparsevlm", "sparsevlm", "fastv"]


def test_every_pinned_family_validates_and_a_family_without_an_adapter_fails_up_front(monkeypatch):
    import dataclasses

    from pruning.models import FAMILIES
    from pruning.models.pinned import PINNED

    # every pinned checkpoint's family has an adapter now (issues 11-14): each validates on its own
    for m, v in PINNED.items():
        assert FAMILIES[v["model_type"]].adapter, m
    assert parse_config(base(models=["llava-hf/llava-v1.6-vicuna-7b-hf"])).models == ("llava-hf/llava-v1.6-vicuna-7b-hf",)
    # a family recognised in the table but not wired (adapter=None) is refused before any work, by name
    monkeypatch.setitem(FAMILIES, "llava_next", dataclasses.replace(FAMILIES["llava_next"], adapter=None))
    errs = errors_of(base(models=["llava-hf/llava-1.5-7b-hf", "llava-hf/llava-v1.6-vicuna-7b-hf"]))
    assert any(e.startswith("models[1]: 'llava-hf/llava-v1.6-vicuna-7b-hf' is a llava_next model, which has no adapter")
               for e in errs), errs


def test_a_benchmark_listed_twice_is_an_error():
    errs = errors_of(base(benchmarks=["shapes", {"name": "shapes", "lite": 4}]))
    assert errs == ["benchmarks[1].name: benchmark 'shapes' is listed twice; a sweep holds each benchmark once "
                    "(run another split or source as its own sweep)"]


CONFIGS = sorted((pathlib.Path(__file__).resolve().parents[2] / "sweeps" / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_shipped_config_validates(path):
    assert len(CONFIGS) >= 3                        # demo, paper grid, nightly lite
    cfg = load_config(path)
    assert cfg.grid and cfg.models and cfg.benchmarks
    first = path.read_text().splitlines()[0]        # STYLE.md: a config's first line is the command that runs it
    assert first.startswith("# ") and "jobs/" in first


def test_scoring_rules():
    cfg = parse_config(base())
    assert cfg.scoring_rules == ()                                   # each benchmark's own rule (llava)
    both = parse_config(base(scoring={"rules": ["lmms_eval", "llava"]}))
    assert both.scoring_rules == ("lmms_eval", "llava")
    assert both.default_sweep_id() != cfg.default_sweep_id()       # other scores: another sweep
    assert parse_config(base(scoring={"rules": "exact"})).scoring_rules == ("lmms_eval",)
    errs = errors_of(base(scoring={"rules": ["llava", "lmms_evl", "llava"], "rule": "x"}))
    assert "scoring.rules[1]: unknown scoring rule 'lmms_evl'; did you mean 'lmms_eval'?" in errs
    assert any(e.startswith("scoring.rules[2]:") and "twice" in e for e in errs)
    assert any(e.startswith("scoring.rule:") and "did you mean 'rules'" in e for e in errs)
    errs = errors_of(base(benchmarks=[{"name": "pope", "params": {"rule": "llava"}}], scoring={"rules": ["llava"]}))
    assert any(e.startswith("benchmarks[0].params.rule:") for e in errs)
    assert any(e.startswith("scoring.rules:") for e in errors_of(base(scoring={"rules": []})))
