"""Anyres geometry and packing (LLaVA-NeXT, LLaVA-OneVision) through transformers' own functions.

An anyres image is split into a base crop (the resized image, crop 0) and an nh x nw grid of crops
(`image_size_to_num_patches`, `get_anyres_image_grid_shape`); each crop is N = side x side vision tokens.
transformers' `pack_image_features` stitches the grid crops into one (nh*side, nw*side) map, `unpad_image`
drops the rows or columns that fall in the letterbox padding, an `image_newline` ends every row, and the
base crop's N tokens come first. Nothing here re-implements that: `pack` calls the model class's own
`pack_image_features` (it reads only `self.config`) on any per-crop-token tensor, of any channel count.

    from pruning.models.anyres import crop_count, packing, pack
    crop_count(cfg, (500, 800))            # 5: base + 2 x 2 grid (image_sizes are (H, W), as the processor gives)
    p = packing(cfg, (500, 800))           # where every LLM slot comes from
    p.length, p.newlines                   # 2046 = 576 + 30 x (48 + 1), 30
    p.count(keep)                          # keep (crops, N) bool -> tokens entering the LLM, newline rows kept
    pack(cfg, [importance[..., None]], sizes, newline=torch.zeros(1))   # (crops, N, 1) maps packed like features

The keep-mask rides through the real packing by packing a one-channel map of crop-token indices
(crop * N + token; newline = -1): `Packing.sources` says, for every LLM slot, which crop token it came from.
Selected tokens in the padding are dropped with it; every newline slot is kept. Where a family resamples the
packed grid (LLaVA-OneVision past anyres_max_9), indices do not survive the interpolation: `packing` refuses,
and the family packs its importance map with `pack` instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Sequence

import torch

# model_type -> (transformers model class holding pack_image_features, extra keyword arguments from the config)
_PACKERS: dict[str, tuple[str, Any]] = {
    "llava_next": ("transformers.models.llava_next.modeling_llava_next:LlavaNextModel",
                   lambda c: {"vision_feature_select_strategy": c.vision_feature_select_strategy}),
    "llava_onevision": ("transformers.models.llava_onevision.modeling_llava_onevision:LlavaOnevisionModel",
                        lambda c: {"vision_aspect_ratio": getattr(c, "vision_aspect_ratio", "anyres_max_9")}),
}


def _module(model_type: str):
    import importlib

    if model_type not in _PACKERS:
        raise ValueError(f"model_type {model_type!r} has no anyres packing (known: {', '.join(sorted(_PACKERS))})")
    path, _ = _PACKERS[model_type]
    module, _, cls = path.partition(":")
    return importlib.import_module(module), cls


def _size(image_size) -> list[int]:
    """(H, W) as a list of ints (transformers' helpers miscompute on tensors otherwise)."""
    hw = image_size.tolist() if isinstance(image_size, torch.Tensor) else list(image_size)
    if len(hw) != 2:
        raise ValueError(f"an image size is (height, width), got {hw}")
    return [int(hw[0]), int(hw[1])]


def side(config) -> int:
    """Tokens along one side of a crop: 336 // 14 = 24 (CLIP-L/14-336), 384 // 14 = 27 (SigLIP/14-384)."""
    return int(config.vision_config.image_size) // int(config.vision_config.patch_size)


def crop_count(config, image_size) -> int:
    """Crops of one image (base + grid), from transformers' image_size_to_num_patches; image_size (H, W)."""
    module, _ = _module(config.model_type)
    return int(module.image_size_to_num_patches(_size(image_size), config.image_grid_pinpoints,
                                                int(config.vision_config.image_size)))


def crop_grid(config, image_size) -> tuple[int, int]:
    """(nh, nw) grid crops of one image, from transformers' get_anyres_image_grid_shape; image_size (H, W)."""
    module, _ = _module(config.model_type)
    nh, nw = module.get_anyres_image_grid_shape(_size(image_size), config.image_grid_pinpoints,
                                                int(config.vision_config.image_size))
    return int(nh), int(nw)


def pack(config, crops: Sequence[torch.Tensor], image_sizes, newline: torch.Tensor | None) -> list[torch.Tensor]:
    """transformers' own pack_image_features of config.model_type on any per-crop-token tensors.

    crops: one (crops_i, N, C) tensor per image, crop 0 the base; image_sizes: (n, 2) (H, W) per image;
    newline: (C,) the value of every newline slot (image_newline for embeddings, e.g. -1 for an index map),
    None for none. Returns one (L_i, C) tensor per image, exactly as the model packs its image features.
    """
    module, cls = _module(config.model_type)
    sizes = torch.as_tensor([_size(s) for s in image_sizes], dtype=torch.long)  # (n, 2)
    if len(crops) != sizes.shape[0]:
        raise ValueError(f"{len(crops)} crop tensors for {sizes.shape[0]} image sizes")
    for i, (c, s) in enumerate(zip(crops, sizes)):
        want = crop_count(config, s)
        if c.dim() != 3 or c.shape[0] != want or c.shape[1] != side(config) ** 2:
            raise ValueError(f"image {i} ({s[0]}x{s[1]}, H x W) packs ({want}, {side(config) ** 2}, C) crop tokens, "
                             f"got {tuple(c.shape)}")
    if newline is not None:
        newline = torch.as_tensor(newline, dtype=crops[0].dtype, device=crops[0].device).reshape(-1)  # (C,)
    _, extra = _PACKERS[config.model_type]
    owner = SimpleNamespace(config=config)  # pack_image_features reads self.config only
    packed, _ = getattr(module, cls).pack_image_features(owner, list(crops), sizes, image_newline=newline,
                                                         **extra(config))
    return list(packed)


@dataclass(frozen=True)
class Packing:
    """Where every LLM slot of one packed image comes from.

    sources: (L,) int64, crop * N + token for a crop token (crop 0 = base), -1 for an image_newline slot.
    """

    image_size: tuple[int, int]   # (H, W)
    crops: int                    # base + grid crops
    grid: tuple[int, int]         # (nh, nw) grid crops
    tokens: int                   # N per crop
    sources: torch.Tensor

    @property
    def length(self) -> int:
        """LLM slots with every token kept (keep_all)."""
        return int(self.sources.numel())

    @property
    def newlines(self) -> int:
        """image_newline slots: one per row of the unpadded grid (one after the base for a single crop)."""
        return int((self.sources < 0).sum())

    def keep(self, keep: torch.Tensor) -> torch.Tensor:
        """keep (crops, N) bool per crop token -> (L,) bool per slot: kept crop tokens that survive the
        unpadding, and every newline slot."""
        if keep.shape != (self.crops, self.tokens):
            raise ValueError(f"keep mask must be ({self.crops}, {self.tokens}), got {tuple(keep.shape)}")
        src = self.sources.to(keep.device)
        return (src < 0) | keep.flatten()[src.clamp(min=0)]

    def count(self, keep: torch.Tensor) -> int:
        """Tokens entering the LLM: kept base tokens + kept grid tokens inside the unpadded area + newlines."""
        return int(self.keep(keep).sum())

    def kept_sources(self, keep: torch.Tensor) -> torch.Tensor:
        """(L',) the sources of the kept slots, in packed (LLM) order."""
        return self.sources.to(keep.device)[self.keep(keep)]


def packing(config, image_size) -> Packing:
    """The Packing of one image (H, W): a one-channel map of crop-token indices through `pack`."""
    hw = _size(image_size)
    n, N = crop_count(config, hw), side(config) ** 2
    index = torch.arange(n * N, dtype=torch.float64).view(n, N, 1)  # exact integers in float64
    (packed,) = pack(config, [index], [hw], newline=torch.tensor([-1.0], dtype=torch.float64))
    src = packed[:, 0]  # (L,)
    if not torch.equal(src, src.round()) or bool((src < -1).any()):
        raise ValueError(f"the packed grid of a {hw[0]}x{hw[1]} image is resampled ({config.model_type}); token "
                         "indices do not survive it: pack the importance map alongside the features instead")
    return Packing(image_size=(hw[0], hw[1]), crops=n, grid=crop_grid(config, hw), tokens=N, sources=src.long())


def gather_slots(sources: torch.Tensor, values: torch.Tensor, newline: torch.Tensor) -> torch.Tensor:
    """The packed sequence of `sources` (L',) from per-crop-token values (crops, N, C) and newline (C,):
    (L', C). With every slot of a Packing it equals `pack` of the same values."""
    flat = values.flatten(0, 1)  # (crops * N, C)
    out = flat[sources.clamp(min=0).to(values.device)]  # (L', C)
    is_nl = (sources < 0).to(values.device)
    return torch.where(is_nl[:, None], newline.to(values.dtype).to(values.device)[None], out)


def packings(config, image_sizes) -> list[Packing]:
    """One Packing per image size (H, W) of a batch (e.g. the processor's image_sizes)."""
    return [packing(config, s) for s in image_sizes]
