"""Qwen2.5-VL through transformers (Qwen2_5_VLForConditionalGeneration): no [CLS], window attention, a 2x2
patch merger, N = t*h*w/4 merged tokens per image (varies with the image size), 3-D M-RoPE positions, GQA.

    from pruning import PrunePlan
    from pruning.models import load_vlm
    vlm = load_vlm("tiny-qwen2.5-vl")
    vis = vlm.encode(images)                                  # vision tower once per batch
    outs = vlm.generate(questions, PrunePlan("vispruner", budget=32, params={"ratio": 0.5}), vision=vis)

Encoder stage: the strategies see the merged (LLM-input) tokens (`features` = `projected`: duplicate removal
and every similarity run on them) and the importance of qwen_importance.py; selection runs once per group of
images with equal N; T >= N keeps every token. Kept tokens keep their 3-D positions from transformers'
`get_rope_index` on the full prompt, text after the image keeps transformers' positions, and decoding goes on
from the last prompt position + 1 (rope_deltas). Decoder stage: FastV on those 3-D positions, one prefill per
group of samples with equal N (its image spans must match). SparseVLM is not run here (families.py says why).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from pruning.models import pipeline
from pruning.models.adapter_base import AdapterBase
from pruning.models.decoder_loop import Hook
from pruning.models.decoder_prune import DECODER_HOOKS
from pruning.models.families import FAMILIES
from pruning.models.media import check_media, content_key, render_prompt, sample_key_tensor
from pruning.models.model_options import split_options
from pruning.models.qwen_importance import encode_qwen
from pruning.models.sequence import Batch, image_span, splice
from pruning.models.timing import PhaseTimer
from pruning.types import Output, PrunePlan, VisionTokens


@dataclass(frozen=True)
class Layout:
    """One image: its patch grid (t, h, w) from the image processor and N = t*h*w / 4 merged tokens."""

    grid_thw: tuple[int, int, int]
    tokens: int


@dataclass
class Prepared:
    """The LLM's prefill input for one batch and plan."""

    embeds: torch.Tensor  # (B, L, D) left-padded input embeddings, kept image tokens spliced in
    batch: Batch  # pos (3, B, L): M-RoPE positions
    hooks: list[Hook]
    lengths: list[int]  # image tokens per sample entering the LLM
    n_in: list[int]  # N per sample
    vision_seconds: float


def apply_pixels(image_processor, options: dict[str, int]) -> None:
    """min_pixels / max_pixels options -> the image processor's pixel range (size shortest_edge / longest_edge):
    each image is resized to a multiple of 28 with min_pixels <= h*w <= max_pixels (smart_resize), which fixes
    N = h*w / 784 (min = max = 802816: 1036 tokens for a 4:3 image, 1024 for a square one)."""
    if not options:
        return
    from transformers.image_utils import SizeDict

    size = image_processor.size
    lo = options.get("min_pixels", size["shortest_edge"])
    hi = options.get("max_pixels", size["longest_edge"])
    image_processor.size = SizeDict(shortest_edge=int(lo), longest_edge=int(hi))


class Qwen25VL(AdapterBase):
    """Qwen2.5-VL via transformers. Encoder stage after the merger; decoder stage (FastV) at layer K."""

    def __init__(self, model, processor, name: str):
        apply_pixels(processor.image_processor, split_options(name)[1])
        if not (getattr(processor, "chat_template", None) or processor.tokenizer.chat_template):
            raise ValueError(f"{name}: the checkpoint has no chat template (chat_template.jinja / .json)")
        self._setup(model, processor, name, processor.tokenizer.chat_template)  # spec: N varies (None); GQA heads
        self.num_visual_tokens = None

    # ---------------------------------------------------------------- vision
    @torch.no_grad()
    def encode(self, images: list) -> VisionTokens:
        """The vision tower once for the batch of PIL images: one row per image, right-padded to the largest N
        (row_tokens: each image's N); features = projected = the merged LLM-input tokens, attention = importance."""
        _, images = check_media(images, FAMILIES[self.config.model_type].media)
        timer = PhaseTimer(self.device)
        with timer.phase("vision"):
            inputs = self.image_processor(images=images, return_tensors="pt")
            px = inputs["pixel_values"].to(self.device, self.dtype)  # (sum of patches, 3*2*14*14)
            grid = inputs["image_grid_thw"].to(self.device)  # (B, 3)
            sig = encode_qwen(self.model.model.visual, px, grid)
        counts = sig["counts"]
        B, Nmax = len(images), max(counts)
        D = sig["merged"].shape[-1]
        merged = sig["merged"].new_zeros(B, Nmax, D)  # (B, Nmax, D)
        attention = sig["importance"].new_zeros(B, Nmax)  # (B, Nmax)
        for b, (m, a) in enumerate(zip(sig["merged"].split(counts), sig["importance"].split(counts))):
            merged[b, :counts[b]], attention[b, :counts[b]] = m, a
        content = torch.tensor([content_key(im) for im in images], dtype=torch.int64, device=self.device)  # (B,)
        layouts = [Layout(tuple(int(x) for x in g), n) for g, n in zip(grid.tolist(), counts)]
        return VisionTokens(features=merged, attention=attention, projected=merged, content_keys=content,
                            row_tokens=torch.tensor(counts, device=self.device), layouts=layouts,
                            extra={"vision_seconds": timer.seconds()["vision"]})

    # ---------------------------------------------------------------- prompts and positions
    def prompt_ids(self, question: str) -> torch.Tensor:
        """The chat template over [image, question] with the generation prompt, tokenized (one <|image_pad|>)."""
        ids = self.tokenizer(render_prompt(self.tokenizer, self.chat_template, question))["input_ids"]
        return torch.tensor(ids, dtype=torch.long, device=self.device)  # (L,)

    def rope_positions(self, ids: torch.Tensor, layout: Layout) -> torch.Tensor:
        """(3, L + N - 1) transformers' M-RoPE positions (get_rope_index) of the full prompt: ids (L,) with its
        one placeholder expanded to the image's N tokens."""
        full, _ = splice(ids, self.image_token_id, layout.tokens)  # (L + N - 1,)
        grid = torch.tensor([layout.grid_thw], device=self.device)  # (1, 3)
        pos, _ = self.model.model.get_rope_index(full[None], mm_token_type_ids=(full == self.image_token_id).int()[None],
                                                 image_grid_thw=grid)
        return pos[:, 0]  # (3, L')

    def kept_positions(self, ids: torch.Tensor, layout: Layout, kept: torch.Tensor | None) -> torch.Tensor:
        """(3, L - 1 + T) positions of the pruned prompt: text as transformers numbers it, the kept image
        tokens `kept` (T,) (indices into the image's N, in the order they are spliced) at their own 3-D positions."""
        pos = self.rope_positions(ids, layout)  # (3, L')
        start, _ = image_span(ids, self.image_token_id)
        if kept is None:
            return pos
        img = pos[:, start:start + layout.tokens].index_select(1, kept.to(pos.device))  # (3, T)
        return torch.cat([pos[:, :start], img, pos[:, start + layout.tokens:]], dim=1)

    def _check(self, prompts, plan, vision, images):
        strategy, vision = super()._check(prompts, plan, vision, images)
        if vision.layouts is None or vision.row_sample is not None:
            raise ValueError("vision must come from this adapter's encode (one row per image, with its grid)")
        return strategy, vision

    # ---------------------------------------------------------------- generate
    @torch.no_grad()
    def prepare(self, prompts: list[str], plan: PrunePlan, vision: VisionTokens | None = None,
                images: list | None = None, sample_keys: list | None = None, timer: PhaseTimer | None = None) -> Prepared:
        """Validate, select per group of equal N (encoder stage) or build the prune hooks (decoder stage: every
        sample must have the same N), and splice the kept tokens with their 3-D positions into the left-padded
        batch: exactly the LLM's prefill input."""
        strategy, vision = self._check(prompts, plan, vision, images)
        timer = timer or PhaseTimer(self.device)
        B, n_in = vision.num_samples, vision.counts
        ids = [self.prompt_ids(q) for q in prompts]
        hooks: list[Hook] = []
        with timer.phase("select"):
            if strategy.stage == "encoder":
                kept, rows = self._select(strategy, vision, plan.budget, sample_key_tensor(sample_keys, B, self.device))
            else:
                if len(set(n_in)) != 1:
                    raise ValueError(f"decoder-stage {plan.strategy!r} needs equal N across the batch, got {n_in}; "
                                     "generate() runs one prefill per group of equal N")
                kept = [None] * B
                rows = [vision.projected[b, :n_in[b]] for b in range(B)]
                hooks = DECODER_HOOKS[plan.strategy](strategy, plan.budget, n_in[0], len(self.loop.layers))
            lengths = [int(r.shape[0]) for r in rows]
            positions = [self.kept_positions(i, lay, k) for i, lay, k in zip(ids, vision.layouts, kept)]
            batch = pipeline.splice_batch(ids, lengths, self.image_token_id, self.pad_id, positions=positions)
            image_embeds = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True)  # (B, T', D)
            embeds = pipeline.fill_image(self._embed(batch.ids), batch, self.image_token_id, image_embeds)  # (B, L, D)
        return Prepared(embeds=embeds, batch=batch, hooks=hooks, lengths=lengths, n_in=n_in,
                        vision_seconds=float(vision.extra.get("vision_seconds", 0.0)))

    def _select(self, strategy, vision: VisionTokens, budget: int | None, keys: torch.Tensor | None):
        """Selection once per group of images with equal N -> per sample: kept indices (T_b,), kept rows (T_b, D)."""
        n_in = vision.counts
        kept: list = [None] * len(n_in)
        rows: list = [None] * len(n_in)
        for n in sorted(set(n_in)):
            group = [b for b, m in enumerate(n_in) if m == n]
            g = torch.tensor(group, device=self.device)
            sub = dataclasses.replace(vision.take(g), row_tokens=None, layouts=None)
            sub = dataclasses.replace(sub, features=sub.features[:, :n], attention=sub.attention[:, :n],
                                      projected=sub.projected[:, :n], grid=None,
                                      sample_keys=None if keys is None else keys[g])
            sel = pipeline.select(strategy, sub, budget)
            if sel.tokens is not None:
                raise NotImplementedError(f"{type(strategy).__name__} merges tokens; Qwen2.5-VL keeps selected ones only")
            emb = pipeline.kept_embeds(sel, sub.projected, lambda t: t)  # (G, T, D)
            for j, b in enumerate(group):
                kept[b], rows[b] = sel.indices[j], emb[j]
        return kept, rows

    @torch.no_grad()
    def generate(self, prompts: list[str], plan: PrunePlan, vision: VisionTokens | None = None,
                 images: list | None = None, max_new_tokens: int = 16, sample_keys: list | None = None) -> list[Output]:
        """Greedy answers to plain questions (template and image added here) under `plan`, one Output each.
        A decoder-stage plan runs one prefill per group of samples with equal N (same answers as one by one)."""
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be an integer >= 1, got {max_new_tokens!r}")
        strategy, vision = self._check(prompts, plan, vision, images)
        if strategy.stage == "encoder":
            groups = [list(range(len(prompts)))]
        else:
            groups = [[b for b, m in enumerate(vision.counts) if m == n] for n in sorted(set(vision.counts))]
        return self._generate_groups(prompts, plan, vision, max_new_tokens, sample_keys, groups)
