"""sweeps.controller.prepare: the driver-side work before any actor starts."""
import pytest

from sweeps.config import parse_config
from sweeps.controller import prepare


def _cfg(tmp_path, rows):
    import json

    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return parse_config({"models": ["tiny-llava"], "controls": False, "shard_size": 2,
                         "benchmarks": [{"name": "gqa", "source": str(tmp_path)}],
                         "grid": [{"strategy": "keep_all"}, {"strategy": "vispruner", "budget": 64, "ratio": 0.5}]})


def test_units_carry_every_grid_point_and_cover_each_sample_once(tmp_path):
    rows = [{"id": f"q{i}", "question": f"What is {i}?", "answer": "yes", "imageId": f"im{i}"} for i in range(5)]
    prep = prepare(_cfg(tmp_path, rows))
    assert sorted(s for u in prep.units for s in u.sample_ids) == [f"q{i}" for i in range(5)]
    assert all(len(u.points) == 2 for u in prep.units)
    assert prep.prompts["gqa"]["q0"] == "What is 0?\nAnswer the question using a single word or phrase."


def test_duplicate_sample_ids_fail_before_any_actor(tmp_path):
    rows = [{"id": "q1", "question": "a?", "answer": "yes", "imageId": "x"},
            {"id": "q1", "question": "b?", "answer": "no", "imageId": "y"}]
    with pytest.raises(ValueError, match=r"benchmark 'gqa': 1 sample id\(s\) occur more than once \(e.g. \['q1'\]\)"):
        prepare(_cfg(tmp_path, rows))


def test_scoring_rules_score_every_row_under_each_rule(tmp_path):
    import json

    from sweeps.benchmarks.rules import WithRules
    from sweeps.controller import Controller

    from tests.sweeps.benchmarks.bench_fixtures import png

    (tmp_path / "data.jsonl").write_text(json.dumps({"id": "q0", "question": "Is it?", "answer": "yes", "imageId": "x"}) + "\n")
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "x.jpg").write_bytes(png())
    cfg = parse_config({"models": ["tiny-llava"], "controls": False, "benchmarks": [{"name": "gqa", "source": str(tmp_path)}],
                        "grid": [{"strategy": "keep_all"}], "scoring": {"rules": ["llava", "lmms_eval"]}})
    prep = prepare(cfg)
    assert isinstance(prep.benchmarks["gqa"], WithRules) and prep.prompts["gqa"]["q0"].startswith("Is it?")
    (unit,) = prep.units
    ctl = Controller(cfg, "sw", None, prep)
    try:
        table = ctl.score_rows(unit, [{"sample_id": "q0", "point": 0, "prediction": "Yes!", "error": None}])
    finally:
        ctl.judges.shutdown()
    (scores,) = [json.loads(s) for s in table["scores"].to_pylist()]
    # GQA "Yes!" against "yes": LLaVA keeps the "!" (0), lmms-eval deletes punctuation (1); llava is primary
    assert table["score"].to_pylist() == [0.0] and scores["rule"] == "llava"
    assert {r: d["score"] for r, d in scores["rules"].items()} == {"llava": 0.0, "lmms_eval": 1.0}
