"""Tiny LLaVA built once per test session into a private cache dir (offline, deterministic)."""
import os

import pytest

from tests.pruning.models.images import make_images  # noqa: F401 (fixtures below)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("vissweep-cache")
    old = os.environ.get("VISSWEEP_CACHE")
    os.environ["VISSWEEP_CACHE"] = str(root)
    from pruning.models.tiny import tiny_llava_dir

    path = tiny_llava_dir()
    yield path
    if old is None:
        os.environ.pop("VISSWEEP_CACHE", None)
    else:
        os.environ["VISSWEEP_CACHE"] = old


@pytest.fixture(scope="session")
def vlm(tiny_dir):
    from pruning.models import load_vlm

    return load_vlm("tiny-llava", device="cpu")   # fp32 on CPU even where CUDA exists: tests assert fp32 bytes


@pytest.fixture(scope="session")
def images():
    return make_images(3)


@pytest.fixture(scope="session")
def vision(vlm, images):
    return vlm.encode(images)
