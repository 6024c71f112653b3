"""Synthetic test videos (lists of PIL frames) for the Video-LLaVA tests: a coloured block moving over noise."""
import numpy as np
from PIL import Image


def make_video(n_frames: int, seed: int = 0, size: tuple[int, int] = (160, 120)) -> list:
    rng = np.random.default_rng(seed)
    w, h = size
    base = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
    colour = rng.integers(0, 256, 3, dtype=np.uint8)
    frames = []
    for i in range(n_frames):
        img = base.copy()
        x = (i * 13) % (w - 40)
        img[30:70, x:x + 40] = colour
        frames.append(Image.fromarray(img))
    return frames


VIDEO_QUESTIONS = [
    "What is happening in the video?",
    "What color is the object? Answer the question using a single word or phrase.",
    "Is there a dog in the image?",
]
