"""PrunePlan as the one grid point (one key format, hashable, plain-data round trip) and VisionTokens' typed
signals, the extra={...} constructor mapping, and rows -> samples."""
import dataclasses
import json

import pytest
import torch

from pruning import PrunePlan, VisionTokens


def test_plan_key_is_one_format_and_plans_hash_by_content():
    p = PrunePlan("vispruner", 64, {"ratio": 0.75})
    assert p.key == p.label == p.point_id == "vispruner/T64/r0.75"
    assert PrunePlan("fastv", 64, {"layer": 2}).key == "fastv/T64/layer=2"
    assert PrunePlan("fastv", 64, {"layer": 2}).label == "fastv/T64"      # display only, never a key
    assert PrunePlan("sparsevlm", 64, {"layers": [1, 3, 5]}).key == "sparsevlm/T64/layers=1,3,5"
    assert PrunePlan("keep_all").key == "keep_all/Tall"
    # parameter order, pairs vs mapping and list vs tuple do not make a different point
    a = PrunePlan("visionzip", 64, {"dominant": 54, "contextual": 10})
    b = PrunePlan("visionzip", 64, (("contextual", 10), ("dominant", 54)))
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1 and a.key == "visionzip/T64/contextual=10/dominant=54"
    assert PrunePlan.from_dict(json.loads(json.dumps(a.to_dict()))) == a
    assert PrunePlan.of(a.to_dict()) == a and PrunePlan.of(a) is a
    assert p.run_name("llava-hf/llava-1.5-7b-hf", "pope") == "llava-1.5-7b-hf/pope/vispruner/T64-r0.75"


def test_plan_budget_is_checked_when_built():
    plan = PrunePlan("vispruner", 0, {"ratio": 0.5})   # carried as data (e.g. to a replica) ...
    with pytest.raises(ValueError, match="PrunePlan.budget must be a positive integer"):
        plan.build()                                     # ... and refused where it would run


def test_extra_constructor_maps_onto_typed_fields_and_stays_a_mapping():
    B, N, C, D = 2, 16, 8, 12
    Z, a, P = torch.randn(B, N, C), torch.rand(B, N), torch.randn(B, N, D)
    vt = VisionTokens(features=Z, attention=a, extra={"projected": P, "last_attention": a, "num_heads": 4})
    assert vt.projected is P and vt.last_attention is a and vt.last_keys is None
    assert vt.extra["projected"] is P and vt.extra["num_heads"] == 4 and "last_keys" not in vt.extra
    assert set(vt.extra) == {"projected", "last_attention", "num_heads"}
    keys = torch.tensor([5, 6])
    vt.extra["sample_keys"] = keys                       # writing through extra sets the field strategies read
    assert vt.sample_keys is keys
    other = dataclasses.replace(vt, extra={**vt.extra, "projected": P * 2})
    assert torch.equal(other.projected, P * 2) and other.sample_keys is keys and other.extra["num_heads"] == 4
    one = vt.take([1])
    assert torch.equal(one.projected, P[1:]) and torch.equal(one.sample_keys, keys[1:]) and one.extra["num_heads"] == 4


def test_rows_map_to_samples_and_a_subset_of_samples_keeps_all_their_rows():
    R, N, C = 5, 4, 3
    Z = torch.arange(R * N * C, dtype=torch.float32).view(R, N, C)
    vt = VisionTokens(features=Z, attention=torch.rand(R, N), row_sample=(0, 0, 0, 1, 1),
                      layouts=({"crops": 3}, {"crops": 2}))
    assert vt.num_samples == vt.batch_size == 2 and vt.num_rows == 5 and vt.counts == [12, 8]
    sub = vt.take_samples([1])
    assert sub.row_sample == (0, 0) and sub.layouts == ({"crops": 2},) and torch.equal(sub.features, Z[3:])
    swapped = vt.take_samples([1, 0])
    assert swapped.row_sample == (0, 0, 1, 1, 1) and torch.equal(swapped.features, Z[[3, 4, 0, 1, 2]])
    with pytest.raises(ValueError, match="row_sample"):
        VisionTokens(features=Z, attention=torch.rand(R, N), row_sample=(0, 2, 2, 2, 2))
    with pytest.raises(ValueError, match="layouts has 1 entries for 2 samples"):
        VisionTokens(features=Z, attention=torch.rand(R, N), row_sample=(0, 0, 0, 1, 1), layouts=({},))


def test_sample_counts_override_rows_times_n_and_follow_a_subset_of_samples():
    R, N, C = 5, 4, 3
    vt = VisionTokens(features=torch.rand(R, N, C), attention=torch.rand(R, N), row_sample=(0, 0, 0, 1, 1),
                      sample_counts=(11, 7))  # e.g. anyres: fewer tokens than rows x N after unpadding
    assert vt.counts == [11, 7]
    assert vt.take_samples([1, 0]).counts == [7, 11] and vt.take([1]).counts == [7]
    flat = VisionTokens(features=torch.rand(2, N, C), attention=torch.rand(2, N), sample_counts=(3, 5))
    assert flat.take([1]).counts == [5] and VisionTokens(features=torch.rand(2, N, C), attention=torch.rand(2, N)).counts == [4, 4]
    with pytest.raises(ValueError, match="sample_counts has 1 entries for 2 samples"):
        VisionTokens(features=torch.rand(R, N, C), attention=torch.rand(R, N), row_sample=(0, 0, 0, 1, 1), sample_counts=(3,))
