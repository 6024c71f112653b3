"""LLaVA-1.5 through transformers (LlavaForConditionalGeneration), with visual-token pruning before the LLM
(encoder stage: VisPruner, VisionZip, DivPrune, PruMerge+, random, spatial) and inside it (decoder stage: FastV,
SparseVLM) through a prefill/decode loop over the model's own decoder layers (decoder_loop.py).

    from pruning import PrunePlan
    from pruning.models import load_vlm
    vlm = load_vlm("tiny-llava")
    vis = vlm.encode(images)                                  # vision tower once per batch
    outs = vlm.generate(questions, PrunePlan("vispruner", budget=64, params={"ratio": 0.75}), vision=vis)
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
from pruning.models.media import check_media, content_key, render_prompt, sample_key_tensor
from pruning.models.sequence import Batch
from pruning.models.timing import PhaseTimer
from pruning.models.vision_attention import encode_clip
from pruning.types import Output, PrunePlan, VisionTokens

PROMPT = "USER: <image>\n{question} ASSISTANT:"  # what the llava-hf chat template renders for one image + question
# llava-hf's LLaVA-1.5 conversation format, used when a checkpoint ships no chat template
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'user' %}USER: "
    "{% for c in message['content'] %}{% if c['type'] == 'image' %}<image>\n{% else %}{{ c['text'] }}{% endif %}{% endfor %}"
    "{% else %}ASSISTANT: {{ message['content'][0]['text'] }}{% endif %} {% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)


@dataclass
class Prepared:
    """The LLM's prefill input for one batch and plan."""

    embeds: torch.Tensor  # (B, L, D) left-padded input embeddings, kept image tokens spliced in
    batch: Batch
    hooks: list[Hook]  # decoder-stage prune points
    lengths: list[int]  # image tokens per sample entering the LLM
    n_in: int  # N: image tokens out of the vision tower
    vision_seconds: float


class Llava(AdapterBase):
    """LLaVA-1.5 via transformers. Encoder stage after the vision tower; decoder stage at layer K."""

    select_strategy: ClassVar[str] = "default"  # vision_feature_select_strategy the encode path implements

    def __init__(self, model, processor, name: str):
        cfg = model.config
        if not isinstance(cfg.vision_feature_layer, int) or cfg.vision_feature_select_strategy != self.select_strategy:
            raise NotImplementedError(f"only a single vision_feature_layer with select strategy "
                                      f"{self.select_strategy!r} ({type(self).__name__})")
        self._setup(model, processor, name, CHAT_TEMPLATE)  # model, tokenizer, spec, loop, eos_ids, pad_id, ...
        self.num_visual_tokens = self.spec.tokens  # N: 576 for CLIP-L/14-336

    # ---------------------------------------------------------------- vision
    @torch.no_grad()
    def encode(self, images: list) -> VisionTokens:
        """Vision tower once for the batch of PIL images (one row per image): every signal the encoder-stage
        strategies read (see vision_attention). LLaVA-1.5 takes images only; a list of videos is an error."""
        _, images = check_media(images, frozenset({"image"}))
        timer = PhaseTimer(self.device)
        with timer.phase("vision"):
            px = self.image_processor(images=images, return_tensors="pt")["pixel_values"]
            px = px.to(self.device, self.dtype)  # (B, 3, 336, 336)
            sig = encode_clip(self.model.model.vision_tower, px, self.config.vision_feature_layer)
            projected = self.model.model.multi_modal_projector(sig["features"])  # (B, N, D) LLM-input embeddings
        content = torch.tensor([content_key(im) for im in images], dtype=torch.int64, device=self.device)  # (B,)
        return VisionTokens(features=sig["features"], attention=sig["attention"], keys=sig["keys"], cls=sig["cls"],
                            projected=projected, last_attention=sig["last_attention"], last_keys=sig["last_keys"],
                            content_keys=content,
                            extra={"num_heads": sig["num_heads"], "vision_seconds": timer.seconds()["vision"]})

    # ---------------------------------------------------------------- prompts
    def prompt_ids(self, question: str) -> torch.Tensor:
        """The chat template over [image, question] with the generation prompt, tokenized (BOS added)."""
        ids = self.tokenizer(render_prompt(self.tokenizer, self.chat_template, question))["input_ids"]
        return torch.tensor(ids, dtype=torch.long, device=self.device)  # (L,)

    # ---------------------------------------------------------------- generate
    @torch.no_grad()
    def prepare(self, prompts: list[str], plan: PrunePlan, vision: VisionTokens | None = None,
                images: list | None = None, sample_keys: list | None = None, timer: PhaseTimer | None = None) -> Prepared:
        """Validate, select (encoder stage) or build prune hooks (decoder stage), and splice the kept image
        embeddings into the left-padded prompt batch: exactly the LLM's prefill input."""
        strategy, vision = self._check(prompts, plan, vision, images)
        timer = timer or PhaseTimer(self.device)
        B, N = vision.batch_size, vision.num_tokens
        hooks, lengths = [], [N] * B
        with timer.phase("select"):
            projected = vision.projected  # (B, N, D); absent when VisionTokens were built elsewhere
            if projected is None:
                projected = self._project(vision.features)
            if strategy.stage == "encoder":
                tokens = dataclasses.replace(vision, projected=projected,
                                             sample_keys=sample_key_tensor(sample_keys, B, self.device))
                sel = pipeline.select(strategy, tokens, plan.budget)
                image_embeds = pipeline.kept_embeds(sel, projected, self._project)  # (B, T', D)
                if sel.lengths is not None:
                    lengths = [int(n) for n in sel.lengths.tolist()]
                else:
                    lengths = [image_embeds.shape[1]] * B
            else:
                image_embeds = projected
                hooks = DECODER_HOOKS[plan.strategy](strategy, plan.budget, N, len(self.loop.layers))
            batch = pipeline.splice_batch([self.prompt_ids(q) for q in prompts], lengths, self.image_token_id,
                                          self.pad_id)
            embeds = pipeline.fill_image(self._embed(batch.ids), batch, self.image_token_id, image_embeds)  # (B, L, D)
        return Prepared(embeds=embeds, batch=batch, hooks=hooks, lengths=lengths, n_in=N,
                        vision_seconds=float(vision.extra.get("vision_seconds", 0.0)))

    def _project(self, features: torch.Tensor) -> torch.Tensor:
        return self.model.model.multi_modal_projector(features.to(self.dtype))  # (B, T, C) -> (B, T, D)

    @torch.no_grad()
    def generate(self, prompts: list[str], plan: PrunePlan, vision: VisionTokens | None = None,
                 images: list | None = None, max_new_tokens: int = 16, sample_keys: list | None = None) -> list[Output]:
        """Greedy answers to plain questions (template and image added here) under `plan`, one Output each."""
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be an integer >= 1, got {max_new_tokens!r}")
        run = self._run(lambda timer: self.prepare(prompts, plan, vision, images, sample_keys, timer), max_new_tokens)
        prep, texts = run.prep, run.texts
        return [self._output(texts[b].strip(), prep.n_in, prep.lengths[b], prep.batch.n_text[b], run.kept_per_layer,
                             run.timings, run.peak)
                for b in range(len(texts))]
