"""Training data for tiny-llava-shapes (jobs/train_tiny.py): random `shapes` scenes, every question the
benchmark could ask about a scene, and packed LLM sequences that share one image prefix among many questions.

Scenes come from random.Random(f"{kind}-{seed}-{index}") (string seeds), a stream disjoint from the integer
seeds of sweeps.benchmarks.shapes.generate_rows, which tests and demos evaluate on. Images are drawn with the
benchmark's own draw(); questions use its exact wording and the sweep prompt (question + SHORT_ANSWER).

Packing (exactly equivalent to separate single-turn prompts): [prefix | 576 image tokens] runs once per image;
its KV cache is then shared by every question-answer segment of that image, each a separate batch row that
attends to the cache and causally to itself, at the positions right after the image, exactly as in the
adapter's single-question prompt "USER: <image>\\n{q} ASSISTANT:".
"""
from __future__ import annotations

import io
import random
from typing import Any

import torch

from sweeps.benchmarks.shapes import COLORS, GRID, PLURAL, SHAPES, draw, quadrant_of
from sweeps.benchmarks.vqav2 import SHORT_ANSWER

PROMPT = "USER: <image>\n{question} ASSISTANT:"  # = pruning.models.llava.PROMPT
COLOR_NAMES = sorted(COLORS)
N_CLASSES = 1 + len(COLOR_NAMES) * len(SHAPES)  # per cell: empty, or colour x shape (13)
PATCH_GRID, CELL_PATCHES = 24, 6  # 336 / 14 patches per side; 84 / 14 patches per cell side


def scene(kind: str, seed: int, index: int, max_objects: int = 5) -> list[dict[str, Any]]:
    """1..max_objects objects on distinct cells, each a random colour x shape (repeats allowed)."""
    rng = random.Random(f"{kind}-{seed}-{index}")
    cells = rng.sample([(r, c) for r in range(GRID) for c in range(GRID)], rng.randint(1, max_objects))
    return [{"shape": rng.choice(SHAPES), "color": rng.choice(COLOR_NAMES), "cell": cell} for cell in cells]


def image(objects: list[dict[str, Any]]):
    from PIL import Image

    return Image.open(io.BytesIO(draw(objects))).convert("RGB")


def cell_labels(objects: list[dict[str, Any]]) -> torch.Tensor:
    """(16,) class per cell, row-major: 0 empty, else 1 + colour_index * 3 + shape_index."""
    y = torch.zeros(GRID * GRID, dtype=torch.long)
    for o in objects:
        r, c = o["cell"]
        y[r * GRID + c] = 1 + COLOR_NAMES.index(o["color"]) * len(SHAPES) + SHAPES.index(o["shape"])
    return y


def patch_cells() -> torch.Tensor:
    """(576,) cell index (row-major over the 4x4 grid) of each 14-px patch (row-major over 24x24)."""
    p = torch.arange(PATCH_GRID * PATCH_GRID)
    return (p // PATCH_GRID // CELL_PATCHES) * GRID + (p % PATCH_GRID) // CELL_PATCHES


def all_questions(objects: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """Every (question, answer, type) the benchmark could ask about the scene, in its wording, each with one
    right answer: existence of each colour x shape (yes/no); the colour of each shape that occurs once; the count
    of each shape (0 too); the quadrant of each object unique of its kind."""
    kinds = [(o["color"], o["shape"]) for o in objects]
    out = [(f"Is there a {c} {s} in the image?", "yes" if (c, s) in kinds else "no", "existence")
           for c in COLOR_NAMES for s in SHAPES]
    for s in SHAPES:
        same = [o for o in objects if o["shape"] == s]
        if len(same) == 1:
            out.append((f"What color is the {s}?", same[0]["color"], "color"))
        out.append((f"How many {PLURAL[s]} are there in the image?", str(len(same)), "count"))
    for o in objects:
        if kinds.count((o["color"], o["shape"])) == 1:
            out.append((f"Where is the {o['color']} {o['shape']}? Answer top-left, top-right, bottom-left or bottom-right.",
                        quadrant_of(tuple(o["cell"])), "position"))
    return out


def questions(objects: list[dict[str, Any]], rng: random.Random) -> list[tuple[str, str, str]]:
    """A training draw from all_questions: up to 3 "yes" + 3 "no" existence questions, every colour and count
    question, up to 4 position questions; shuffled."""
    qs = all_questions(objects)
    pick = lambda cond, k: (lambda xs: rng.sample(xs, min(k, len(xs))))([q for q in qs if cond(q)])  # noqa: E731
    out = (pick(lambda q: q[2] == "existence" and q[1] == "yes", 3) + pick(lambda q: q[2] == "existence" and q[1] == "no", 3)
           + [q for q in qs if q[2] in ("color", "count")] + pick(lambda q: q[2] == "position", 4))
    rng.shuffle(out)
    return out


class Packer:
    """Token ids for packed sequences: shared prefix ids, per-question segment ids and answer targets."""

    def __init__(self, tokenizer, image_token_id: int, n_image: int = PATCH_GRID * PATCH_GRID):
        self.tok, self.image_token_id, self.n_image = tokenizer, image_token_id, n_image
        self.eos = tokenizer.eos_token_id
        ids = self._prompt_ids("x")
        self.prefix = ids[:ids.index(image_token_id)]  # [<s>, USER, :, ' '] as the adapter tokenizes it
        self._cache: dict[tuple[str, str], tuple[list[int], int]] = {}

    def _prompt_ids(self, question: str) -> list[int]:
        return self.tok(PROMPT.format(question=question))["input_ids"]

    def segment(self, question: str, answer: str) -> tuple[list[int], int]:
        """(question-suffix ids + answer ids + eos, number of answer+eos ids) for question + SHORT_ANSWER."""
        key = (question, answer)
        if key not in self._cache:
            ids = self._prompt_ids(question + SHORT_ANSWER)
            at = ids.index(self.image_token_id)
            assert ids[:at] == self.prefix, "prompt prefix differs between questions"
            ans = self.tok(" " + answer, add_special_tokens=False)["input_ids"] + [self.eos]
            self._cache[key] = (ids[at + 1:] + ans, len(ans))
        return self._cache[key]

    def pack(self, qas_per_image: list[list[tuple[str, str]]], device=None) -> dict[str, torch.Tensor]:
        """Batch of B images, each with its list of (question, answer) segments (S in all).

        prefix (B, P + 576): the shared part, image placeholders included; segs (S, Ls) right-padded segment ids
        (a segment's own tokens come first, so causal attention never sees its padding); image (S,) the image of
        each segment; targets: seg (M,), src (M,) positions in the segment whose logits predict tgt (M,).
        """
        P, N = len(self.prefix), self.n_image
        segs = [(b, *self.segment(q, a)) for b, qas in enumerate(qas_per_image) for q, a in qas]
        prefix = torch.tensor(self.prefix + [self.image_token_id] * N).expand(len(qas_per_image), P + N)
        ids = torch.full((len(segs), max(len(s) for _, s, _ in segs)), self.tok.pad_token_id, dtype=torch.long)
        seg, src, tgt = [], [], []
        for k, (_, s, n_ans) in enumerate(segs):
            ids[k, :len(s)] = torch.tensor(s)
            first = len(s) - n_ans                   # first answer id; predicted from the position before it
            for j in range(n_ans):
                seg.append(k), src.append(first - 1 + j), tgt.append(s[first + j])
        t = lambda x: torch.tensor(x, dtype=torch.long, device=device)  # noqa: E731
        return {"prefix": prefix.to(device), "segs": ids.to(device), "image": t([b for b, _, _ in segs]),
                "seg": t(seg), "src": t(src), "tgt": t(tgt)}
