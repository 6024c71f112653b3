"""Replica on tiny-llava-next: rows carry the packed anyres counts, error rows included (shapes images are
336 x 336: base + a 1 x 2 grid unpadded to 24 x 24 tokens + 24 newlines = 1176 with nothing pruned)."""
from cluster.replica import Payload, Replica
from sweeps.benchmarks import get_benchmark


def test_rows_and_error_rows_carry_the_packed_count():
    bench = get_benchmark("shapes")
    samples = bench.load(None, limit=2)
    replica = Replica("tiny-llava-next", "r-next", threads=2)
    points = [{"strategy": "fastv", "budget": 8, "params": {"layer": 2}},
              {"strategy": "vispruner", "budget": 577, "params": {"ratio": 0.5}}]  # T > 576 per crop: refused
    rows = replica.run(Payload("u", samples, [bench.prompt(s) for s in samples], points, 1, batch_size=2))
    fastv, refused = rows[:2], rows[2:]
    assert [(r["n_visual_in"], r["n_visual_kept"], r["error"]) for r in fastv] == [(1176, 8 * 3, None)] * 2
    assert [r["n_visual_in"] for r in refused] == [1176, 1176]
    assert all("exceeds the 576 visual tokens" in r["error"] for r in refused)
