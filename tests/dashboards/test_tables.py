"""dashboards.tables: Acc. and Rel.% against hand-worked values; Markdown and HTML carry the same cells."""
from html.parser import HTMLParser

from dashboards import tables
from sweeps.point_metrics import summarize
from tests.dashboards.synth import rows_for_point, table


def _rows():
    keep = [1] * 8 + [0] * 2                      # 0.8
    vis64 = [1] * 6 + [0] * 4                     # 0.6 -> Rel. 75.0
    vis32 = [1] * 4 + [0] * 6                     # 0.4 -> 50.0
    fastv64 = [1] * 7 + [0] * 3                   # 0.7 -> 87.5
    rows = (rows_for_point(strategy="keep_all", correct=keep)
            + rows_for_point(strategy="vispruner", budget=64, ratio=0.5, correct=vis64)
            + rows_for_point(strategy="vispruner", budget=32, ratio=0.5, correct=vis32)
            + rows_for_point(strategy="fastv", budget=64, correct=fastv64))
    rows += (rows_for_point(strategy="keep_all", correct=[1] * 5 + [0] * 5, benchmark="toy2")      # 0.5
             + rows_for_point(strategy="vispruner", budget=64, ratio=0.5, correct=[1] * 4 + [0] * 6, benchmark="toy2"))
    return table(rows)


def test_paper_table_hand_worked():
    t = tables.paper_table(summarize(_rows()), "tiny-llava")
    assert t.benchmarks == ["toy", "toy2"]
    order = [(r["strategy"], r["budget"]) for r in t.rows]
    assert order == [("keep_all", None), ("fastv", 64), ("vispruner", 64), ("vispruner", 32)]
    cells = {(r["strategy"], r["budget"]): r for r in t.rows}
    assert cells[("vispruner", 64)]["cells"]["toy"] == (0.6, 75.0)
    assert cells[("vispruner", 64)]["cells"]["toy2"] == (0.4, 80.0)
    assert cells[("vispruner", 64)]["avg_rel"] == 77.5
    assert cells[("fastv", 64)]["cells"]["toy"] == (0.7, 87.5)
    assert cells[("keep_all", None)]["avg_rel"] == 100.0
    import math
    assert math.isnan(cells[("fastv", 64)]["avg_rel"])          # no toy2 cell: average undefined


def test_markdown_and_html_agree():
    t = tables.paper_table(summarize(_rows()), "tiny-llava")
    md = tables.to_markdown(t)
    assert "| vispruner | 64 | 0.5 | 60.0 | 75.0 | 40.0 | 80.0 | 77.5 |" in md
    assert "| keep_all | all |  | 80.0 | 100.0 | 50.0 | 100.0 | 100.0 |" in md

    class Cells(HTMLParser):
        def __init__(self):
            super().__init__()
            self.rows, self.cur, self.td = [], None, False

        def handle_starttag(self, tag, attrs):
            if tag == "tr":
                self.cur = []
            self.td = tag in ("td", "th")

        def handle_endtag(self, tag):
            if tag == "tr":
                self.rows.append(self.cur)
            if tag in ("td", "th"):
                self.td = False

        def handle_data(self, data):
            if self.td:
                self.cur.append(data)

    p = Cells()
    p.feed(tables.to_html(t))
    md_rows = [[c.strip() for c in line.strip("|").split("|")] for line in md.splitlines() if line.startswith("| ")]
    html_rows = [[c.strip() for c in r] for r in p.rows]
    # empty cells vanish in the HTML parse; compare the non-empty ones
    assert [[c for c in r if c] for r in md_rows] == [[c for c in r if c] for r in html_rows]


def test_rules_table_side_by_side():
    # GQA, answer "yes" x4, scored under both rules. keep_all replies yes, Yes!, yes, no: LLaVA 0.5
    # ("Yes!" keeps its "!"), lmms-eval 0.75; vispruner T64 replies Yes!, Yes!, yes, no: LLaVA 0.25 (Rel. 50),
    # lmms-eval 0.75 (Rel. 100): the same answers lose half their value under one harness and none under the other.
    from sweeps.benchmarks.base import Sample
    from sweeps.benchmarks.rules import with_rules

    bench = with_rules("gqa", ["llava", "lmms_eval"])
    s = Sample(id="q", question="?", answer="yes", meta={"category": None})

    def point(strategy, budget, replies):
        scores = [bench.score(s, r) for r in replies]
        return rows_for_point(strategy=strategy, budget=budget, ratio=0.5 if budget else None, benchmark="gqa",
                              correct=[d["score"] for d in scores], scores=scores)

    rows = table(point("keep_all", None, ["yes", "Yes!", "yes", "no"]) + point("vispruner", 64, ["Yes!", "Yes!", "yes", "no"]))
    plain = tables.paper_table(summarize(rows), "tiny-llava")
    assert plain.benchmarks == ["gqa"] and plain.rows[1]["cells"]["gqa"] == (0.25, 50.0)     # the primary rule
    t = tables.rules_table(rows, "tiny-llava")
    assert t.benchmarks == ["gqa [llava]", "gqa [lmms_eval]"]
    vis = {r["strategy"]: r for r in t.rows}["vispruner"]
    assert vis["cells"] == {"gqa [llava]": (0.25, 50.0), "gqa [lmms_eval]": (0.75, 100.0)}
    assert vis["avgs"] == {"Avg Rel.% [llava]": 50.0, "Avg Rel.% [lmms_eval]": 100.0}
    md = tables.to_markdown(t)
    assert "(by scoring rule)" in md and "| Avg Rel.% [llava] | Avg Rel.% [lmms_eval] |" in md
    assert "| vispruner | 64 | 0.5 | 25.0 | 50.0 | 75.0 | 100.0 | 50.0 | 100.0 |" in md
    assert tables.rules_table(rows, "tiny-llava", ["lmms_eval"]).benchmarks == ["gqa [lmms_eval]"]
