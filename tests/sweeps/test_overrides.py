"""--set KEY=VALUE / --limit N: paths and YAML-typed values, validated like the file, recorded in the stored config."""
import pytest
import yaml

from sweeps.config import ConfigError, load_config
from sweeps.overrides import OverrideError, apply, parse_item, parse_path, set_value

CONFIG = """\
# python jobs/sweep.py --config demo.yaml
name: demo
models: [tiny-llava]
benchmarks:
  - {name: shapes, lite: 32}
  - pope
grid:
  - {strategy: vispruner, budget: [144, 64], ratio: [0.5]}
replicas: {count: 2}
"""


def _cfg(tmp_path, **kw):
    p = tmp_path / "demo.yaml"
    p.write_text(CONFIG)
    return load_config(p, **kw)


def test_paths_and_values():
    assert parse_path("benchmarks[0].lite") == parse_path("benchmarks.0.lite") == ["benchmarks", 0, "lite"]
    for bad in ("a..b", ".a", "a[x]", "a]", ""):
        with pytest.raises(OverrideError):
            parse_path(bad)
    assert parse_item("grid[0].budget=[64, 32]") == ("grid[0].budget", [64, 32])
    assert parse_item("controls=false") == ("controls", False)
    assert parse_item("mlflow.tracking_uri=http://127.0.0.1:5000") == ("mlflow.tracking_uri", "http://127.0.0.1:5000")
    with pytest.raises(OverrideError, match="KEY=VALUE"):
        parse_item("replicas.count")
    d = {"benchmarks": ["pope"], "replicas": {"count": 2}}
    set_value(d, "benchmarks[0].lite", 8)                       # a bare benchmark name becomes a mapping
    set_value(d, "mlflow.experiment", "x")                      # missing sections are created
    assert d == {"benchmarks": [{"name": "pope", "lite": 8}], "replicas": {"count": 2}, "mlflow": {"experiment": "x"}}
    with pytest.raises(OverrideError, match="past the end"):
        set_value(d, "benchmarks[3].lite", 1)


def test_overrides_change_the_config_and_are_stored(tmp_path):
    base = _cfg(tmp_path)
    cfg = _cfg(tmp_path, overrides=["replicas.count=1", "grid[0].budget=[64]", "benchmarks[1].lite=4"],
               limit=8, command="python jobs/sweep.py --config demo.yaml --set replicas.count=1")
    assert cfg.replicas.count == 1
    assert [g.budget for g in cfg.grid if g.strategy == "vispruner"] == [64]
    assert {b.name: b.lite for b in cfg.benchmarks} == {"shapes": 8, "pope": 4}   # --limit caps, never raises
    assert _cfg(tmp_path, limit=64).benchmarks[0].lite == 32
    # recorded: the stored text is the overridden config (and says how it was made); other results, other id
    assert cfg.text.startswith("# python jobs/sweep.py --config demo.yaml --set replicas.count=1\n")
    assert yaml.safe_load(cfg.text) == cfg.raw and cfg.raw["replicas"] == {"count": 1}
    assert cfg.default_sweep_id() != base.default_sweep_id()
    # an override that does not change results (replicas) keeps the sweep id, so a rerun resumes
    assert _cfg(tmp_path, overrides=["replicas.count=1"]).default_sweep_id() == base.default_sweep_id()
    assert base.text == CONFIG                                   # no overrides: the file as written


def test_overrides_are_validated_like_the_file(tmp_path):
    with pytest.raises(ConfigError) as e:
        _cfg(tmp_path, overrides=["replicas.cout=1", "grid[0].ratio=1.5", "shard_size=-1"])
    msg = str(e.value)
    assert "replicas.cout: unknown key; did you mean 'count'?" in msg
    assert "grid[0].ratio: r must be in [0, 1], got 1.5" in msg
    assert "shard_size: must be an integer >= 1, got -1" in msg
    with pytest.raises(ConfigError, match="write KEY=VALUE"):
        _cfg(tmp_path, overrides=["nonsense"])


def test_apply_without_overrides_is_identity():
    data = {"a": 1}
    assert apply(data) == (data, None)
