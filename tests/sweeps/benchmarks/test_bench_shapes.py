"""shapes: deterministic for a seed, balanced, images really show the recorded objects, per-type/quadrant scoring."""
import io
import json
from collections import Counter

from PIL import Image

from sweeps.benchmarks import get_benchmark
from sweeps.benchmarks.shapes import CELL, COLORS, QUADRANTS, quadrant_of, shapes_answer


def test_deterministic_for_a_seed():
    a = get_benchmark("shapes", seed=1, n=32).load()
    b = get_benchmark("shapes", seed=1, n=32).load("generate")
    c = get_benchmark("shapes", seed=2, n=32).load()
    assert [(x.id, x.question, x.answer, x.image) for x in a] == [(x.id, x.question, x.answer, x.image) for x in b]
    assert [x.image for x in a] != [x.image for x in c]
    assert [x.id for x in get_benchmark("shapes", seed=1).load(limit=8)] == [x.id for x in a[:8]]


def test_balanced_types_answers_and_quadrants():
    samples = get_benchmark("shapes", seed=0, n=64).load()
    assert len(samples) == 64 and all(s.error is None for s in samples)
    assert Counter(s.meta["category"] for s in samples) == {"existence": 16, "color": 16, "count": 16, "position": 16}
    assert Counter(s.answer for s in samples if s.meta["category"] == "existence") == {"yes": 8, "no": 8}
    for qtype in ("color", "position"):
        assert Counter(s.meta["quadrant"] for s in samples if s.meta["category"] == qtype) == {q: 4 for q in QUADRANTS}
    assert all(len(s.answer.split()) == 1 for s in samples)


def test_images_show_the_recorded_objects_and_answers_hold():
    for s in get_benchmark("shapes", seed=5, n=40).load():
        img = Image.open(io.BytesIO(s.image)).convert("RGB")
        assert img.size == (336, 336)
        objects = json.loads(s.meta["objects"])
        for o in objects:
            r, c = o["cell"]
            cx, cy = c * CELL + CELL // 2, r * CELL + CELL // 2 + 8      # inside circle, square and triangle
            assert img.getpixel((cx, cy)) == COLORS[o["color"]], (s.id, o)
            assert o["quadrant"] == quadrant_of((r, c))
        kind = s.meta["category"]
        if kind == "count":
            shape = s.question.split()[2][:-1]
            assert s.answer == str(sum(o["shape"] == shape for o in objects))
        elif kind == "existence":
            _, _, _, color, shape = s.question.rstrip("?").split()[:5]
            assert (s.answer == "yes") == any((o["color"], o["shape"]) == (color, shape) for o in objects)
        elif kind == "color":
            shape = s.question.rstrip("?").split()[-1]
            assert [o["color"] for o in objects if o["shape"] == shape] == [s.answer]
        else:
            color, shape = s.question.split("?")[0].split()[-2:]
            (o,) = [o for o in objects if (o["color"], o["shape"]) == (color, shape)]
            assert o["quadrant"] == s.answer == s.meta["quadrant"]


def test_scoring_by_type_and_quadrant():
    assert shapes_answer("Top left.") == "top left" and shapes_answer("Two") == "2"
    bench = get_benchmark("shapes", seed=0, n=16)
    samples = bench.load()
    # answer everything right except position questions in the top-left quadrant
    preds = ["bottom right" if s.meta["category"] == "position" and s.answer == "top-left" else f"{s.answer.capitalize()}."
             for s in samples]
    scores = [bench.score(s, p) for s, p in zip(samples, preds)]
    agg = bench.aggregate(scores)
    n_wrong = sum(s.meta["category"] == "position" and s.answer == "top-left" for s in samples)
    assert n_wrong == 1
    assert agg["accuracy"] == (16 - 1) / 16 and agg["acc_by_type/position"] == 3 / 4
    assert agg["acc_by_quadrant/top-left"] < 1.0 and agg["acc_by_quadrant/bottom-right"] == 1.0
    assert bench.score(samples[0], "Yes, there is one.")["score"] == float(samples[0].answer == "yes")
    assert bench.prompt(samples[0]).endswith("\nAnswer the question using a single word or phrase.")
