"""Synthetic test images for the adapter tests."""
import numpy as np
from PIL import Image


def make_images(n: int, seed: int = 0) -> list:
    """Structured synthetic photos (blocks of colour + noise) of varied sizes and aspect ratios."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        h, w = 240 + 40 * i, 320 + 30 * (i % 3)
        img = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
        for _ in range(4):
            y, x = rng.integers(0, h - 60), rng.integers(0, w - 60)
            img[y:y + 60, x:x + 60] = rng.integers(0, 256, 3, dtype=np.uint8)
        out.append(Image.fromarray(img))
    return out


QUESTIONS = [
    "Is there a dog in the image?",
    "What color is the car? Answer the question using a single word or phrase.",
    "How many people are there?",
]
