"""The static report as a user sees it: rendered by headless Chromium from file://, it must show the headline
(hand-computed here), every chart (decoded images with their captions; the positional-bias chart across the
page), and a results table whose headings name each benchmark's real metric (POPE: F1) with Rel.% and Loyalty %.

Data: real `shapes` samples and scorer, POPE samples in its schema scored by the real POPE scorer; the
strategies' answers are constructed so the headline has known values.
Screenshot: VISSWEEP_UPDATE_SCREENSHOT=1 also writes docs/report.png (otherwise it stays in tmp).
"""
import os
import shutil

import numpy as np
import pytest

from dashboards import report
from sweeps.benchmarks import get_benchmark
from sweeps.benchmarks.base import Sample
from tests.dashboards.browser import ROOT, WebDriver, browser_or_skip
from tests.dashboards.synth import rows_for_point, table

SHAPES, POPE = get_benchmark("shapes", seed=0, n=32), get_benchmark("pope")
LATENCY = {None: 0.200, 144: 0.120, 64: 0.080, 16: 0.050}          # s per sample, keep_all = None


def _point(bench, samples, strategy, budget, ratio, wrong, answer_wrong):
    preds = [answer_wrong(s) if i in wrong else s.answer for i, s in enumerate(samples)]
    scores = [bench.score(s, p) for s, p in zip(samples, preds)]
    rows = rows_for_point(strategy=strategy, budget=budget, ratio=ratio, benchmark=bench.name, scores=scores,
                          correct=[sc["score"] for sc in scores], sample_ids=[s.id for s in samples],
                          latency=LATENCY[budget], sweep_id="report-ui")
    for r, p in zip(rows, preds):
        r["prediction"] = p
    return rows


def _rows():
    shapes = SHAPES.load()
    top_left = {i for i, s in enumerate(shapes) if s.meta["quadrant"] == "top-left"}
    rows = []
    for strategy, T, r, wrong in (("keep_all", None, None, set()), ("vispruner", 144, 0.5, set()),
                                  ("vispruner", 64, 0.5, {0}), ("vispruner", 16, 0.5, set(range(8))),
                                  ("fastv", 144, None, {1, 2}), ("fastv", 64, None, {1, 2, 3, 4}),
                                  ("spatial", 64, None, top_left)):
        rows += _point(SHAPES, shapes, strategy, T, r, wrong, lambda s: "purple")
    pope = [Sample(id=f"p{i:02d}", question="Is there a dog in the image?", answer="yes" if i % 2 else "no",
                   meta={"category": ("adversarial", "popular", "random")[i // 10]}) for i in range(30)]
    flip = {"yes": "No, there is not.", "no": "Yes, there is."}
    for strategy, T, r, wrong in (("keep_all", None, None, {0, 11}), ("vispruner", 64, 0.5, {0, 11}),
                                  ("fastv", 64, None, {0, 11, 21, 22, 23, 24})):
        rows += _point(POPE, pope, strategy, T, r, wrong, lambda s: flip[s.answer])
    return table(rows), shapes, pope


def _pope_f1(wrong: set[int]) -> float:
    """Plain restatement: mean over the three categories of F1 with 'yes' as the positive class."""
    f1s = []
    for c in range(3):
        idx = range(10 * c, 10 * c + 10)
        gt = {i: "yes" if i % 2 else "no" for i in idx}
        pred = {i: ({"yes": "no", "no": "yes"}[gt[i]] if i in wrong else gt[i]) for i in idx}
        tp = sum(pred[i] == gt[i] == "yes" for i in idx)
        fp = sum(pred[i] == "yes" != gt[i] for i in idx)
        fn = sum(pred[i] == "no" != gt[i] for i in idx)
        f1s.append(2 * tp / (2 * tp + fp + fn))
    return sum(f1s) / 3


def _saving(T: int | None, what: str) -> str:
    keep = (576 + 29, LATENCY[None])
    mine = (T + 29, LATENCY[T])
    i = 0 if what == "flops" else 1
    return f"{100 * (1 - mine[i] / keep[i]):.0f}%"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    browser_or_skip()
    d = tmp_path_factory.mktemp("report-ui")
    rows, _, _ = _rows()
    index = report.build_report(rows, d / "report", "VisSweep report: report-ui")
    wd = WebDriver(d)
    try:
        wd.set_window(1400, 1000)
        wd.get(index.as_uri())
        wd.wait_text(["The sweep's answer at a glance", "Results table", "Charts"])
        yield wd, d
    finally:
        wd.quit()


def test_headline_as_shown(rendered):
    wd, _ = rendered
    shown = wd.js("""return [...document.querySelectorAll('table.headline tbody tr')]
                     .map(tr => [...tr.cells].map(td => td.innerText.trim()));""")
    want = [
        # model, benchmark (metric), strategy, >=95%: T, FLOPs saved, latency saved, >=99%: T, FLOPs, latency
        ["tiny-llava", "pope (F1)", "fastv", "not reached", "", "", "not reached", "", ""],
        ["tiny-llava", "pope (F1)", "vispruner", "64 (r=0.5)", _saving(64, "flops"), _saving(64, "latency"),
         "64 (r=0.5)", _saving(64, "flops"), _saving(64, "latency")],
        # shapes fastv: 30/32 = 93.75% at T=144 -> neither level
        ["tiny-llava", "shapes (Acc.)", "fastv", "not reached", "", "", "not reached", "", ""],
        ["tiny-llava", "shapes (Acc.)", "spatial", "not reached", "", "", "not reached", "", ""],
        # vispruner: T=64 keeps 31/32 = 96.9% (>= 95 only), T=144 keeps 100%
        ["tiny-llava", "shapes (Acc.)", "vispruner", "64 (r=0.5)", _saving(64, "flops"), _saving(64, "latency"),
         "144 (r=0.5)", _saving(144, "flops"), _saving(144, "latency")],
    ]
    assert shown == want
    assert _saving(64, "flops") == "85%" and _saving(144, "latency") == "40%"     # 1 - 93/605, 1 - 0.12/0.2


def test_every_chart_is_drawn_and_the_bias_chart_spans_the_page(rendered):
    wd, _ = rendered
    imgs = wd.js("""return [...document.querySelectorAll('figure')].map(f => {
        const i = f.querySelector('img');
        return {kind: f.dataset.chart, alt: i.alt, ok: i.complete && i.naturalWidth > 0,
                width: i.getBoundingClientRect().width, caption: f.querySelector('figcaption').innerText};});""")
    body = wd.js("return document.body.clientWidth")
    want = {f"{b} / tiny-llava: {c}" for b in ("pope", "shapes") for c in
            ("score vs prefill TFLOPs", "score vs latency", "score vs budget T", "loyalty to keep_all vs budget T")}
    want.add("shapes / tiny-llava: positional bias")
    assert {i["alt"] for i in imgs} == want and len(imgs) == len(want)
    assert all(i["ok"] and i["caption"] == i["alt"] for i in imgs), imgs
    bias = [i for i in imgs if i["kind"] == "bias"]
    assert len(bias) == 1 and bias[0]["width"] >= 0.95 * body - 32         # full width (body minus its margin)
    assert all(i["width"] <= 640 for i in imgs if i["kind"] != "bias")


def test_table_names_the_real_metric_on_the_charts_scale(rendered):
    wd, _ = rendered
    head = wd.js("""return [...document.querySelectorAll('table.results:not(.headline) th')].map(t => t.innerText.trim());""")
    assert head == ["Method", "T", "r", "pope F1 (%)", "pope Rel.%", "pope Loyalty %",
                    "shapes Acc. (%)", "shapes Rel.%", "shapes Loyalty %", "Avg Rel.%"]
    rows = wd.js("""return [...document.querySelectorAll('table.results:not(.headline) tbody tr')]
                    .map(tr => [...tr.cells].map(td => td.innerText.trim()));""")
    by = {(r[0], r[1], r[2]): r[3:] for r in rows}
    keep_f1, fastv_f1 = _pope_f1({0, 11}), _pope_f1({0, 11, 21, 22, 23, 24})
    assert by[("keep_all", "all", "")][:3] == [f"{100 * keep_f1:.1f}", "100.0", "100.0"]
    # fastv at T=64 answers like keep_all except on 4 samples: loyalty 26/30
    assert by[("fastv", "64", "")][:3] == [f"{100 * fastv_f1:.1f}", f"{100 * fastv_f1 / keep_f1:.1f}", f"{100 * 26 / 30:.1f}"]
    assert by[("vispruner", "64", "0.5")][3:6] == [f"{100 * 31 / 32:.1f}", f"{100 * 31 / 32:.1f}", f"{100 * 31 / 32:.1f}"]


def test_screenshot(rendered):
    from PIL import Image

    wd, d = rendered
    height = wd.js("return document.documentElement.scrollHeight")
    wd.set_window(1400, min(int(height) + 140, 6000))
    shot = d / "report.png"
    wd.screenshot(shot)
    im = Image.open(shot)
    arr = np.asarray(im.convert("L"), dtype=np.float32)
    assert im.width >= 1200 and im.height >= 1500 and arr.std() > 10, "screenshot is blank"
    if os.environ.get("VISSWEEP_UPDATE_SCREENSHOT") == "1":
        shutil.copy(shot, ROOT / "docs" / "report.png")
