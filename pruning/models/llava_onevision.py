"""LLaVA-OneVision (LlavaOnevisionForConditionalGeneration: SigLIP-so400m/14-384 without [CLS], anyres_max_9,
Qwen2 with GQA) through transformers, budget T per crop.

Every crop (the base image, crop 0, and each grid crop) is one SigLIP row of N = 729 tokens. Importance is the
no-[CLS] rule (siglip_attention.py: attention received in the last layer); features are the last layer's output
without post_layernorm, what transformers projects. Selection and packing (onevision_tokens.py): T per crop,
keep-masks through transformers' own packing (anyres.py); grids past anyres_max_9 select on the resampled
packed grid. Decoder-stage FastV prunes the packed sequence (T x crops of it). docs/ALGORITHMS.md states the counts.

    from pruning import PrunePlan
    from pruning.models import load_vlm
    vlm = load_vlm("tiny-llava-onevision")                    # or "llava-onevision-7b" once staged
    vis = vlm.encode(images)                                  # every crop through SigLIP once
    outs = vlm.generate(questions, PrunePlan("vispruner", budget=64, params={"ratio": 0.75}), vision=vis)
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

import torch
from torch.nn.utils.rnn import pad_sequence

from pruning.models import onevision_tokens, pipeline
from pruning.models.llava_next import LlavaNext, PreparedNext
from pruning.models.media import check_media, content_key, sample_key_tensor
from pruning.models.siglip_attention import encode_siglip
from pruning.models.timing import PhaseTimer
from pruning.models.tiny_llava_onevision import CHAT_TEMPLATE
from pruning.types import PrunePlan, VisionTokens


class LlavaOnevision(LlavaNext):
    """LLaVA-OneVision via transformers: one SigLIP row per crop, T per crop through transformers' packing.

    From LlavaNext (same anyres plumbing) it keeps generate, the grouping of samples with equal packing and the
    decoder-stage hooks (FastV: T x crops of the packed sequence); encode (SigLIP) and prepare (resampled grids)
    are its own."""

    select_strategy: ClassVar[str] = "full"  # SigLIP: every one of the 729 tokens goes to the projector

    def __init__(self, model, processor, name: str):
        super().__init__(model, processor, name)  # self.newline = model.model.image_newline (D,)
        cfg = model.config
        if cfg.vision_feature_layer != -1 or not str(getattr(cfg, "vision_aspect_ratio", "")).startswith("anyres_max_"):
            raise NotImplementedError("LLaVA-OneVision: vision_feature_layer -1 and an anyres_max_* aspect ratio only")
        if not getattr(processor, "chat_template", None):
            self.chat_template = CHAT_TEMPLATE

    # ---------------------------------------------------------------- vision
    @torch.no_grad()
    def encode(self, images: list) -> VisionTokens:
        """Every crop of every image through SigLIP once: rows (R, N, ...) with row_sample, one
        onevision_tokens.Layout per sample in `layouts`, the packed keep_all length per sample in sample_counts."""
        _, images = check_media(images, frozenset({"image"}))
        timer = PhaseTimer(self.device)
        with timer.phase("vision"):
            out = self.image_processor(images=images, return_tensors="pt")
            layouts = [onevision_tokens.layout(self.config, s.tolist()) for s in out["image_sizes"]]  # (H, W)
            px = torch.cat([out["pixel_values"][b, :lay.crops] for b, lay in enumerate(layouts)])  # padding cut
            px = px.to(self.device, self.dtype)  # (R, 3, 384, 384)
            sig = encode_siglip(self.model.model.vision_tower, px)
            projected = self.model.model.multi_modal_projector(sig["features"])  # (R, N, D)
        row_sample = tuple(b for b, lay in enumerate(layouts) for _ in range(lay.crops))
        content = torch.tensor([content_key(im) for im in images], dtype=torch.int64, device=self.device)  # (B,)
        content = content[list(row_sample)]  # (R,) each crop carries its image's key
        return VisionTokens(features=sig["features"], attention=sig["attention"], projected=projected,
                            content_keys=content, row_sample=row_sample, layouts=tuple(layouts),
                            sample_counts=tuple(lay.length for lay in layouts),
                            extra={"num_heads": sig["num_heads"], "vision_seconds": timer.seconds()["vision"]})

    def _sample_keys(self, sample_keys, vision: VisionTokens) -> torch.Tensor | None:
        """(B,) keys for seeded strategies: the caller's sample ids, else each image's content hash."""
        keys = sample_key_tensor(sample_keys, vision.num_samples, self.device)
        if keys is None and vision.content_keys is not None:
            keys = vision.content_keys[[vision.rows_of(b)[0] for b in range(vision.num_samples)]]
        return keys

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
            if vision.projected is None:
                vision = dataclasses.replace(vision, projected=self._project(vision.features))
            layouts = list(vision.layouts)
            if strategy.stage == "encoder" and plan.strategy != "keep_all":
                seqs = onevision_tokens.select(strategy, self.config, vision, layouts, plan.budget, self.newline,
                                               self._sample_keys(sample_keys, vision))
            else:  # transformers' own packing, every token
                per_sample = [vision.projected[vision.rows_of(b)] for b in range(vision.num_samples)]  # (crops, N, D)
                seqs = onevision_tokens.keep_all(self.config, per_sample, layouts, self.newline)  # (L_b, D)
                if strategy.stage == "decoder":
                    hooks = self._decoder_hooks(strategy, plan, vision)
            lengths = [int(s.shape[0]) for s in seqs]
            image_embeds = pad_sequence(seqs, batch_first=True)  # (B, T', D)
            batch = pipeline.splice_batch([self.prompt_ids(q) for q in prompts], lengths, self.image_token_id,
                                          self.pad_id)
            embeds = pipeline.fill_image(self._embed(batch.ids), batch, self.image_token_id, image_embeds)  # (B, L, D)
        return PreparedNext(embeds=embeds, batch=batch, hooks=hooks, lengths=lengths, n_in=vision.counts,
                            vision_seconds=float(vision.extra.get("vision_seconds", 0.0)))
