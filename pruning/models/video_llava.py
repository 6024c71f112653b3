"""Video-LLaVA through transformers (VideoLlavaForConditionalGeneration, arXiv 2311.10122): videos through
`video_tower`, images through `image_tower`, visual-token pruning before the LLM (encoder stage) and inside it
(decoder stage) on the shared path (pipeline.py, decoder_loop.py).

    from pruning import PrunePlan
    from pruning.models import load_vlm
    vlm = load_vlm("tiny-video-llava")                         # or "video-llava-7b"
    vis = vlm.encode([frames_a, frames_b])                     # videos: lists of PIL frames (or PIL images)
    outs = vlm.generate(questions, PrunePlan("vispruner", 227, {"ratio": 0.5}), vision=vis)
    outs[0].n_visual_kept, outs[0].kept_per_frame             # 227, e.g. [31, 27, 30, 25, 29, 28, 30, 27]

A video is 8 frames at linspace(0, F-1, 8). keep_all passes what transformers passes: 8 x 257 tokens (each
frame's [CLS] kept by get_video_features). Pruning selects one budget T jointly over the video's 8 x 256 patch
tokens, each ranked by its own frame's [CLS] attention at vision_feature_layer (-2), and drops the 8 [CLS]:
exactly T visual tokens enter the LLM (docs/ALGORITHMS.md). An image is 256 patch tokens ([CLS] dropped).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import torch

from pruning.models import pipeline
from pruning.models.adapter_base import AdapterBase
from pruning.models.decoder_loop import Hook
from pruning.models.decoder_prune import DECODER_HOOKS
from pruning.models.families import FAMILIES
from pruning.models.media import check_media, content_key, render_prompt, sample_key_tensor
from pruning.models.sequence import Batch
from pruning.models.timing import PhaseTimer
from pruning.models.tiny_video_llava import CHAT_TEMPLATE, NUM_FRAMES
from pruning.models.video_frames import join_frames, per_frame, sample_frames
from pruning.models.vision_attention import encode_clip
from pruning.types import Output, PrunePlan, VisionTokens


@dataclass
class Prepared:
    """The LLM's prefill input for one batch and plan."""

    embeds: torch.Tensor  # (B, L, D) left-padded input embeddings, kept visual tokens spliced in
    batch: Batch
    hooks: list[Hook]  # decoder-stage prune points
    lengths: list[int]  # visual tokens per sample entering the LLM
    n_in: int  # visual tokens per sample transformers would pass (8 x 257 per video, 256 per image)
    kept_per_frame: list[list[int]] | None  # per sample (videos; encoder stage and keep_all)
    media: str  # "video" or "image"
    vision_seconds: float


class VideoLlava(AdapterBase):
    """Video-LLaVA via transformers. Encoder stage after the towers (joint over a video's frames); decoder
    stage at layer K over the whole visual run (8 x 257 for a video)."""

    frames: ClassVar[int] = NUM_FRAMES

    def __init__(self, model, processor, name: str):
        cfg = model.config
        if not isinstance(cfg.vision_feature_layer, int) or cfg.vision_feature_select_strategy != "default":
            raise NotImplementedError("only a single vision_feature_layer with select strategy 'default' (Video-LLaVA)")
        self._setup(model, processor, name, CHAT_TEMPLATE)  # model, tokenizer, spec (N = 8 x 256 per video), loop, ...
        self.video_token_id = int(cfg.video_token_id)
        self.num_visual_tokens = self.spec.tokens  # budget bound: 2048 patch tokens per video

    # ---------------------------------------------------------------- vision
    @torch.no_grad()
    def encode(self, media: list) -> VisionTokens:
        """The towers once for the batch: a list of PIL images (image_tower, one row each) or of videos, each a
        list of PIL frames (video_tower, 8 sampled frames = 8 rows per video, `row_sample` maps them)."""
        kind, items = check_media(media, FAMILIES[self.config.model_type].media)
        timer = PhaseTimer(self.device)
        with timer.phase("vision"):
            if kind == "video":
                clips = [sample_frames(frames, self.frames) for frames in items]
                flat, tower = [f for clip in clips for f in clip], self.model.model.video_tower
            else:
                clips, flat, tower = items, items, self.model.model.image_tower
            px = self.image_processor(images=flat, return_tensors="pt", return_legacy_image_output=False)
            px = px.get("pixel_values", px.get("pixel_values_images"))  # older transformers: the legacy key
            px = px.to(self.device, self.dtype)  # (R, 3, 224, 224), R = frames or images
            sig = encode_clip(tower, px, self.config.vision_feature_layer)
            projected = self._project(sig["features"])  # (R, N, D) LLM-input embeddings of the patches
            cls_projected = self._project(sig["cls"][:, None])[:, 0]  # (R, D): video keeps each frame's [CLS]
        per = self.frames if kind == "video" else 1
        keys = torch.tensor([content_key(c) for c in clips for _ in range(per)], dtype=torch.int64, device=self.device)
        row_sample = tuple(r // per for r in range(len(flat))) if kind == "video" else None
        return VisionTokens(features=sig["features"], attention=sig["attention"], keys=sig["keys"], cls=sig["cls"],
                            projected=projected, last_attention=sig["last_attention"], last_keys=sig["last_keys"],
                            content_keys=keys, row_sample=row_sample,
                            extra={"media": kind, "cls_projected": cls_projected, "num_heads": sig["num_heads"],
                                   "vision_seconds": timer.seconds()["vision"]})

    # ---------------------------------------------------------------- prompts
    def prompt_ids(self, question: str, media: str = "image") -> torch.Tensor:
        """The chat template over [image | video, question] with the generation prompt, tokenized (BOS added)."""
        ids = self.tokenizer(render_prompt(self.tokenizer, self.chat_template, question, media))["input_ids"]
        return torch.tensor(ids, dtype=torch.long, device=self.device)  # (L,)

    def _project(self, features: torch.Tensor) -> torch.Tensor:
        return self.model.model.multi_modal_projector(features.to(self.dtype))  # (..., C) -> (..., D)

    def _full_run(self, vision: VisionTokens, projected: torch.Tensor, video: bool) -> torch.Tensor:
        """(S, n_in, D): the visual run transformers passes, per sample: per frame [CLS] then its 256 patches for
        a video (get_video_features keeps [CLS]), the 256 patches for an image."""
        if not video:
            return projected  # (S, 256, D)
        cls = vision.extra["cls_projected"]  # (S*F, D)
        run = torch.cat([cls[:, None].to(projected.dtype), projected], dim=1)  # (S*F, 257, D)
        return run.reshape(vision.num_samples, -1, run.shape[-1])  # (S, F*257, D)

    # ---------------------------------------------------------------- generate
    @torch.no_grad()
    def prepare(self, prompts: list[str], plan: PrunePlan, vision: VisionTokens | None = None,
                images: list | None = None, sample_keys: list | None = None, timer: PhaseTimer | None = None) -> Prepared:
        """Validate, select (encoder stage) or build prune hooks (decoder stage), and splice the kept visual
        embeddings into the left-padded prompt batch: exactly the LLM's prefill input."""
        strategy, vision = self._check(prompts, plan, vision, images)
        timer = timer or PhaseTimer(self.device)
        media = vision.extra.get("media", "image")
        video = media == "video"
        B, F = vision.num_samples, (self.frames if video else 1)
        token_id = self.video_token_id if video else self.image_token_id
        hooks, per_frame_kept = [], None
        with timer.phase("select"):
            projected = vision.projected if vision.projected is not None else self._project(vision.features)
            full = self._full_run(vision, projected, video)  # (B, n_in, D)
            n_in = full.shape[1]
            lengths = [n_in] * B
            if plan.strategy == "keep_all" or strategy.stage == "decoder":
                image_embeds = full
                if strategy.stage == "decoder":
                    hooks = DECODER_HOOKS[plan.strategy](strategy, plan.budget, n_in, len(self.loop.layers))
                elif video:
                    per_frame_kept = [[n_in // F] * F for _ in range(B)]
            else:
                rows = dataclasses.replace(vision, projected=projected)
                joint = join_frames(rows, F) if video else rows  # one row per sample: (B, F*256, ...)
                joint = dataclasses.replace(joint, sample_keys=sample_key_tensor(sample_keys, B, self.device))
                sel = pipeline.select(strategy, joint, plan.budget)
                image_embeds = pipeline.kept_embeds(sel, joint.projected, self._project)  # (B, T', D)
                lengths = ([int(n) for n in sel.lengths.tolist()] if sel.lengths is not None
                           else [image_embeds.shape[1]] * B)
                if video:
                    per_frame_kept = per_frame(sel.indices, vision.num_tokens, F)
            batch = pipeline.splice_batch([self.prompt_ids(q, media) for q in prompts], lengths, token_id, self.pad_id)
            embeds = pipeline.fill_image(self._embed(batch.ids), batch, token_id, image_embeds)  # (B, L, D)
        return Prepared(embeds=embeds, batch=batch, hooks=hooks, lengths=lengths, n_in=n_in,
                        kept_per_frame=per_frame_kept, media=media,
                        vision_seconds=float(vision.extra.get("vision_seconds", 0.0)))

    @torch.no_grad()
    def generate(self, prompts: list[str], plan: PrunePlan, vision: VisionTokens | None = None,
                 images: list | None = None, max_new_tokens: int = 16, sample_keys: list | None = None) -> list[Output]:
        """Greedy answers to plain questions (template and image / video added here) under `plan`, one Output each."""
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be an integer >= 1, got {max_new_tokens!r}")
        run = self._run(lambda timer: self.prepare(prompts, plan, vision, images, sample_keys, timer), max_new_tokens)
        prep, texts = run.prep, run.texts
        frames = prep.kept_per_frame
        kept = run.state.info.get("kept", {})
        if prep.media == "video" and plan.strategy == "fastv" and kept:  # one prune layer: its kept indices
            frames = per_frame(next(iter(kept.values())), prep.n_in // self.frames, self.frames)
        return [self._output(texts[b].strip(), prep.n_in, prep.lengths[b], prep.batch.n_text[b], run.kept_per_layer,
                             run.timings, run.peak, kept_per_frame=frames[b] if frames is not None else None)
                for b in range(len(texts))]
