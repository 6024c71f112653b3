"""Sample.media(): an image sample gives its PIL image, a video sample its frames as PIL images (what the
replica passes to encode), corrupt frames are clear errors."""
import io

import pytest
from PIL import Image

from sweeps.benchmarks.base import Sample


def png(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 6), colour).save(buf, format="PNG")
    return buf.getvalue()


def test_image_and_video_samples_give_what_encode_takes():
    img = Sample(id="i", question="q", image=png((255, 0, 0))).media()
    assert isinstance(img, Image.Image) and img.getpixel((0, 0)) == (255, 0, 0)
    frames = Sample(id="v", question="q", frames=[png((0, 0, i)) for i in range(8)]).media()
    assert isinstance(frames, list) and len(frames) == 8 and [f.getpixel((1, 1))[2] for f in frames] == list(range(8))
    with pytest.raises(ValueError, match="sample v2: corrupt frame 1"):
        Sample(id="v2", question="q", frames=[png((0, 0, 0)), b"not a png"]).media()
