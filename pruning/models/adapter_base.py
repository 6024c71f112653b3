"""What every adapter shares (llava.py, video_llava.py, qwen2_5_vl.py; llava_next.py and llava_onevision.py
through Llava): the setup from a transformers model and its processor or Parts, `supports_strategy`, the checks
of a generate call (plan, refusal with the family's reason, T <= N, prompts, vision), the prefill + greedy
decode of a prepared batch on the shared DecoderLoop, and the Output with its costs.

Each family keeps its own encode / prepare (importance signal, how a selection maps back into the sequence).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import torch

from pruning.models import pipeline
from pruning.models.decoder_loop import DecoderLoop
from pruning.models.decoder_prune import DECODER_HOOKS
from pruning.models.families import FAMILIES, model_spec
from pruning.models.timing import PhaseTimer
from pruning.registry import strategy_class
from pruning.types import Output, PrunePlan, Stage


@dataclass
class Generated:
    """One batch through prefill and greedy decoding."""

    prep: Any  # the family's Prepared (embeds, batch, hooks, lengths, n_in, vision_seconds, ...)
    state: Any  # DecoderLoop state after decoding (kept_per_layer, info)
    texts: list[str]  # decoded answers, not yet stripped
    timings: dict[str, float]  # seconds per phase: vision, select, prefill, decode
    peak: int | None  # peak CUDA bytes over the call (None on CPU)
    kept_per_layer: list[int] | None  # decoder-stage plans only


class AdapterBase:
    """Setup and the generate tail of an adapter; subclasses call `_setup` from their __init__."""

    supports: ClassVar[frozenset[Stage]] = frozenset({"encoder", "decoder"})

    def _setup(self, model, processor, name: str, chat_template: str | None) -> None:
        """The unmodified transformers parts and the shared decoding state. `processor` is a processor or Parts;
        its own chat template wins over `chat_template` (the family's fallback)."""
        cfg = model.config
        self.model, self.processor, self.name = model.eval(), processor, name
        self.config, self.text_config = cfg, cfg.text_config
        self.tokenizer, self.image_processor = processor.tokenizer, processor.image_processor
        self.chat_template = getattr(processor, "chat_template", None) or chat_template
        self.image_token_id = int(cfg.image_token_id)
        self.spec = model_spec(cfg)  # from the family table: N, depth, heads, KV heads
        p = next(model.parameters())
        self.device, self.dtype = p.device, p.dtype
        self.loop = DecoderLoop(model.model.language_model, model.lm_head, cfg.text_config._attn_implementation)
        eos = model.generation_config.eos_token_id
        eos = eos if eos is not None else self.tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, (list, tuple)) else [eos])
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else min(self.eos_ids)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, device={self.device}, dtype={self.dtype})"

    def supports_strategy(self, name: str) -> bool:
        """Whether this adapter can run the registry strategy `name` (stage supported and wired)."""
        try:
            stage = strategy_class(name).stage
        except (KeyError, ImportError):
            return False
        return (stage in self.supports and name in FAMILIES[self.config.model_type].strategies
                and (stage == "encoder" or name in DECODER_HOOKS))

    def _check(self, prompts, plan, vision, media):
        """The plan built (did-you-mean on bad names), refused with the family's reason when this adapter cannot
        run it, T bounded by N (when N is fixed), and the VisionTokens for `prompts` (encoded here from `media`
        when not given). Returns (strategy, vision)."""
        if not isinstance(plan, PrunePlan):
            raise TypeError(f"plan must be a pruning.PrunePlan, got {type(plan).__name__}")
        strategy = plan.build()  # unknown names / parameters fail here with did-you-mean
        if not self.supports_strategy(plan.strategy):
            why = FAMILIES[self.config.model_type].unsupported.get(plan.strategy)
            raise ValueError(f"{self.name}: strategy {plan.strategy!r} ({strategy.stage} stage) is not supported by "
                             f"this model{f': {why}' if why else ''}")
        n = self.num_visual_tokens  # None: N varies per image (Qwen2.5-VL)
        if plan.budget is not None and n is not None and plan.budget > n:
            raise ValueError(f"budget T={plan.budget} exceeds the {n} visual tokens of {self.name}")
        if isinstance(prompts, str) or not isinstance(prompts, (list, tuple)) or not prompts:
            raise TypeError("prompts must be a non-empty list of question strings")
        if vision is None:
            if media is None:
                raise ValueError("generate needs vision= (from encode) or images=")
            vision = self.encode(media)
        if vision.num_samples != len(prompts):
            raise ValueError(f"{len(prompts)} prompts but vision holds {vision.num_samples} "
                             f"{vision.extra.get('media', 'image')}s")
        return strategy, vision

    def _embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model.model.language_model.embed_tokens(ids)

    def _run(self, prepare: Callable[[PhaseTimer], Any], max_new_tokens: int, eos_ids: set | None = None) -> Generated:
        """prepare(timer) -> the family's Prepared, then prefill and greedy decoding on the shared loop; peak
        CUDA memory is measured over the whole call. eos_ids: the model's by default; set() decodes exactly
        max_new_tokens (the latency benches)."""
        cuda = self.device.type == "cuda"
        if cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
        timer = PhaseTimer(self.device)
        prep = prepare(timer)
        batch = prep.batch
        with timer.phase("prefill"):
            state = self.loop.prefill(prep.embeds, batch.valid, batch.pos, batch.img_start, max(prep.lengths), prep.hooks)
        with timer.phase("decode"):
            tokens_out = self.loop.greedy(state, self._embed, max_new_tokens,
                                          self.eos_ids if eos_ids is None else eos_ids, self.pad_id)
        texts = self.tokenizer.batch_decode(tokens_out, skip_special_tokens=True)
        timings = {"vision": prep.vision_seconds, **timer.seconds()}
        peak = int(torch.cuda.max_memory_allocated(self.device)) if cuda else None
        per_layer = state.kept_per_layer if prep.hooks else None
        return Generated(prep=prep, state=state, texts=texts, timings=timings, peak=peak, kept_per_layer=per_layer)

    def _generate_groups(self, prompts, plan, vision, max_new_tokens, sample_keys, groups: list[list[int]]) -> list[Output]:
        """One `_generate` per group of sample indices (a decoder-stage plan's prune hooks need one image-span
        length per batch), the Outputs back in prompt order. One group: the whole batch as given."""
        if len(groups) == 1:
            return self._generate(prompts, plan, vision, max_new_tokens, sample_keys)
        outs: list[Output | None] = [None] * len(prompts)
        for idx in groups:
            keys = None if sample_keys is None else [sample_keys[i] for i in idx]
            for i, out in zip(idx, self._generate([prompts[i] for i in idx], plan, vision.take_samples(idx),
                                                  max_new_tokens, keys)):
                outs[i] = out
        return outs

    def _generate(self, prompts, plan, vision, max_new_tokens, sample_keys) -> list[Output]:
        """prepare + `_run` for one batch whose Prepared carries a visual-token count per sample (n_in[b]:
        LLaVA-NeXT, OneVision, Qwen2.5-VL); LLaVA-1.5 and Video-LLaVA, with one N for the batch, build theirs
        in generate."""
        run = self._run(lambda timer: self.prepare(prompts, plan, vision, None, sample_keys, timer), max_new_tokens)
        prep, texts = run.prep, run.texts
        return [self._output(texts[b].strip(), prep.n_in[b], prep.lengths[b], prep.batch.n_text[b], run.kept_per_layer,
                             run.timings, run.peak)
                for b in range(len(texts))]

    def _output(self, text, n_in, n_kept, n_text, kept_per_layer, timings, peak, kept_per_frame=None) -> Output:
        """One Output with its FLOPs and KV bytes from the spec (pipeline.costs); kept_per_frame: videos only.
        jobs/bench_video_llava.py calls it with all eight arguments positionally."""
        flops, kv, n_kept = pipeline.costs(self.text_config, n_in, n_kept, n_text, kept_per_layer, self.dtype.itemsize)
        return Output(text=text, n_visual_in=n_in, n_visual_kept=n_kept, n_text=n_text, flops=flops, kv_bytes=kv,
                      timings=dict(timings), kept_per_layer=list(kept_per_layer) if kept_per_layer else None,
                      peak_mem_bytes=peak, kept_per_frame=kept_per_frame)
