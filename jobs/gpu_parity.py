"""gpu_check section a: every tiny family alias on the device (fp16, bf16) against fp32 on CPU, and sdpa against
flash_attention_2 when flash-attn imports; keep_all and VisPruner T=64, same kept indices and same answers.

Kept indices come from the plan's strategy on each side's own `encode` output (what `generate` selects from);
answers from `generate`. Text rule (TEXT_RULE): identical, or failing that the same first word; a greedy
continuation may part ways later where two logits nearly tie, which fp16 rounding is allowed to flip.
Kept indices must be equal; where they are not, a row says whether VisPruner's top-int(T*r) cut sits on a near tie
(fp32 margin at the cut, relative to the largest attention value, below the device dtype's epsilon): random-weight
tiny models have nearly uniform [CLS] attention, so rounding alone can reorder it.
"""
from __future__ import annotations

import torch

from jobs.gpu_context import Context, images, pope_questions
from pruning import PrunePlan

NAME, TITLE = "parity", "a. Parity: device against fp32 CPU, sdpa against flash_attention_2"
PLANS = (PrunePlan("keep_all"), PrunePlan("vispruner", 64, {"ratio": 0.5}))  # T = 64, r = 0.5
N_MEDIA, NEW_TOKENS, VIDEO_FRAMES = 2, 8, 8
REFERENCE = "cpu float32 sdpa (reference)"  # its own key: in a dry run the device side is cpu float32 sdpa too
TEXT_RULE = "identical text, or failing that the same first word (greedy continuations may split later at near-tied logits)"


def tiny_aliases() -> list[str]:
    """Every tiny alias of the model layer's alias table, so a family added later is covered without an edit here."""
    from pruning.models import MODELS

    return sorted(a for a in MODELS if a.startswith("tiny"))


def encode_any(vlm, n: int):
    """(vision, media kind): images first; a video family (encode wants lists of frames) gets n 8-frame videos."""
    pics = images(n)
    try:
        return vlm.encode(pics), "images"
    except (TypeError, ValueError):
        frames = images(VIDEO_FRAMES)
        return vlm.encode([frames[i:] + frames[:i] for i in range(n)]), "videos"


def answers(vlm, vision, plan: PrunePlan) -> dict:
    """Kept indices (B, T) on CPU, kept counts and greedy texts for one plan."""
    sel = plan.build().select(vision, plan.budget)
    outs = vlm.generate(pope_questions(vision.batch_size), plan, vision=vision, max_new_tokens=NEW_TOKENS)
    return {"indices": sel.indices.cpu(), "kept": [o.n_visual_kept for o in outs], "texts": [o.text for o in outs]}


def first_word(text: str) -> str:
    return text.split()[0] if text.split() else ""


def important_cut(plan: PrunePlan, ref_attn: torch.Tensor, dev_attn: torch.Tensor) -> dict:
    """VisPruner's first step on each side: the top int(T*r) tokens by [CLS] attention, and the fp32 margin at that
    cut (attention of the k-th minus the (k+1)-th token). A margin below the device's attention error is a near tie
    the device dtype cannot resolve, which explains a differing kept set."""
    if plan.strategy != "vispruner":
        return {"important_same": None, "cut_margin": None, "cut_margin_rel": None}
    k = int(plan.budget * plan.params.get("ratio", 0.5))  # T_imp = int(T * r)
    top_ref = ref_attn.topk(k + 1, dim=-1).values  # (B, k+1)
    top_dev = dev_attn.topk(k, dim=-1).indices.tolist()
    same = [set(a) == set(b) for a, b in zip(ref_attn.topk(k, dim=-1).indices.tolist(), top_dev)]
    margin = top_ref[:, k - 1] - top_ref[:, k]  # (B,)
    return {"important_same": all(same), "cut_margin": float(margin.min()),
            "cut_margin_rel": float((margin / top_ref[:, 0]).min())}  # against the largest attention value


def compare(alias: str, ref_label: str, dev_label: str, plan: PrunePlan, ref: dict, dev: dict, media: str,
            dtype: torch.dtype) -> dict:
    """One parity row; `dtype` is the coarser side's (its epsilon judges whether a differing top-k is a near tie)."""
    same = ref["indices"].shape == dev["indices"].shape and bool(torch.equal(ref["indices"], dev["indices"]))
    overlap = []  # |kept_ref ∩ kept_dev| / T per sample
    for a, b in zip(ref["indices"].tolist(), dev["indices"].tolist()):
        overlap.append(len(set(a) & set(b)) / max(len(a), 1))
    identical = sum(x == y for x, y in zip(ref["texts"], dev["texts"]))
    first = sum(first_word(x) == first_word(y) for x, y in zip(ref["texts"], dev["texts"]))
    n = len(ref["texts"])
    text_ok = identical == n or first == n
    diff = float((dev["attention"] - ref["attention"]).abs().max())
    cut = important_cut(plan, ref["attention"], dev["attention"])
    # a differing top-k that rounding alone can cause: the fp32 margin at the cut, relative to the largest value,
    # is below the device dtype's machine epsilon
    near_tie = not same and cut["important_same"] is False and cut["cut_margin_rel"] < torch.finfo(dtype).eps
    return {"alias": alias, "media": media, "reference": ref_label, "device": dev_label, "plan": plan.label,
            "same_indices": same, "index_overlap": min(overlap), "same_kept": ref["kept"] == dev["kept"],
            "kept": dev["kept"][0], "texts_identical": identical, "first_word_same": first, "n": n,
            "text_ok": text_ok, "attention_max_abs_diff": diff, **cut, "near_tie": near_tie,
            "status": "pass" if same and text_ok and ref["kept"] == dev["kept"] else
                      ("fail: near tie at the cut" if near_tie else "fail"),
            "texts": [[x, y] for x, y in zip(ref["texts"], dev["texts"])]}


def side(ctx: Context, alias: str, dtype, attn: str, device=None) -> tuple[dict, str]:
    """One load of `alias`: per plan its kept indices, kept counts, texts and the [CLS] attention (B, N) in fp32."""
    vlm, _ = ctx.load(alias, device=device, dtype=dtype, attn=attn)
    vision, kind = encode_any(vlm, N_MEDIA)
    attention = vision.attention.float().cpu()  # (B, N)
    out = {plan.label: answers(vlm, vision, plan) | {"attention": attention} for plan in PLANS}
    del vlm, vision
    ctx.free()
    return out, kind


def marks(rec: dict) -> None:
    rows, ok = rec["rows"], bool(rec["rows"]) and not rec["errors"]
    rec["marks"] = [{"mark": "same kept indices in every parity row", "target": "all rows",
                     "value": f"{sum(r['same_indices'] for r in rows)}/{len(rows)}",
                     "status": "met" if ok and all(r["same_indices"] for r in rows) else "missed"},
                    {"mark": "answers within the text rule", "target": "all rows",
                     "value": f"{sum(r['text_ok'] for r in rows)}/{len(rows)}",
                     "status": "met" if ok and all(r["text_ok"] for r in rows) else "missed"}]


def run(ctx: Context, rec: dict, save) -> None:
    rec.update(aliases=tiny_aliases(), text_rule=TEXT_RULE, rows=[], errors=[])
    if not ctx.flash:
        rec["flash_attention_2"] = "not compared: " + ("flash_attn is not importable" if ctx.cuda else "no CUDA device")
    sides = [(dt, "sdpa") for dt in ctx.profile.parity_dtypes] + ([("float16", "flash_attention_2")] if ctx.flash else [])
    for alias in rec["aliases"]:
        runs = {}
        for dtype, attn, device in [("float32", "sdpa", "cpu")] + [(dt, at, None) for dt, at in sides]:
            label = REFERENCE if device == "cpu" else f"{ctx.device.type} {dtype} {attn}"
            try:
                runs[label], kind = side(ctx, alias, getattr(torch, dtype), attn, device=device)
            except Exception as exc:  # one family or dtype failing must not hide the others
                rec["errors"].append(f"{alias} {label}: {type(exc).__name__}: {exc}")
                save()
                if device == "cpu":
                    break  # no reference for this alias
                continue
            pairs = [] if device == "cpu" else [(REFERENCE, label)]
            if attn == "flash_attention_2":  # the same device and dtype, only the attention kernel differs
                pairs.append((f"{ctx.device.type} float16 sdpa", label))
            for ref_label, dev_label in pairs:
                if ref_label in runs:
                    rec["rows"] += [compare(alias, ref_label, dev_label, plan, runs[ref_label][plan.label],
                                            runs[dev_label][plan.label], kind, getattr(torch, dtype)) for plan in PLANS]
            marks(rec)
            save()
    marks(rec)
    save()


def render(rec: dict) -> list[str]:
    lines = [f"Aliases (every `tiny*` entry of `pruning.models.MODELS`): {', '.join(rec.get('aliases', [])) or 'none'}. "
             f"{N_MEDIA} synthetic inputs with POPE prompts, {NEW_TOKENS} greedy tokens. Text rule: {TEXT_RULE}.", ""]
    if rec.get("flash_attention_2"):
        lines += [f"flash_attention_2: {rec['flash_attention_2']}.", ""]
    lines += ["| alias | reference | device | plan | kept | same indices (min overlap) | same top int(T*r) by attention | "
              "fp32 attention margin at that cut | max abs diff of [CLS] attention | texts identical | first word same | "
              "status |",
              "|---|---|---|---|---:|---|---|---:|---:|---|---|---|"]
    for r in rec.get("rows", []):
        diff = "-" if r["attention_max_abs_diff"] is None else f"{r['attention_max_abs_diff']:.2e}"
        imp = "-" if r["important_same"] is None else ("yes" if r["important_same"] else "no")
        margin = "-" if r["cut_margin"] is None else f"{r['cut_margin']:.2e} ({r['cut_margin_rel']:.1e} rel.)"
        lines.append(f"| {r['alias']} | {r['reference']} | {r['device']} | {r['plan']} | {r['kept']} | "
                     f"{'yes' if r['same_indices'] else 'no'} ({r['index_overlap']:.3f}) | {imp} | {margin} | {diff} | "
                     f"{r['texts_identical']}/{r['n']} | {r['first_word_same']}/{r['n']} | {r['status']} |")
    for e in rec.get("errors", []):
        lines.append(f"\nError: {e}")
    return lines + [""]
