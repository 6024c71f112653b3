"""sweeps/yaml_load.py: duplicated keys and missing paths are named errors; valid YAML loads as yaml.safe_load does."""
import textwrap

import pytest
import yaml

from sweeps.yaml_load import YamlInputError, parse_yaml, read_yaml


def test_same_result_as_safe_load_without_duplicates():
    text = textwrap.dedent("""\
        base: &b {count: 2, max_in_flight: 1}
        replicas: {<<: *b, count: 3}
        grid:
          - {strategy: vispruner, budget: [64, 32], ratio: 0.5}
          - keep_all
        """)
    assert parse_yaml(text) == yaml.safe_load(text)          # a merge key may be overridden: not a duplicate


def test_duplicate_keys_are_named_with_their_lines():
    text = "name: a\nmodels: [tiny-llava]\nname: b\ngrid:\n  - {strategy: fastv, layer: 2, layer: 3}\n"
    with pytest.raises(YamlInputError) as e:
        parse_yaml(text)
    assert e.value.errors == ["key 'name' appears twice in one mapping (line 1 and line 3); keep one",
                              "key 'layer' appears twice in one mapping (line 5 and line 5); keep one"]


def test_missing_or_directory_config_path(tmp_path):
    with pytest.raises(YamlInputError, match=r"--config: no such file .*nope\.yaml"):
        read_yaml(tmp_path / "nope.yaml")
    with pytest.raises(YamlInputError, match="is not a file"):
        read_yaml(tmp_path)
    with pytest.raises(YamlInputError, match="not valid YAML"):
        parse_yaml("a: [1, 2\n")
