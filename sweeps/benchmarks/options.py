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


# -- lmms-eval 0.7.3 (tasks/mmbench/mmbench_evals.py, tasks/_task_utils/mcq_extract.py) ----------------

def lmms_infer_option(reply: str) -> str | None:
    """MMBench_Evaluator.can_infer_option: the letter tests above, but over A-E whatever the option count."""
    if "Failed to obtain answer via API" in reply:
        return None
    tokens = [t.strip() for t in reply.split()]
    bare = [c for c in "ABCDE" if c in tokens]
    if len(bare) == 1 and not ("A" in tokens and len(tokens) > 3):
        return bare[0]
    for pre, post in _WRAPS:
        hits = [c for c in "ABCDE" if pre + c + post in tokens]
        if len(hits) == 1:
            return hits[0]
    return None


def lmms_infer_text(reply: str, choices: dict[str, str]) -> str | None:
    """can_infer_text: exactly one option text (any present value, even "" or "nan") inside the lower-cased reply."""
    lowered = reply.lower()
    contained = [k for k, text in choices.items() if str(text).lower() in lowered]
    return contained[0] if len(contained) == 1 else None


ANSWER_PHRASES = (
    "the answer is", "answer is", "the correct answer is", "correct answer is", "the best answer is", "best answer is",
    "the correct option is", "correct option is", "the best option is", "best option is", "the choice is", "choice is",
    "the correct choice is", "correct choice is", "i choose", "i select", "i pick", "my answer is", "my choice is",
    "옵션", "정답은", "답은", "답:", "答案是", "答案为", "选", "答えは",
)
# format -> priority; candidates of a higher priority win, then the later position
_FORMATS = (("({})", "parentheses", 6), ("{}.", "period", 5), ("{}:", "colon", 4), ("{})", "right_paren", 3),
            ("{} ", "space", 2))


def lmms_static_letter(reply: str, letters: list[str]) -> str | None:
    """extract_mcq_answer (lmms-eval's static MMBench fallback, mmbench_en_dev_static): the best-ranked letter
    among (X), X., X:, X), "X ", an answer phrase then X, a leading / trailing lone X; else any X at all."""
    if not reply or not reply.strip():
        return None
    letters = letters or list("ABCDEFGH")
    text = reply.strip()
    for ch in ",.!?;:'\"":
        text = text.strip(ch)
    text = f" {text} "
    found: list[tuple[int, int, str]] = []            # (priority, position, letter) in discovery order
    for pattern, _, priority in _FORMATS:
        found += [(priority, text.rfind(pattern.format(c)), c) for c in letters if pattern.format(c) in text]
    lowered = text.lower()
    for phrase in ANSWER_PHRASES:
        at = lowered.find(phrase)
        if at != -1:
            found += [(7, text.find(c, at + len(phrase)), c) for c in letters if text.find(c, at + len(phrase)) != -1]
    bare = text.strip()
    found += [(10, 0, c) for c in letters if bare.startswith(c) and (len(bare) == 1 or not bare[1].isalpha())]
    found += [(9, len(text) - 1, c) for c in letters if bare.endswith(c) and (len(bare) == 1 or not bare[-2].isalpha())]
    if not found:
        found = [(0, text.rfind(c), c) for c in letters if c in text]
    if not found:
        return None
    return max(found, key=lambda f: (f[0], f[1]))[2]     # max keeps the first of equal keys, as a stable sort does


def lmms_letter(reply: str, choices: dict[str, str]) -> str | None:
    """The letter lmms-eval's static MMBench evaluation reads: can_infer (option over A-E, else option text),
    else the static fallback over the present A-D letters. `choices`: A-D values that are not null/NaN."""
    reply = str(reply.strip())
    return (lmms_infer_option(reply) or lmms_infer_text(reply, choices)
            or lmms_static_letter(reply, sorted(choices)))
