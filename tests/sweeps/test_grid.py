"""Grid points and work units: stable ids, full coverage, determinism."""
from dataclasses import dataclass

from sweeps.config import parse_config
from sweeps.grid import GridPoint, make_units


@dataclass
class S:
    id: str


def cfg(**over):
    d = {"models": ["tiny-llava", "llava-hf/llava-1.5-7b-hf"], "benchmarks": ["shapes", {"name": "pope", "lite": 3}],
         "grid": [{"strategy": "vispruner", "budget": [64, 32], "ratio": [0.5, 0.75]}], "shard_size": 4}
    d.update(over)
    return parse_config(d)


def test_point_ids_and_run_names():
    p = GridPoint("vispruner", 64, (("ratio", 0.75),))
    assert p.point_id == "vispruner/T64/r0.75"
    assert p.run_name("llava-hf/llava-1.5-7b-hf", "pope") == "llava-1.5-7b-hf/pope/vispruner/T64-r0.75"
    assert p.plan.strategy == "vispruner" and p.plan.budget == 64 and p.plan.params == {"ratio": 0.75}
    assert p.plan.label == p.point_id                         # same key as PrunePlan.label
    assert GridPoint("keep_all", None).point_id == "keep_all/Tall"
    assert GridPoint("fastv", 64, (("layer", 2),)).point_id == "fastv/T64/layer=2"
    assert GridPoint.from_dict(p.to_dict()) == p


def test_units_cover_every_sample_once_with_all_points():
    c = cfg()
    samples = {"shapes": [S(f"s{i}") for i in range(10)], "pope": [S(f"p{i}") for i in range(3)]}
    units = make_units(c, samples, {"shapes": 8, "pope": 128})
    # 2 models x (ceil(10/4) + ceil(3/4)) shards
    assert len(units) == 2 * (3 + 1)
    n_points = len(c.grid)
    assert n_points == 4 + 1 + 2 * 2                          # vispruner 2x2 + keep_all + random/spatial per T
    for u in units:
        assert len(u.points) == n_points
    for model in c.models:
        for bench, ss in samples.items():
            ids = [i for u in units if u.model == model and u.benchmark == bench for i in u.sample_ids]
            assert ids == [s.id for s in ss]
    assert [len(u.sample_ids) for u in units if u.benchmark == "shapes"][:3] == [4, 4, 2]
    assert len({u.unit_id for u in units}) == len(units)
    assert {u.max_new_tokens for u in units if u.benchmark == "pope"} == {128}


def test_unit_ids_are_deterministic_and_content_addressed():
    samples = {"shapes": [S(f"s{i}") for i in range(10)], "pope": [S(f"p{i}") for i in range(3)]}
    a = [u.unit_id for u in make_units(cfg(), samples, {"shapes": 8, "pope": 128})]
    b = [u.unit_id for u in make_units(cfg(), samples, {"shapes": 8, "pope": 128})]
    assert a == b
    c = [u.unit_id for u in make_units(cfg(shard_size=5), samples, {"shapes": 8, "pope": 128})]
    # shapes re-shards (10 samples: 4/4/2 -> 5/5); pope's 3 samples form the same single shard either way
    assert {i for i in a if i.startswith("shapes")}.isdisjoint(c)
    assert {i for i in a if i.startswith("pope")} == {i for i in c if i.startswith("pope")}
    d = [u.unit_id for u in make_units(cfg(grid=[{"strategy": "vispruner", "budget": 64, "ratio": 0.5}]),
                                       samples, {"shapes": 8, "pope": 128})]
    assert not set(a) & set(d)
    e = [u.unit_id for u in make_units(cfg(), samples, {"shapes": 9, "pope": 128})]
    assert set(a) & set(e) and set(a) != set(e)               # only the shapes units change


def test_sequence_valued_param_is_one_grid_value_and_round_trips():
    import json

    from sweeps.config import parse_config
    from sweeps.grid import GridPoint, grid_points

    cfg = parse_config({"models": ["tiny-llava"], "benchmarks": ["shapes"], "controls": False,
                        "grid": [{"strategy": "sparsevlm", "budget": [64, 128], "layers": [[1, 3, 5]]}]})
    points = grid_points(cfg)
    assert [p.point_id for p in points] == ["sparsevlm/T64/layers=1,3,5", "sparsevlm/T128/layers=1,3,5"]
    assert points[0].plan.params == {"layers": (1, 3, 5)}
    assert GridPoint.from_dict(json.loads(json.dumps(points[0].to_dict()))) == points[0]
