"""LLaVA-NeXT (anyres) through transformers (LlavaNextForConditionalGeneration), budget T per crop.

Every crop (the base image, crop 0, and each grid crop) is one CLIP-L/14-336 row with its own [CLS] attention at
vision_feature_layer (-2) and its own selection (VisPruner, arXiv 2412.01818, Table 8: 2880 -> 640/320/160 at
T = 128/64/32). The kept tokens ride transformers' own packing (pruning/models/anyres.py): grid crops stitched,
`unpad_image` drops picks in the letterbox padding, one image_newline per row, always kept. Decoder-stage
strategies (FastV, SparseVLM) prune the packed sequence; docs/ALGORITHMS.md states the counts.

    from pruning import PrunePlan
    from pruning.models import load_vlm
    vlm = load_vlm("tiny-llava-next")
    vis = vlm.encode(images)                                  # every crop through the vision tower once
    outs = vlm.generate(questions, PrunePlan("vispruner", budget=64, params={"ratio": 0.75}), vision=vis)
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch.nn.utils.rnn import pad_sequence

from pruning.models import anyres, pipeline
from pruning.models.decoder_prune import DECODER_HOOKS
from pruning.models.llava import Llava, Prepared
from pruning.models.media import check_media, content_key, sample_key_tensor
from pruning.models.timing import PhaseTimer
from pruning.models.vision_attention import encode_clip
from pruning.types import Output, PrunePlan, Selection, VisionTokens

KEY_MIX = 1_000_003  # row key = sample key * KEY_MIX + crop: each crop of a sample draws its own random tokens


@dataclass
class PreparedNext(Prepared):
    n_in: list[int]  # packed image tokens per sample with nothing pruned (keep_all's count)


def crop_keys(keys: torch.Tensor | None, vision: VisionTokens) -> torch.Tensor | None:
    """Per-sample keys (B,) -> per-row keys (R,), distinct for every crop of a sample."""
    if keys is None:
        return None
    rows = torch.tensor(vision.row_sample, dtype=torch.long, device=keys.device)  # (R,)
    first = {s: vision.row_sample.index(s) for s in set(vision.row_sample)}
    crop = torch.tensor([r - first[s] for r, s in enumerate(vision.row_sample)], device=keys.device)  # (R,)
    return keys.index_select(0, rows) * KEY_MIX + crop


class LlavaNext(Llava):
    """LLaVA-NeXT via transformers: one vision row per crop; keep-masks through transformers' anyres packing."""

    def __init__(self, model, processor, name: str):
        super().__init__(model, processor, name)
        self.newline = model.model.image_newline  # (D,) ends every row of the unpadded grid

    # ---------------------------------------------------------------- vision
    @torch.no_grad()
    def encode(self, images: list) -> VisionTokens:
        """Every crop of every image through the vision tower once: rows (R, N, ...) with row_sample, one
        anyres.Packing per sample in `layouts`, and the packed keep_all length per sample in sample_counts."""
        _, images = check_media(images, frozenset({"image"}))
        timer = PhaseTimer(self.device)
        with timer.phase("vision"):
            out = self.image_processor(images=images, return_tensors="pt")
            packs = anyres.packings(self.config, out["image_sizes"])  # image_sizes (B, 2) = (H, W)
            px = torch.cat([out["pixel_values"][b, :p.crops] for b, p in enumerate(packs)])  # zero-padded crops cut
            px = px.to(self.device, self.dtype)  # (R, 3, 336, 336)
            sig = encode_clip(self.model.model.vision_tower, px, self.config.vision_feature_layer)
            projected = self.model.model.multi_modal_projector(sig["features"])  # (R, N, D)
        row_sample = tuple(b for b, p in enumerate(packs) for _ in range(p.crops))
        vision = VisionTokens(features=sig["features"], attention=sig["attention"], keys=sig["keys"], cls=sig["cls"],
                              projected=projected, last_attention=sig["last_attention"], last_keys=sig["last_keys"],
                              row_sample=row_sample, layouts=tuple(packs),
                              sample_counts=tuple(p.length for p in packs),
                              extra={"num_heads": sig["num_heads"], "vision_seconds": timer.seconds()["vision"]})
        content = torch.tensor([content_key(im) for im in images], dtype=torch.int64, device=self.device)  # (B,)
        vision.content_keys = crop_keys(content, vision)  # (R,)
        return vision

    # ---------------------------------------------------------------- selection -> packed sequence
    def _packed(self, sel: Selection, projected: torch.Tensor, vision: VisionTokens) -> list[torch.Tensor]:
        """One (L'_b, D) image sequence per sample from a per-crop selection.

        Positional picks (sel.tokens None) ride the packing: kept crop tokens in packed order, those in the
        padding dropped, every newline kept. Merged tokens (VisionZip, PruMerge+, spatial pooling) have no one
        grid position: each crop's merged tokens in the strategy's order, crops in order (base first), no
        unpadding and no newline rows."""
        if sel.tokens is None:
            R, N = projected.shape[:2]
            keep = torch.zeros(R, N, dtype=torch.bool, device=projected.device)
            keep.scatter_(1, sel.indices.to(projected.device), True)  # (R, N)
            out = []
            for b, pack in enumerate(vision.layouts):
                rows = vision.rows_of(b)
                src = pack.kept_sources(keep[rows])  # (L'_b,)
                out.append(anyres.gather_slots(src, projected[rows], self.newline))
            return out
        merged = pipeline.kept_embeds(sel, projected, self._project)  # (R, T', D)
        n = sel.lengths.tolist() if sel.lengths is not None else [merged.shape[1]] * merged.shape[0]
        return [torch.cat([merged[r, :n[r]] for r in vision.rows_of(b)]) for b in range(vision.num_samples)]

    def _decoder_hooks(self, strategy, plan: PrunePlan, vision: VisionTokens):
        """Prune hooks over the packed sequence of one group of samples with equal packing (length, crops).
        FastV keeps T x crops of the packed tokens; SparseVLM's k_l are per crop (k_l x crops)."""
        shapes = {(n, p.crops) for n, p in zip(vision.counts, vision.layouts)}
        if len(shapes) != 1:
            raise ValueError("decoder-stage pruning runs on samples of one packed length and crop count at a time "
                             "(generate groups them)")
        ((n_in, crops),) = shapes
        budget = plan.budget
        if plan.strategy == "sparsevlm":
            strategy = dataclasses.replace(strategy, schedule=tuple(k * crops for k in strategy.keep_counts(budget)))
        elif budget is not None:
            budget = budget * crops
        return DECODER_HOOKS[plan.strategy](strategy, budget, n_in, len(self.loop.layers))

    @staticmethod
    def _groups(vision: VisionTokens) -> list[list[int]]:
        """Samples with equal (packed length, crop count), in order of first appearance."""
        groups: dict[tuple[int, int], list[int]] = {}
        for b, (n, p) in enumerate(zip(vision.counts, vision.layouts)):
            groups.setdefault((n, p.crops), []).append(b)
        return list(groups.values())

    # ---------------------------------------------------------------- generate
    @torch.no_grad()
    def prepare(self, prompts: list[str], plan: PrunePlan, vision: VisionTokens | None = None,
                images: list | None = None, sample_keys: list | None = None,
                timer: PhaseTimer | None = None) -> PreparedNext:
        """Validate, select per crop (encoder stage) or build prune hooks (decoder stage), and splice each
        sample's packed image sequence into the left-padded prompt batch: exactly the LLM's prefill input."""
        strategy, vision = self._check(prompts, plan, vision, images)
        timer = timer or PhaseTimer(self.device)
        hooks = []
        with timer.phase("select"):
            projected = vision.projected if vision.projected is not None else self._project(vision.features)
            if strategy.stage == "encoder":
                keys = crop_keys(sample_key_tensor(sample_keys, vision.num_samples, self.device), vision)
                tokens = dataclasses.replace(vision, projected=projected, sample_keys=keys)
                seqs = self._packed(pipeline.select(strategy, tokens, plan.budget), projected, vision)
            else:
                seqs = [anyres.gather_slots(p.sources, projected[vision.rows_of(b)], self.newline)
                        for b, p in enumerate(vision.layouts)]  # (L_b, D): transformers' packing
                hooks = self._decoder_hooks(strategy, plan, vision)
            lengths = [int(s.shape[0]) for s in seqs]
            image_embeds = pad_sequence(seqs, batch_first=True)  # (B, T', D)
            batch = pipeline.splice_batch([self.prompt_ids(q) for q in prompts], lengths, self.image_token_id,
                                          self.pad_id)
            embeds = pipeline.fill_image(self._embed(batch.ids), batch, self.image_token_id, image_embeds)  # (B, L, D)
        return PreparedNext(embeds=embeds, batch=batch, hooks=hooks, lengths=lengths, n_in=vision.counts,
                            vision_seconds=float(vision.extra.get("vision_seconds", 0.0)))

    @torch.no_grad()
    def generate(self, prompts: list[str], plan: PrunePlan, vision: VisionTokens | None = None,
                 images: list | None = None, max_new_tokens: int = 16, sample_keys: list | None = None) -> list[Output]:
        """Greedy answers to plain questions under `plan`, one Output each. Decoder-stage plans run once per
        group of samples with equal packing (the prune hooks need one image span length)."""
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be an integer >= 1, got {max_new_tokens!r}")
        strategy, vision = self._check(prompts, plan, vision, images)
        groups = self._groups(vision) if strategy.stage == "decoder" else [list(range(vision.num_samples))]
        return self._generate_groups(prompts, plan, vision, max_new_tokens, sample_keys, groups)
