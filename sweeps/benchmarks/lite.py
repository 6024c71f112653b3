"""The lite subset: about n rows drawn per category, seeded, whole groups, file order kept.

One function for both places a subset is taken: `bench.load(source, limit=n)` (a sweep's `lite: n`)
and `python -m sweeps.stage --lite n --seed s`, so a lite run scores exactly the rows a staged lite
copy holds, and a file sorted by category (POPE adversarial/popular/random, MME subtasks) still gives
every category its share. Quotas are proportional to each category's share of rows (largest
remainder); within a category whole groups (MME image pairs, MMBench rotations) are drawn with
`random.Random(seed)` until the quota is met.
"""
from __future__ import annotations

import random
from collections import defaultdict
from typing import Hashable

DEFAULT_SEED = 0


def lite_positions(keys: list[tuple[Hashable, Hashable]], n: int, seed: int = DEFAULT_SEED) -> list[int]:
    """Positions (ascending) of about n rows, given each row's (category, group) in file order."""
    if n >= len(keys):
        return list(range(len(keys)))
    groups: dict[str, list[int]] = defaultdict(list)
    for i, (_, group) in enumerate(keys):
        groups[str(group)].append(i)
    by_cat: dict[str, list[str]] = defaultdict(list)
    for g, idx in groups.items():
        by_cat[str(keys[idx[0]][0])].append(g)
    total = len(keys)
    share = {c: n * sum(len(groups[g]) for g in gs) / total for c, gs in by_cat.items()}
    quota = {c: int(v) for c, v in share.items()}
    for c in sorted(share, key=lambda c: (-(share[c] - quota[c]), c))[: n - sum(quota.values())]:
        quota[c] += 1
    rng = random.Random(seed)
    keep: list[int] = []
    for c in sorted(by_cat):
        gs = sorted(by_cat[c])
        rng.shuffle(gs)
        taken = 0
        for g in gs:
            if taken >= quota[c]:
                break
            keep.extend(groups[g])
            taken += len(groups[g])
    return sorted(keep)


def row_keys(bench, rows) -> list[tuple[Hashable, Hashable]]:
    """(category, group) of every raw row, the strata and units of the lite draw."""
    return [(bench.row_category(r), bench.row_group(r, i)) for i, r in enumerate(rows)]
