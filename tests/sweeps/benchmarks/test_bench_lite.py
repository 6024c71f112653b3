"""Lite subsets are a fair sample (seeded, stratified by category, whole groups, the same rows as a staged
lite copy), and GQA reads its images from the sibling testdev_balanced_images config of a raw download."""
from collections import Counter

import pytest

from sweeps.benchmarks import get_benchmark
from sweeps.benchmarks.lite import lite_positions
from sweeps.stage import stage
from tests.sweeps.benchmarks.bench_fixtures import image_struct, mme_row, png, pope_row, write_parquet


def sorted_pope(tmp_path, n_per=(40, 20, 20)):
    """A POPE file sorted by category, as the release is: every adversarial row first."""
    rows = []
    for cat, n in zip(("adversarial", "popular", "random"), n_per):
        rows += [pope_row(i, "yes" if i % 2 else "no", cat) for i in range(n)]
    return write_parquet(tmp_path / "pope", rows)


def test_lite_positions_hand_worked():
    # categories a (4 rows) and b (2 rows), n = 3: quotas 3*4/6 = 2 and 3*2/6 = 1
    keys = [("a", 0), ("a", 1), ("a", 2), ("a", 3), ("b", 4), ("b", 5)]
    for seed in range(5):
        keep = lite_positions(keys, 3, seed)
        assert keep == sorted(keep) and Counter(keys[i][0] for i in keep) == {"a": 2, "b": 1}
    assert lite_positions(keys, 6) == lite_positions(keys, 60) == list(range(6))
    # largest remainder: n = 2 -> shares 4/3 and 2/3 -> floors 1, 0 -> the extra row goes to b (.67 > .33)
    assert Counter(keys[i][0] for i in lite_positions(keys, 2, 0)) == {"a": 1, "b": 1}
    # groups stay whole: pairs (0,1) (2,3) in a
    pairs = [("a", 0), ("a", 0), ("a", 1), ("a", 1)]
    assert lite_positions(pairs, 2, 3) in ([0, 1], [2, 3])


def test_lite_load_is_stratified_seeded_and_the_staged_sample(tmp_path):
    src = str(sorted_pope(tmp_path))
    bench = get_benchmark("pope")
    first = [s.id for s in bench.load(src, limit=20)]
    assert Counter(i.split("/")[0] for i in first) == {"adversarial": 10, "popular": 5, "random": 5}   # not 20 adversarial
    assert first == [s.id for s in bench.load(src, limit=20)]                          # deterministic
    assert first != [s.id for s in bench.load(src, limit=20, seed=1)]                  # seeded
    stage("pope", src, tmp_path / "staged", lite=20, seed=0)
    assert [s.id for s in bench.load(str(tmp_path / "staged"))] == first              # the same rows as staging
    order = [s.id for s in bench.load(src)]
    assert [order.index(i) for i in first] == sorted(order.index(i) for i in first)    # file order kept
    assert len(bench.load(src, limit=500)) == 80 and bench.load(src, limit=0) == []
    with pytest.raises(ValueError, match=">= 0"):
        bench.load(src, limit=-1)


def test_lite_mme_covers_every_subtask_with_whole_pairs(tmp_path):
    q = "Is it? Please answer yes or no."
    rows = [mme_row(f"{t}{i}.jpg", t, q, a) for t in ("existence", "count", "OCR", "code_reasoning")
            for i in range(6) for a in ("Yes", "No")]                # sorted by subtask, 12 rows each
    samples = get_benchmark("mme").load(str(write_parquet(tmp_path / "mme", rows)), limit=16)
    assert Counter(s.meta["category"] for s in samples) == {"existence": 4, "count": 4, "OCR": 4, "code_reasoning": 4}
    assert set(Counter(s.meta["image_key"] for s in samples).values()) == {2}


def gqa_row(i, image_id, structural="query"):
    """A testdev_balanced_instructions row in the release's schema (no image column)."""
    return {"id": f"q{i}", "imageId": image_id, "question": f"What is {i}?", "answer": "cat", "fullAnswer": "It is a cat.",
            "isBalanced": True, "groups": {"global": None, "local": "10c-cat"}, "entailed": "", "equivalent": f"q{i}",
            "types": {"structural": structural, "semantic": "obj", "detailed": "objThisChoose"},
            "annotations": {"answer": {"0": "2"}, "question": {"0": "2"}, "fullAnswer": {"0": "2"}},
            "semantic": [{"operation": "select", "argument": "cat", "dependencies": []}], "semanticStr": ""}


def gqa_download(tmp_path):
    """lmms-lab/GQA as downloaded: one folder per config, split-named Parquet files."""
    root = tmp_path / "GQA"
    write_parquet(root / "testdev_balanced_instructions",
                  [gqa_row(i, f"n{i % 3}", "verify" if i < 4 else "query") for i in range(8)],
                  name="testdev-00000-of-00001.parquet")
    write_parquet(root / "testdev_balanced_images",
                  [{"id": f"n{k}", "image": image_struct(png((40 * k, 0, 0)), None)} for k in range(4)],
                  name="testdev-00000-of-00001.parquet")
    return root


def test_gqa_raw_download_joins_images_on_image_id(tmp_path):
    root = gqa_download(tmp_path)
    bench = get_benchmark("gqa")
    samples = bench.load(str(root))
    assert len(samples) == 8 and all(s.error is None for s in samples)
    for s in samples:
        k = int(s.meta["image_id"][1:])
        assert s.pil_image().getpixel((0, 0)) == (40 * k, 0, 0)            # the image named by imageId
    inner = bench.load(str(root / "testdev_balanced_instructions"))         # pointed at the instructions folder
    assert [s.image for s in inner] == [s.image for s in samples]
    lite = bench.load(str(root), limit=4)                                    # sample first, then join
    assert len(lite) == 4 and all(s.image is not None for s in lite)
    assert Counter(s.meta["category"] for s in lite) == {"verify": 2, "query": 2}
    stage("gqa", str(root), tmp_path / "staged")                            # the staged copy embeds them
    assert [s.image for s in bench.load(str(tmp_path / "staged"))] == [s.image for s in samples]


def test_gqa_image_missing_from_the_images_config_is_an_error_sample(tmp_path):
    root = gqa_download(tmp_path)
    write_parquet(root / "testdev_balanced_instructions", [gqa_row(0, "n0"), gqa_row(1, "gone")],
                  name="testdev-00000-of-00001.parquet")
    ok, missing = get_benchmark("gqa").load(str(root))
    assert ok.error is None and missing.error is not None and "missing image" in missing.error
