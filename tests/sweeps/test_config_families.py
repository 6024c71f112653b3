"""sweeps/config.py asks the family table: a model's family and spec come from its config (read without
weights), never from its name; an unknown model_type fails with its name and the known families."""
import json

import pytest
from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig

from pruning.models import FAMILIES, model_spec
from sweeps.config import ConfigError, parse_config


def errors_of(models, grid):
    with pytest.raises(ConfigError) as exc:
        parse_config({"models": models, "benchmarks": ["shapes"], "grid": grid, "controls": False})
    return exc.value.errors


def test_spec_is_read_from_the_config_not_the_name(tmp_path):
    # a directory NAMED like LLaVA-1.5-7B whose config has 4 decoder layers and 224 px (256 patches)
    d = tmp_path / "llava-1.5-7b-hf"
    cfg = LlavaConfig(vision_config=CLIPVisionConfig(image_size=224, patch_size=14),
                      text_config=LlamaConfig(num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=2,
                                              hidden_size=256, intermediate_size=512))
    cfg.save_pretrained(d)
    spec = model_spec(str(d))
    assert (spec.tokens, spec.depth, spec.heads, spec.kv_heads, spec.head_dim) == (256, 4, 8, 2, 32)
    errs = errors_of([str(d)], [{"strategy": "fastv", "budget": 64, "layer": 5}, {"strategy": "vispruner", "budget": 300}])
    assert any(f"cannot run on '{d}' (4 decoder layers)" in e for e in errs)
    assert any(e.startswith(f"grid[1].budget: T=300 exceeds the 256 visual tokens of '{d}'") for e in errs)


def test_unknown_model_type_names_itself_and_the_known_families(tmp_path):
    d = tmp_path / "some-model"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    errs = errors_of([str(d)], [{"strategy": "keep_all"}])
    assert len(errs) == 1 and errs[0].startswith("models[0]:")
    assert "model_type 'gpt2'" in errs[0] and all(t in errs[0] for t in FAMILIES)
