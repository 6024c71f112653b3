"""What `encode` accepts: a list of PIL images, or a list of videos (each a list of PIL frames); and the
prompt each family renders from its chat template with content [media, text].

Anything else is a clear error naming the offending item, before the vision tower runs.
"""
from __future__ import annotations

import hashlib
from typing import Any

import torch


def _rgb(im: Any, what: str):
    from PIL import Image

    if not isinstance(im, Image.Image):
        raise TypeError(f"{what} is {type(im).__name__}, expected a PIL.Image.Image")
    try:
        return im.convert("RGB")  # forces decoding of lazily opened files
    except Exception as exc:  # PIL raises OSError/SyntaxError/ValueError for broken files
        raise ValueError(f"{what} could not be decoded: {exc}") from exc


def check_images(images: Any) -> list:
    """A list of decodable PIL images, converted to RGB; anything else is a clear error."""
    from PIL import Image

    if isinstance(images, Image.Image):
        raise TypeError("images must be a list of PIL images, got a single image (wrap it in a list)")
    if not isinstance(images, (list, tuple)) or not images:
        raise TypeError(f"images must be a non-empty list of PIL images, got {type(images).__name__}")
    return [_rgb(im, f"image {i}") for i, im in enumerate(images)]


def check_media(media: Any, accepts: frozenset[str] | set[str]) -> tuple[str, list]:
    """("image", [PIL, ...]) or ("video", [[PIL frame, ...], ...]); the kind must be one the family accepts."""
    is_video = isinstance(media, (list, tuple)) and bool(media) and all(isinstance(m, (list, tuple)) for m in media)
    kind = "video" if is_video else "image"
    if kind not in accepts:
        raise TypeError(f"this model takes {' or '.join(sorted(accepts))} input, got a list of videos"
                        if kind == "video" else f"this model takes videos (lists of PIL frames), got {type(media).__name__}")
    if kind == "image":
        return kind, check_images(media)
    out = []
    for v, frames in enumerate(media):
        if not frames:
            raise ValueError(f"video {v} has no frames")
        out.append([_rgb(f, f"video {v} frame {i}") for i, f in enumerate(frames)])
    return kind, out


def render_prompt(tokenizer, chat_template: str, question: Any, kind: str = "image") -> str:
    """The family's chat template over one user turn with content [media, text] and the generation prompt."""
    if not isinstance(question, str):
        raise TypeError(f"each prompt must be a str, got {type(question).__name__}")
    messages = [{"role": "user", "content": [{"type": kind}, {"type": "text", "text": question}]}]
    return tokenizer.apply_chat_template(messages, chat_template=chat_template, add_generation_prompt=True,
                                         tokenize=False)


def content_key(image) -> int:
    """A PIL image (or a video: a list of frames) -> int64 key from a stable 64-bit hash of its mode, size and
    pixels: the `random` strategy's seed when no sample ids are given, so a sample draws the same tokens in
    any batch."""
    h = hashlib.blake2b(digest_size=8)
    for im in image if isinstance(image, (list, tuple)) else [image]:
        h.update(f"{im.mode}:{im.size[0]}x{im.size[1]}:".encode())
        h.update(im.tobytes())
    return int.from_bytes(h.digest(), "little", signed=True)


def sample_key_tensor(keys: list | None, batch: int, device) -> torch.Tensor | None:
    """Sample ids -> (B,) int64 keys for seeded strategies (random): ints as they are, anything else by a
    stable 64-bit hash of its str (same on every worker, unlike Python's hash())."""
    if keys is None:
        return None
    if len(keys) != batch:
        raise ValueError(f"sample_keys has {len(keys)} entries for a batch of {batch}")
    out = []
    for k in keys:
        if isinstance(k, int) and not isinstance(k, bool):
            out.append(k)
        else:
            out.append(int.from_bytes(hashlib.blake2b(str(k).encode(), digest_size=8).digest(), "little", signed=True))
    return torch.tensor(out, dtype=torch.int64, device=device)
