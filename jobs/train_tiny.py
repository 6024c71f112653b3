"""Train tiny-llava-shapes: a LLaVA-1.5-shaped model (CLIP-L/14-336 geometry, 576 patches + [CLS]; narrow widths)
that answers the generated `shapes` questions from the image. Needs only torch + transformers (+ this repo).

    python jobs/train_tiny.py --out runs/tiny-shapes [--seed 0] [--device cuda] [--ship pruning/models/checkpoints/tiny-llava-shapes]

Stage 1 (vision tower, heads discarded after): per-cell classification (16 cells x 13 classes: empty or
colour x shape) from the [CLS] of the last layer and of the feature layer (-2), plus each feature-layer patch
classifying what it shows (empty, or the colour x shape it overlaps) and its cell index. The [CLS] loss is what makes VisPruner's signal (the
[CLS] attention of layer -2) land on the shapes; the patch losses make the projector's input readable.
Stage 2 (tower frozen, its layer -2 features cached): projector + Llama on many question/answer segments per
image, packed so each segment is exactly a single-turn sweep prompt (jobs/tiny_qa.py). Never trained on
pruned token subsets. Resumable: stage checkpoints in --out; a rerun continues where it stopped.
Deterministic for --seed on a given device and thread count. MLflow logging only when MLFLOW_TRACKING_URI is set.
"""
from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import shutil
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # runnable as a script from any cwd

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from PIL import Image  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from tqdm import tqdm  # noqa: E402  (a transformers dependency)

from jobs.tiny_qa import N_CLASSES, Packer, cell_labels, image, patch_cells, questions, scene  # noqa: E402
from pruning.models.tiny import build_processor, build_tokenizer, llava_config  # noqa: E402
from pruning.models.vision_attention import encode_clip, feature_index, run_tower  # noqa: E402
from sweeps.benchmarks.shapes import GRID, PLURAL, generate_rows  # noqa: E402

HELDOUT_SEED = 9  # shapes benchmark seed for the held-out log (training scenes use string seeds, never these)
CELLS = GRID * GRID
# The shape names as whole tokens (the generic tiny tokenizer splits "square" into " s|q|u|are"): a question's
# object must be one token the LLM can attend to by content, as it would be in a real Llama vocabulary.
SHAPE_WORDS = tuple(w for s, p in PLURAL.items() for w in (s, p))
# The Llama has 2 heads of 64 (head dim 32) and RoPE base 1e6: with head dim 16 and base 10,000 (4 heads), only
# two frequency pairs per head rotate slowly enough across the 576 image positions for a question token to pick
# patches by content ("the square"), and colour/existence answers stalled at 0.3-0.7 (docs/TINY_LLAVA_SHAPES.md).
WIDTHS = dict(vision_width=64, vision_layers=3, vision_heads=4, vision_ffn=128,
              width=64, layers=2, heads=2, ffn=172, init_range=0.02, rope_theta=1e6)


class Log:
    """Progress lines to stdout + metrics.jsonl; MLflow when MLFLOW_TRACKING_URI is set."""

    def __init__(self, out: Path, params: dict):
        self.file = open(out / "metrics.jsonl", "a")
        self.mlflow = None
        if os.environ.get("MLFLOW_TRACKING_URI"):
            import mlflow

            mlflow.set_experiment("tiny-llava-shapes-training")
            mlflow.start_run(run_name=f"train-tiny-seed{params['seed']}")
            mlflow.log_params(params)
            self.mlflow = mlflow

    def __call__(self, stage: int, step: int, **metrics):
        self.file.write(json.dumps({"stage": stage, "step": step, "time": time.time(), **metrics}) + "\n")
        self.file.flush()
        tqdm.write(f"[stage {stage} step {step}] " + " ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
        if self.mlflow:
            self.mlflow.log_metrics({f"s{stage}/{k}": v for k, v in metrics.items()}, step=step)


def lr_at(step: int, steps: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup))))


def render(processor, objects_list, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(pixel_values (B, 3, 336, 336) as the adapter preprocesses them, (B, 576) bool patches showing a shape)."""
    import numpy as np

    ims = [image(o) for o in objects_list]
    px = processor.image_processor(images=ims, return_tensors="pt")["pixel_values"].to(device)
    shown = [torch.from_numpy((np.asarray(im) != 245).any(-1).reshape(24, 14, 24, 14).any(axis=(1, 3)).reshape(-1))
             for im in ims]  # any non-background pixel in the 14-px patch
    return px, torch.stack(shown).to(device)


class Stopped(Exception):
    """--stop-after reached: the checkpoint is written; rerun the same command to resume."""


def budget_spent(a) -> bool:
    a.steps_done = getattr(a, "steps_done", 0) + 1
    return bool(a.stop_after) and a.steps_done >= a.stop_after


def save(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


# ------------------------------------------------------------------ stage 1: vision tower
def optimise(opt, loss: torch.Tensor, params, bar) -> None:
    """One optimiser step, gradients clipped to norm 1 (both stages), loss shown on the progress bar."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    bar.set_postfix(loss=f"{loss.item():.3f}")


def stage1(model, processor, a, out: Path, log: Log, dev) -> None:
    tower = model.model.vision_tower
    C, L = tower.config.hidden_size, tower.config.num_hidden_layers
    h = feature_index(model.config.vision_feature_layer, L)
    with torch.random.fork_rng(devices=[]):  # heads seeded apart from the LLM's init: stage 1 is the same for any LLM size
        torch.manual_seed(a.seed)
        heads = nn.ModuleDict({"cls_last": nn.Sequential(nn.LayerNorm(C), nn.Linear(C, CELLS * N_CLASSES)),
                               "cls_feat": nn.Sequential(nn.LayerNorm(C), nn.Linear(C, CELLS * N_CLASSES)),
                               "patch": nn.Sequential(nn.LayerNorm(C), nn.Linear(C, N_CLASSES + CELLS))}).to(dev)
    params = list(tower.parameters()) + list(heads.parameters())
    opt = torch.optim.AdamW(params, lr=a.lr1, weight_decay=0.01)
    ck, start = out / "stage1.pt", 0
    if ck.exists():
        st = torch.load(ck, map_location=dev)
        tower.load_state_dict(st["tower"]), heads.load_state_dict(st["heads"]), opt.load_state_dict(st["opt"])
        start = st["step"]
    if start >= a.steps1:
        return
    pc = patch_cells().to(dev)  # (576,)
    held = [scene("tower-heldout", a.seed, i) for i in range(16)]
    held_px, held_shape = render(processor, held, dev)
    held_y = torch.stack([cell_labels(o) for o in held]).to(dev)  # (B, 16)
    held_patch_y = held_y[:, pc] * held_shape  # (B, 576) what each patch shows: its cell's class, or empty
    tower.train()
    bar = tqdm(range(start, a.steps1), desc="stage 1 (tower)", initial=start, total=a.steps1)
    for step in bar:
        for g in opt.param_groups:
            g["lr"] = lr_at(step, a.steps1, a.lr1, 10)
        objs = [scene("tower", a.seed, step * a.batch1 + b) for b in range(a.batch1)]
        y = torch.stack([cell_labels(o) for o in objs]).to(dev)  # (B, 16)
        px, shown = render(processor, objs, dev)
        states = run_tower(tower, px, L)  # L+1 x (B, 577, C)
        f, last = states[h], states[L]
        B = y.shape[0]
        l_cls = (F.cross_entropy(heads["cls_last"](last[:, 0]).view(B * CELLS, N_CLASSES), y.view(-1))
                 + F.cross_entropy(heads["cls_feat"](f[:, 0]).view(B * CELLS, N_CLASSES), y.view(-1)))
        pl = heads["patch"](f[:, 1:])  # (B, 576, 13 + 16)
        patch_y = y[:, pc] * shown  # (B, 576) what each patch shows: its cell's colour x shape, or empty
        l_patch = (F.cross_entropy(pl[..., :N_CLASSES].reshape(-1, N_CLASSES), patch_y.reshape(-1))
                   + F.cross_entropy(pl[..., N_CLASSES:].reshape(-1, CELLS), pc.expand(B, -1).reshape(-1)))
        loss = l_cls + l_patch
        optimise(opt, loss, params, bar)
        last_step = step + 1 == a.steps1
        if (step + 1) % a.eval_every1 == 0 or last_step:
            tower.eval()
            with torch.no_grad():
                sig = encode_clip(tower, held_px, model.config.vision_feature_layer)
                hs = run_tower(tower, held_px, h)
                cls_acc = (heads["cls_feat"](hs[h][:, 0]).view(-1, CELLS, N_CLASSES).argmax(-1) == held_y).float().mean()
                p_ok = heads["patch"](hs[h][:, 1:])[..., :N_CLASSES].argmax(-1) == held_patch_y  # (B, 576)
                p_acc, shape_acc = p_ok.float().mean(), p_ok[held_shape].float().mean()
                on_shapes = (sig["attention"] * held_shape).sum(-1).mean()  # share of [CLS] attention on shape patches
            log(1, step + 1, loss=loss.item(), l_cls=l_cls.item(), l_patch=l_patch.item(), heldout_cls_cell_acc=cls_acc.item(),
                heldout_patch_acc=p_acc.item(), heldout_shape_patch_acc=shape_acc.item(), cls_attn_on_shapes=on_shapes.item(), shape_patch_share=held_shape.float().mean().item())
            tower.train()
        stop = budget_spent(a)
        if (step + 1) % a.ckpt_every == 0 or last_step or stop:
            save(ck, {"step": step + 1, "tower": tower.state_dict(), "heads": heads.state_dict(), "opt": opt.state_dict()})
        if stop:
            raise Stopped(f"stopped in stage 1 at step {step + 1}")
    tower.eval()


# ------------------------------------------------------------------ stage 2: projector + LLM
@torch.no_grad()
def features(model, processor, scenes_or_images: list, dev, chunk: int = 32) -> torch.Tensor:
    """(M, 576, C) feature-layer patches of the frozen tower, as the adapter computes them (scenes are drawn first)."""
    tower, fl = model.model.vision_tower, model.config.vision_feature_layer
    out = []
    for i in tqdm(range(0, len(scenes_or_images), chunk), desc="caching tower features", leave=False):
        part = scenes_or_images[i:i + chunk]
        ims = part if isinstance(part[0], Image.Image) else [image(o) for o in part]
        px = processor.image_processor(images=ims, return_tensors="pt")["pixel_values"].to(dev)  # (b, 3, 336, 336)
        out.append(encode_clip(tower, px, fl)["features"].float().cpu())
    return torch.cat(out)


def llm_logits(model, packer: Packer, feats: torch.Tensor, batch: dict) -> torch.Tensor:
    """Logits (M, V) at the batch's target positions; feats (B, 576, C). The [prefix | image] part runs once per
    image; its KV cache is gathered per segment, so each segment is exactly a single-question prompt."""
    lm = model.model.language_model
    emb = lm.embed_tokens(batch["prefix"])  # (B, P+576, D)
    img = model.model.multi_modal_projector(feats)  # (B, 576, D)
    emb = emb.masked_scatter((batch["prefix"] == packer.image_token_id)[..., None], img.to(emb.dtype))
    cache = lm(inputs_embeds=emb, use_cache=True).past_key_values
    cache.batch_select_indices(batch["image"])  # (S, ...) one copy per segment, differentiable
    hid = lm(inputs_embeds=lm.embed_tokens(batch["segs"]), past_key_values=cache).last_hidden_state  # (S, Ls, D)
    return model.lm_head(hid[batch["seg"], batch["src"]])  # (M, V)


@torch.no_grad()
def heldout_accuracy(model, packer, feats, rows, dev) -> dict[str, float]:
    """Teacher-forced exact match (= greedy decoding of the whole answer) on single-question benchmark rows."""
    right: dict[str, list[float]] = {}
    for i in range(0, len(rows), 16):
        part = rows[i:i + 16]
        batch = packer.pack([[(r["question"], r["answer"])] for r in part], dev)
        pred = llm_logits(model, packer, feats[i:i + 16].to(dev), batch).argmax(-1)
        ok = (pred == batch["tgt"]).float()
        for b, r in enumerate(part):
            sel = batch["seg"] == b  # one segment per image here
            n_ans = int(sel.sum())
            right.setdefault(r["category"], []).append(float(ok[sel][:n_ans - 1].min()))  # answer ids (eos not needed)
    acc = {f"heldout_acc_{k}": sum(v) / len(v) for k, v in right.items()}
    acc["heldout_acc"] = sum(sum(v) for v in right.values()) / sum(len(v) for v in right.values())
    return acc


def stage2(model, processor, a, out: Path, log: Log, dev) -> dict[str, float]:
    model.model.vision_tower.requires_grad_(False)
    packer = Packer(processor.tokenizer, model.config.image_token_id)
    pool = [scene("llm", a.seed, i) for i in range(a.pool)]
    cache = out / f"features-{a.pool}.pt"
    if cache.exists():
        feats = torch.load(cache)
    else:
        feats = features(model, processor, pool, dev)
        save(cache, feats)
    held = generate_rows(HELDOUT_SEED, a.heldout)
    held_feats = features(model, processor, [Image.open(io.BytesIO(r["image"]["bytes"])).convert("RGB") for r in held], dev)
    params = [p for n, p in model.named_parameters() if "vision_tower" not in n]
    opt = torch.optim.AdamW(params, lr=a.lr2, weight_decay=0.0, betas=(0.9, 0.98))
    ck, start = out / "stage2.pt", 0
    if ck.exists():
        st = torch.load(ck, map_location=dev)
        model.load_state_dict(st["model"]), opt.load_state_dict(st["opt"])
        start = st["step"]
    acc: dict[str, float] = {}
    model.train()
    bar = tqdm(range(start, a.steps2), desc="stage 2 (projector + LLM)", initial=start, total=a.steps2)
    for step in bar:
        for g in opt.param_groups:
            g["lr"] = lr_at(step, a.steps2, a.lr2, 40)
        gen = torch.Generator().manual_seed(a.seed * 1_000_003 + step)
        idx = torch.randint(len(pool), (a.batch2,), generator=gen)
        qas = [[(q, ans) for q, ans, _ in questions(pool[i], random.Random(f"qa-{a.seed}-{step}-{b}"))]
               for b, i in enumerate(idx.tolist())]
        batch = packer.pack(qas, dev)
        logits = llm_logits(model, packer, feats[idx].to(dev), batch)
        loss = F.cross_entropy(logits.float(), batch["tgt"])
        optimise(opt, loss, params, bar)
        last_step = step + 1 == a.steps2
        if (step + 1) % a.eval_every2 == 0 or last_step:
            model.eval()
            acc = heldout_accuracy(model, packer, held_feats, held, dev)
            log(2, step + 1, loss=loss.item(), lr=opt.param_groups[0]["lr"], **acc)
            model.train()
        stop = budget_spent(a)
        if (step + 1) % a.ckpt_every == 0 or last_step or stop:
            save(ck, {"step": step + 1, "model": model.state_dict(), "opt": opt.state_dict()})
        if stop:
            raise Stopped(f"stopped in stage 2 at step {step + 1}")
    model.eval()
    if not acc:
        acc = heldout_accuracy(model, packer, held_feats, held, dev)
    return acc


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="jobs/train_tiny.py", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/tiny-llava-shapes", help="run dir: checkpoints, metrics.jsonl, final/")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (results are deterministic per thread count)")
    ap.add_argument("--steps1", type=int, default=1200)
    ap.add_argument("--batch1", type=int, default=16)
    ap.add_argument("--lr1", type=float, default=3e-3)
    ap.add_argument("--steps2", type=int, default=5000)
    ap.add_argument("--batch2", type=int, default=8)
    ap.add_argument("--lr2", type=float, default=3e-3)
    ap.add_argument("--llm-width", type=int, default=WIDTHS["width"], help="Llama hidden size")
    ap.add_argument("--llm-ffn", type=int, default=WIDTHS["ffn"], help="Llama FFN size")
    ap.add_argument("--llm-layers", type=int, default=WIDTHS["layers"], help="Llama decoder layers")
    ap.add_argument("--llm-heads", type=int, default=WIDTHS["heads"], help="Llama attention heads (head dim = width / heads)")
    ap.add_argument("--rope-theta", type=float, default=WIDTHS["rope_theta"], help="Llama RoPE base")
    ap.add_argument("--pool", type=int, default=6000, help="stage-2 images (features cached)")
    ap.add_argument("--heldout", type=int, default=96, help="held-out rows of shapes seed 9 logged during training")
    ap.add_argument("--eval-every1", type=int, default=100)
    ap.add_argument("--eval-every2", type=int, default=250)
    ap.add_argument("--ckpt-every", type=int, default=100)
    ap.add_argument("--stop-after", type=int, default=0, help="stop after this many optimizer steps (checkpointed); "
                    "rerunning the same command resumes")
    ap.add_argument("--export-on-stop", action="store_true", help="with --stop-after: also write final/ from the "
                    "weights at the stop")
    ap.add_argument("--ship", help="also copy the final checkpoint to this directory")
    return ap


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    warnings.filterwarnings("ignore", message=".*past_key_values.*deprecated", category=FutureWarning)
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    widths = {**WIDTHS, "width": a.llm_width, "ffn": a.llm_ffn, "layers": a.llm_layers, "heads": a.llm_heads,
              "rope_theta": a.rope_theta}
    params = {k: v for k, v in vars(a).items() if k not in ("out", "ship", "device", "stop_after", "export_on_stop")} | {"widths": json.dumps(widths)}
    log, t0 = Log(out, params), time.time()
    from transformers import LlavaForConditionalGeneration

    processor = build_processor(build_tokenizer(SHAPE_WORDS))
    torch.manual_seed(a.seed)
    model = LlavaForConditionalGeneration(llava_config(processor.tokenizer, **widths)).to(dev)
    try:
        stage1(model, processor, a, out, log, dev)
        acc = stage2(model, processor, a, out, log, dev)
    except Stopped as stop:
        print(f"{stop}; rerun the same command to resume")
        if not a.export_on_stop:
            return 0
        acc = {"stopped": str(stop)}
    final = out / "final"
    model.eval()
    model.save_pretrained(final)
    processor.save_pretrained(final)
    meta = {"args": params, "wall_seconds_this_invocation": round(time.time() - t0, 1), "heldout_seed": HELDOUT_SEED, **acc}
    (out / "train_summary.json").write_text(json.dumps(meta, indent=1))
    print(json.dumps(meta, indent=1))
    if a.ship:
        shutil.rmtree(a.ship, ignore_errors=True)
        shutil.copytree(final, a.ship)
    if log.mlflow:
        log.mlflow.log_metrics({f"final/{k}": v for k, v in acc.items() if isinstance(v, float)})
        log.mlflow.end_run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
