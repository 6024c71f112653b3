"""Read a sweep YAML file strictly: a missing path or a duplicated key is a named error, never a silent last-wins.

    from sweeps.yaml_load import read_yaml
    text, data = read_yaml("sweeps/configs/demo.yaml")     # raises YamlInputError with one line per problem
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml


class YamlInputError(ValueError):
    """The file cannot be read as one unambiguous YAML document; `errors` are one line each."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("; ".join(errors))


class StrictLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a mapping holding the same key twice (PyYAML keeps the last one)."""


def _mapping(loader: StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:                # the keys as written; merged-in (<<: *anchor) keys may be overridden
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            if key in seen:
                loader.duplicates.append(f"key {key!r} appears twice in one mapping (line {seen[key]} and line "
                                         f"{line}); keep one")
            else:
                seen[key] = line
        except TypeError:                         # an unhashable key: construct_mapping reports it
            continue
    loader.flatten_mapping(node)
    return loader.construct_mapping(node, deep=True)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def parse_yaml(text: str) -> Any:
    """One YAML document; YamlInputError for a syntax error or any duplicated key (each named with its lines)."""
    loader = StrictLoader(text)
    loader.duplicates = []
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        raise YamlInputError([f"not valid YAML: {' '.join(str(exc).split())}"]) from None
    finally:
        loader.dispose()
    if loader.duplicates:
        raise YamlInputError(list(dict.fromkeys(loader.duplicates)))
    return data


def read_yaml(path: str | os.PathLike) -> tuple[str, Any]:
    """(text, data) of a YAML file; YamlInputError naming the path when it is missing, a directory or unreadable."""
    p = Path(path).expanduser()
    if not p.exists():
        raise YamlInputError([f"--config: no such file {str(path)!r} (give the path of a sweep YAML, "
                              "e.g. sweeps/configs/demo.yaml)"])
    if not p.is_file():
        raise YamlInputError([f"--config: {str(path)!r} is not a file (give the path of a sweep YAML)"])
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlInputError([f"--config: cannot read {str(path)!r}: {exc}"]) from None
    return text, parse_yaml(text)
