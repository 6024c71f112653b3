"""Multiple-choice helpers: option letters, the "A. ...\\nB. ..." listing, and reading a letter from a reply.

`extract_letter` restates MMBench's rule-based matcher (can_infer_option / can_infer_text in the
MMBench / lmms-eval evaluators): a lone capital letter token among the choices (unless "A" is likely
an article in a longer reply), else exactly one choice letter wrapped as "A." "A," "A:" "A)" "(A)"
":A" ..., else exactly one option *text* contained in the reply. No GPT fallback (documented).
"""
from __future__ import annotations

import string

LETTERS = string.ascii_uppercase
_WRAPS = [("", "."), ("", ","), ("", ":"), ("", ")"), ("", ")."), ("(", ")"), ("(", ")."),
          (":", ""), (":", ","), (":", "."), (":", ")"), (":", ").")]


def option_lines(options: list[str]) -> str:
    return "\n".join(f"{LETTERS[i]}. {text}" for i, text in enumerate(options))


def _single_letter(reply: str, letters: str) -> str | None:
    tokens = [t.strip() for t in reply.split()]
    bare = [c for c in letters if c in tokens]
    if len(bare) == 1 and not ("A" in tokens and len(tokens) > 3):
        return bare[0]
    for pre, post in _WRAPS:
        hits = [c for c in letters if pre + c + post in tokens]
        if len(hits) == 1:
            return hits[0]
    return None


def extract_letter(reply: str, options: list[str]) -> str | None:
    """The option letter a free-form reply picks, or None when it cannot be read unambiguously."""
    letters = LETTERS[: len(options)]
    letter = _single_letter(reply, letters)
    if letter is not None:
        return letter
    lowered = reply.lower()
    contained = [LETTERS[i] for i, text in enumerate(options) if str(text).strip() and str(text).lower() in lowered]
    return contained[0] if len(contained) == 1 else None
