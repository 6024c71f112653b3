"""Replica (in-process, the same class the Ray actor wraps): vision once per batch, every grid point, bad samples become error rows."""
import dataclasses

import pytest

from cluster.replica import Payload, Replica
from pruning.types import PrunePlan
from sweeps.benchmarks import get_benchmark
from sweeps.grid import GridPoint

POINTS = [GridPoint("keep_all", None), GridPoint("vispruner", 16, (("ratio", 0.5),))]


@pytest.fixture(scope="module")
def replica():
    return Replica("tiny-llava", "r-test", threads=2)


@pytest.fixture(scope="module")
def data():
    bench = get_benchmark("shapes")
    samples = bench.load(None, limit=4)
    samples[2] = dataclasses.replace(samples[2], image=b"not an image")     # corrupt bytes
    return samples, [bench.prompt(s) for s in samples]


def count_encodes(replica):
    calls = []
    real = replica.vlm.encode

    def encode(images):
        calls.append(len(images))
        return real(images)

    replica.vlm.encode = encode
    return calls, lambda: setattr(replica.vlm, "encode", real)


def test_rows_match_direct_generate_and_vision_runs_once(replica, data):
    samples, prompts = data
    calls, restore = count_encodes(replica)
    try:
        rows = replica.run(Payload("u", samples, prompts, [p.to_dict() for p in POINTS], 3, batch_size=4))
    finally:
        restore()
    assert calls == [3]                       # one batch, 3 decodable images, encoded once for both points
    assert len(rows) == len(samples) * len(POINTS)
    assert {(r["point"], r["sample_id"]) for r in rows} == {(k, s.id) for k in range(2) for s in samples}
    bad = [r for r in rows if r["sample_id"] == samples[2].id]
    assert len(bad) == 2 and all("corrupt image" in r["error"] and r["prediction"] is None for r in bad)
    good = [s for i, s in enumerate(samples) if i != 2]
    # independent reference: the adapter called directly, one encode per point
    for k, point in enumerate(POINTS):
        vis = replica.vlm.encode([s.pil_image() for s in good])
        ref = replica.vlm.generate([prompts[i] for i in (0, 1, 3)], PrunePlan(point.strategy, point.budget, dict(point.params)),
                                   vision=vis, max_new_tokens=3, sample_keys=[s.id for s in good])
        got = {r["sample_id"]: r for r in rows if r["point"] == k and r["error"] is None}
        assert [got[s.id]["prediction"] for s in good] == [o.text for o in ref]
        assert [got[s.id]["n_visual_kept"] for s in good] == [576 if point.budget is None else 16] * 3
        assert all(got[s.id]["prefill_flops"] == o.flops for s, o in zip(good, ref))
        assert all(r["replica"] == "r-test" and r["t_prefill"] > 0 for r in got.values())


def test_one_encode_per_batch_not_per_point(replica, data):
    samples, prompts = data
    calls, restore = count_encodes(replica)
    try:
        rows = replica.run(Payload("u", [samples[0], samples[1], samples[3]], [prompts[0], prompts[1], prompts[3]],
                                   [p.to_dict() for p in POINTS], 2, batch_size=2))
    finally:
        restore()
    assert calls == [2, 1]                    # batches of 2 and 1, each encoded once for both grid points
    assert len(rows) == 6 and all(r["error"] is None for r in rows)


def test_failing_generate_becomes_error_rows_not_a_failed_unit(replica, data):
    samples, prompts = data
    # budget T=577 > 576 visual tokens: the adapter refuses the plan; every sample gets an error row
    points = [POINTS[0].to_dict(), {"strategy": "vispruner", "budget": 577, "params": {"ratio": 0.5}}]
    rows = replica.run(Payload("u", [samples[0]], [prompts[0]], points, 2, batch_size=4))
    assert rows[0]["error"] is None and rows[0]["prediction"]  is not None
    assert "exceeds the 576 visual tokens" in rows[1]["error"] and rows[1]["prediction"] is None
