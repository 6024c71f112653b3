"""shapes: a generated diagnostic benchmark that shows a pruning method's positional bias directly.

    get_benchmark("shapes", seed=0, n=64).load()          # or load("generate"); also stageable:
    python -m sweeps.stage shapes --source generate --out /shared/benchmarks/shapes --lite 64 --seed 0

Each sample is a 336x336 PNG (CLIP-L/14-336 input size) on a 4x4 grid of 84-px cells holding 1-4
coloured shapes (circle / square / triangle; red / green / blue / yellow), and one question:
  existence  "Is there a red circle in the image?"   yes / no, balanced (POPE-style)
  color      "What color is the square?"              the shape is unique in the image
  count      "How many triangles are there in the image?"   a digit
  position   "Where is the blue circle? ..."          top-left / top-right / bottom-left / bottom-right
Types cycle evenly; the queried object's quadrant cycles over the four quadrants (existence "no",
and count questions, have quadrant "none"). Answers are single words. Deterministic for a seed.
Score: the reply, lower-cased, "-"/"_" as spaces, punctuation and articles dropped, number words as
digits, must equal the answer or start with it followed by a word boundary ("Yes, there is" -> yes).
Aggregate: accuracy, acc_by_type/<type>, acc_by_quadrant/<quadrant>.
"""
from __future__ import annotations

import io
import json
import random
import re
from pathlib import Path
from typing import Any, ClassVar

from sweeps.benchmarks.base import Sample
from sweeps.benchmarks.lite import DEFAULT_SEED
from sweeps.benchmarks.loading import HubBenchmark, RowError, required
from sweeps.benchmarks.scoring import error_score, mean, mean_by, split_errors
from sweeps.benchmarks.vqa_normalize import NUMBER_WORDS
from sweeps.benchmarks.vqav2 import SHORT_ANSWER

SIZE, GRID = 336, 4
CELL = SIZE // GRID                         # 84 px
SHAPES = ("circle", "square", "triangle")
COLORS = {"red": (220, 30, 30), "green": (30, 170, 60), "blue": (30, 70, 220), "yellow": (235, 200, 20)}
QUADRANTS = ("top-left", "top-right", "bottom-left", "bottom-right")
TYPES = ("existence", "color", "count", "position")
PLURAL = {"circle": "circles", "square": "squares", "triangle": "triangles"}


def quadrant_of(cell: tuple[int, int]) -> str:
    row, col = cell
    return f"{'top' if row < GRID // 2 else 'bottom'}-{'left' if col < GRID // 2 else 'right'}"


def cells_in(quadrant: str) -> list[tuple[int, int]]:
    return [(r, c) for r in range(GRID) for c in range(GRID) if quadrant_of((r, c)) == quadrant]


def draw(objects: list[dict[str, Any]]) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (SIZE, SIZE), (245, 245, 245))
    d = ImageDraw.Draw(img)
    for o in objects:
        r, c = o["cell"]
        x0, y0, pad = c * CELL, r * CELL, 14
        box = (x0 + pad, y0 + pad, x0 + CELL - pad, y0 + CELL - pad)
        fill = COLORS[o["color"]]
        if o["shape"] == "circle":
            d.ellipse(box, fill=fill)
        elif o["shape"] == "square":
            d.rectangle(box, fill=fill)
        else:
            d.polygon([((box[0] + box[2]) // 2, box[1]), (box[0], box[3]), (box[2], box[3])], fill=fill)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _scene(rng: random.Random, target: dict[str, Any] | None, n_objects: int, avoid=None, unique_shape=False) -> list[dict[str, Any]]:
    """Objects on distinct cells: the target first, then distractors that keep the question's answer true."""
    objects = [target] if target else []
    free = [(r, c) for r in range(GRID) for c in range(GRID) if not target or (r, c) != tuple(target["cell"])]
    rng.shuffle(free)
    while len(objects) < n_objects and free:
        o = {"shape": rng.choice(SHAPES), "color": rng.choice(sorted(COLORS)), "cell": free.pop()}
        if avoid and (o["color"], o["shape"]) == avoid:
            continue
        if target and (o["color"], o["shape"]) == (target["color"], target["shape"]):
            continue                        # the target stays the only one of its kind
        if unique_shape and target and o["shape"] == target["shape"]:
            continue
        objects.append(o)
    return objects


def generate_rows(seed: int = 0, n: int = 64) -> list[dict[str, Any]]:
    """n rows (the benchmark's own schema) from a seed; question types and target quadrants cycle evenly."""
    rng = random.Random(seed)
    rows, n_exist = [], 0
    placed = {t: 0 for t in TYPES}          # per type: questions so far that name an object's quadrant
    for i in range(n):
        qtype = TYPES[i % len(TYPES)]
        present = qtype != "existence" or n_exist % 2 == 0
        n_exist += qtype == "existence"
        quadrant = QUADRANTS[placed[qtype] % len(QUADRANTS)]
        if qtype != "count" and present:
            placed[qtype] += 1
        target = {"shape": rng.choice(SHAPES), "color": rng.choice(sorted(COLORS)), "cell": rng.choice(cells_in(quadrant))}
        n_objects = rng.randint(1, 4)
        if qtype == "existence":
            if present:
                objects = _scene(rng, target, n_objects)
                answer, q_quadrant = "yes", quadrant
            else:
                objects = _scene(rng, None, n_objects, avoid=(target["color"], target["shape"]))
                answer, q_quadrant = "no", "none"
            question = f"Is there a {target['color']} {target['shape']} in the image?"
        elif qtype == "color":
            objects = _scene(rng, target, n_objects, unique_shape=True)
            question, answer, q_quadrant = f"What color is the {target['shape']}?", target["color"], quadrant
        elif qtype == "count":
            objects = _scene(rng, None, rng.randint(2, 5))
            shape = rng.choice(SHAPES)
            answer = str(sum(o["shape"] == shape for o in objects))
            question, q_quadrant = f"How many {PLURAL[shape]} are there in the image?", "none"
        else:
            objects = _scene(rng, target, n_objects)
            question = (f"Where is the {target['color']} {target['shape']}? "
                        "Answer top-left, top-right, bottom-left or bottom-right.")
            answer, q_quadrant = quadrant, quadrant
        cell = list(target["cell"]) if q_quadrant != "none" else None
        rows.append({"id": f"shapes-{seed}-{i:05d}", "question": question, "answer": answer, "category": qtype,
                     "quadrant": q_quadrant, "cell": cell,
                     "objects": json.dumps([{**o, "cell": list(o["cell"]), "quadrant": quadrant_of(tuple(o["cell"]))} for o in objects]),
                     "image": {"bytes": draw(objects), "path": f"shapes-{seed}-{i:05d}.png"}, "seed": seed})
    return rows


def shapes_answer(text: str) -> str:
    text = re.sub(r"[-_]", " ", text.lower())
    text = re.sub(r"[^\w\s]", " ", text)
    words = [NUMBER_WORDS.get(w, w) for w in text.split() if w not in ("a", "an", "the")]
    return " ".join(words)


class Shapes(HubBenchmark):
    name: ClassVar[str] = "shapes"
    default_split: ClassVar[str] = "test"
    max_new_tokens: ClassVar[int] = 16
    primary_metric: ClassVar[str] = "accuracy"
    id_column: ClassVar[str] = "id"
    category_column: ClassVar[str | None] = "category"

    def __init__(self, seed: int = 0, n: int = 64, rule: str = "llava"):
        super().__init__(rule)          # synthetic, no harness of its own: the same under every rule
        self.seed, self.n = seed, n

    def sampled_rows(self, source=None, split=None, limit=None, seed=DEFAULT_SEED):
        if source in (None, "generate"):       # generated from self.seed: `limit` samples, already a random draw
            return self.rows(source, split, limit)
        return super().sampled_rows(source, split, limit, seed)

    def rows(self, source=None, split=None, limit=None):
        if source in (None, "generate"):
            return iter(generate_rows(self.seed, self.n if limit is None else limit)), None
        return super().rows(source, split, limit)

    def to_sample(self, row: dict[str, Any], root: Path | None) -> Sample:
        question, answer, category = required(row, "question", "answer", "category")
        if category not in TYPES:
            raise RowError(f"unknown question type {category!r}")
        sample = Sample(id=str(row["id"]), question=question, answer=str(answer),
                        meta={"category": category, "quadrant": row.get("quadrant") or "none", "cell": row.get("cell"),
                              "objects": row.get("objects")})
        return self.with_image(sample, row, root)

    def prompt(self, sample: Sample) -> str:
        return f"{sample.question}{SHORT_ANSWER}"

    def score(self, sample: Sample, prediction: str | None) -> dict[str, Any]:
        if (err := error_score(sample, prediction, self.rule)) is not None:
            return {**err, "type": sample.meta.get("category"), "quadrant": sample.meta.get("quadrant")}
        pred, gold = shapes_answer(prediction), shapes_answer(sample.answer)
        right = pred == gold or pred.startswith(gold + " ")
        return {"score": float(right), "answer": pred, "category": sample.meta["category"],
                "type": sample.meta["category"], "quadrant": sample.meta["quadrant"], "rule": self.rule}

    def aggregate(self, scores: list[dict[str, Any]]) -> dict[str, float]:
        ok, counts = split_errors(scores)
        return {"accuracy": mean([s["score"] for s in ok]), **mean_by(ok, "type"), **mean_by(ok, "quadrant"), **counts}
