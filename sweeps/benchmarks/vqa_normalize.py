"""The standard VQA answer processor and accuracy (VQA eval, GT-Vision-Lab/VQA vqaEval.py; EvalAI / mmf processor).

Two pieces, each re-stated from the reference behaviour:
  - `normalize(text)`: EvalAI's processor (lower-case, drop ","/"?", split "'s", punctuation,
    number words -> digits, articles dropped, contractions restored). LLaVA applies it to every
    prediction before submission (VQAv2, VizWiz) and to both sides for TextVQA (m4c evaluator).
  - `vqa_accuracy(pred, answers, always_normalize)`: leave-one-annotator-out min(1, matches/3),
    averaged over the annotators. The official evaluator normalises both sides only when the human
    answers are not all identical (and compares case-insensitively); the m4c evaluator always does.
"""
from __future__ import annotations

import re
import statistics

# The VQA evaluation's contraction table (keys as the reference spells them; a few keys are
# never reached after lower-casing, one maps the "wrong" way: kept as the standard has it).
_CONTRACTIONS_TEXT = """
aint=ain't arent=aren't cant=can't couldve=could've couldnt=couldn't couldn'tve=couldn't've
couldnt've=couldn't've didnt=didn't doesnt=doesn't dont=don't hadnt=hadn't hadnt've=hadn't've
hadn'tve=hadn't've hasnt=hasn't havent=haven't hed=he'd hed've=he'd've he'dve=he'd've hes=he's
howd=how'd howll=how'll hows=how's Id've=I'd've I'dve=I'd've Im=I'm Ive=I've isnt=isn't itd=it'd
itd've=it'd've it'dve=it'd've itll=it'll let's=let's maam=ma'am mightnt=mightn't
mightnt've=mightn't've mightn'tve=mightn't've mightve=might've mustnt=mustn't mustve=must've
neednt=needn't notve=not've oclock=o'clock oughtnt=oughtn't ow's'at='ow's'at 'ows'at='ow's'at
'ow'sat='ow's'at shant=shan't shed've=she'd've she'dve=she'd've she's=she's shouldve=should've
shouldnt=shouldn't shouldnt've=shouldn't've shouldn'tve=shouldn't've somebody'd=somebodyd
somebodyd've=somebody'd've somebody'dve=somebody'd've somebodyll=somebody'll somebodys=somebody's
someoned=someone'd someoned've=someone'd've someone'dve=someone'd've someonell=someone'll
someones=someone's somethingd=something'd somethingd've=something'd've something'dve=something'd've
somethingll=something'll thats=that's thered=there'd thered've=there'd've there'dve=there'd've
therere=there're theres=there's theyd=they'd theyd've=they'd've they'dve=they'd've theyll=they'll
theyre=they're theyve=they've twas='twas wasnt=wasn't wed've=we'd've we'dve=we'd've weve=we've
werent=weren't whatll=what'll whatre=what're whats=what's whatve=what've whens=when's whered=where'd
wheres=where's whereve=where've whod=who'd whod've=who'd've who'dve=who'd've wholl=who'll whos=who's
whove=who've whyll=why'll whyre=why're whys=why's wont=won't wouldve=would've wouldnt=wouldn't
wouldnt've=wouldn't've wouldn'tve=wouldn't've yall=y'all yall'll=y'all'll y'allll=y'all'll
yall'd've=y'all'd've y'alld've=y'all'd've y'all'dve=y'all'd've youd=you'd youd've=you'd've
you'dve=you'd've youll=you'll youre=you're youve=you've
"""
CONTRACTIONS: dict[str, str] = dict(pair.split("=", 1) for pair in _CONTRACTIONS_TEXT.split())
NUMBER_WORDS = {w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine ten".split())}
NUMBER_WORDS["none"] = "0"
ARTICLES = frozenset({"a", "an", "the"})
PUNCTUATION = [";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!"]
_DIGIT_COMMA_DIGIT = re.compile(r"(?<=\d),+(?=\d)")
_PERIOD_NOT_DECIMAL = re.compile(r"\.(?!\d)")
_PERIOD_SUB_COUNT = 32   # the reference passes re.UNICODE (== 32) as sub()'s count argument


def process_punctuation(text: str) -> str:
    """Drop a punctuation mark next to a space (or anywhere when "1,000"-style digits occur), else space it; drop periods not before a digit."""
    out = text
    has_digit_comma = _DIGIT_COMMA_DIGIT.search(text) is not None
    for p in PUNCTUATION:
        if p + " " in text or " " + p in text or has_digit_comma:
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    return _PERIOD_NOT_DECIMAL.sub("", out, count=_PERIOD_SUB_COUNT)


def process_digit_article(text: str) -> str:
    """Lower-case, number words -> digits, articles dropped, contractions restored."""
    words = [NUMBER_WORDS.get(w, w) for w in text.lower().split()]
    words = [w for w in words if w not in ARTICLES]
    return " ".join(CONTRACTIONS.get(w, w) for w in words)


def normalize(text: str) -> str:
    """EvalAI's answer processor (what LLaVA applies to predictions and TextVQA's m4c evaluator to both sides)."""
    text = text.lower().replace(",", "").replace("?", "").replace("'s", " 's").strip()
    text = text.replace("\n", " ").replace("\t", " ").strip()
    return process_digit_article(process_punctuation(text))


def _clean(text: str) -> str:
    return text.replace("\n", " ").replace("\t", " ").strip()


def vqa_accuracy(prediction: str, answers: list[str], always_normalize: bool = False) -> float:
    """Average over annotators i of min(1, #{j != i : answer_j == prediction} / 3).

    always_normalize=False: the official VQA evaluator (normalise both sides only when the human
    answers differ; compare case-insensitively). True: the m4c/EvalAI way (both sides always).
    """
    if not answers:
        raise ValueError("no ground-truth answers")
    if always_normalize:
        gts = [normalize(a) for a in answers]
        pred = normalize(prediction)
    else:
        gts = [_clean(a) for a in answers]
        pred = _clean(prediction)
        if len(set(gts)) > 1:
            gts = [process_digit_article(process_punctuation(a)) for a in gts]
            pred = process_digit_article(process_punctuation(pred))
        gts, pred = [a.lower() for a in gts], pred.lower()
    per_annotator = []
    for i in range(len(gts)):
        matches = sum(1 for j, a in enumerate(gts) if j != i and a == pred)
        per_annotator.append(min(1.0, matches / 3))
    return sum(per_annotator) / len(per_annotator)


# -- lmms-eval 0.7.3 (tasks/vqav2, textvqa, vizwiz_vqa utils.py) ---------------------------------------
# Both sides always processed; the mean over annotators is statistics.mean (exact, correctly rounded).

def lmms_leave_one_out(prediction: str, answers: list[str]) -> float:
    """TextVQA / VizWiz under lmms-eval: EvalAI's processor on both sides, positional leave-one-out."""
    pred = normalize(prediction.strip())
    gts = [normalize(a) for a in answers]
    accs = [min(1, float(sum(1 for j, a in enumerate(gts) if j != i and a == pred)) / 3) for i in range(len(gts))]
    return float(statistics.mean(accs)) if accs else 0.0


def lmms_vqav2_accuracy(prediction: str, records: list[dict]) -> float:
    """VQAv2 under lmms-eval: newline/tab/strip then punctuation + digit/article processing on both sides,
    always (no "answers differ" condition, no prediction-side word_tokenize). An annotator's others are the
    records not equal to it as a whole record (answer, confidence, id), so records with distinct ids leave
    exactly one out."""
    def clean(text: str) -> str:
        return process_digit_article(process_punctuation(text.replace("\n", " ").replace("\t", " ").strip()))

    pred = clean(prediction.strip())
    recs = [{**r, "answer": clean(r["answer"])} for r in records]
    accs = [min(1, float(sum(1 for o in recs if o != r and o["answer"] == pred)) / 3) for r in recs]
    return float(statistics.mean(accs))
