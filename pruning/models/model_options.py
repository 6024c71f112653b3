"""Model options carried in a model's name, so they travel wherever the name does (sweep config, replicas,
MLflow, result rows): `qwen2.5-vl-7b?max_pixels=802816&min_pixels=802816`.

A sweep config writes them as a mapping, `models: [{name: qwen2.5-vl-7b, min_pixels: 802816, max_pixels: 802816}]`,
which sweeps/config_checks.py turns into that canonical name (keys sorted). Only the options a family lists in
`Family.processor_options` are accepted (Qwen2.5-VL: min_pixels / max_pixels, the image processor's pixel range,
which fixes N per image). A name without '?' has no options.
"""
from __future__ import annotations

import difflib

PIXELS_PER_TOKEN = 28 * 28  # Qwen2.5-VL: one merged LLM token covers 2x2 patches of 14x14 pixels


def split_options(name: str) -> tuple[str, dict[str, int]]:
    """'base?k=v&k=v' -> ('base', {k: int(v)}); a malformed option is a ValueError naming it."""
    base, sep, query = str(name).partition("?")
    if not sep:
        return base, {}
    opts: dict[str, int] = {}
    for part in query.split("&"):
        key, eq, value = part.partition("=")
        if not eq or not key or not value.lstrip("-").isdigit():
            raise ValueError(f"model {name!r}: option {part!r} must be key=<integer>")
        if key in opts:
            raise ValueError(f"model {name!r}: option {key!r} given twice")
        opts[key] = int(value)
    return base, opts


def with_options(base: str, options: dict[str, int]) -> str:
    """The canonical name: base, then the options sorted by key (no options: base itself)."""
    if not options:
        return base
    return base + "?" + "&".join(f"{k}={int(v)}" for k, v in sorted(options.items()))


def check_options(name: str, options: dict, allowed: frozenset[str], family: str) -> list[str]:
    """Problems with a model's options for its family (empty: fine). Pixel options: integers >= 28*28 (one
    merged token) with min_pixels <= max_pixels."""
    problems = []
    for k in sorted(options):
        if k not in allowed:
            takes = f"it takes {', '.join(sorted(allowed))}" if allowed else "it takes no model options"
            near = difflib.get_close_matches(k, sorted(allowed), n=1, cutoff=0.6)
            takes += f" (did you mean {near[0]!r}?)" if near else ""
            problems.append(f"{name!r} ({family}) has no option {k!r}; {takes}")
    for k in ("min_pixels", "max_pixels"):
        v = options.get(k)
        if k in allowed and v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < PIXELS_PER_TOKEN):
            problems.append(f"{name!r}: {k} must be an integer >= {PIXELS_PER_TOKEN} (28 x 28 pixels, one merged "
                            f"token), got {v!r}")
    lo, hi = options.get("min_pixels"), options.get("max_pixels")
    if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
        problems.append(f"{name!r}: min_pixels={lo} exceeds max_pixels={hi}")
    return problems
