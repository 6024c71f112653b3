"""One colour per strategy, the same in every chart (Pareto lines, budget curves, loyalty curves, bias bars).

The colour depends only on the strategy's name, never on the order a chart happens to draw it in.
Ratios r of one strategy share its colour and differ in line style and marker (lines) or hatching (bars).
"""
from __future__ import annotations

import zlib

KEEP_ALL = "#000000"
COLORS = {                       # tab10, fixed per registry name
    "vispruner": "#1f77b4",      # blue
    "fastv": "#ff7f0e",          # orange
    "visionzip": "#2ca02c",      # green
    "sparsevlm": "#9467bd",      # purple
    "divprune": "#8c564b",       # brown
    "prumerge_plus": "#e377c2",  # pink
    "random": "#7f7f7f",         # grey
    "spatial": "#d62728",        # red
    "keep_all": KEEP_ALL,
}
SPARE = ("#17becf", "#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd")
LINESTYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P")
HATCHES = ("", "//", "..", "xx")


def strategy_color(strategy: str) -> str:
    """The strategy's colour; a name outside the table gets a stable one from its hash."""
    return COLORS.get(strategy) or SPARE[zlib.crc32(strategy.encode()) % len(SPARE)]


def series_style(strategy: str, ratio: float | None, ratios: list[float]) -> dict[str, str]:
    """matplotlib kwargs for one line: the strategy's colour; the ratio's place among `ratios` picks style and marker."""
    i = _ratio_index(ratio, ratios)
    return {"color": strategy_color(strategy), "linestyle": LINESTYLES[i % len(LINESTYLES)],
            "marker": MARKERS[i % len(MARKERS)]}


def _ratio_index(ratio: float | None, ratios: list[float]) -> int:
    return sorted(ratios).index(ratio) if ratio is not None and ratio in ratios else 0


def bar_style(strategy: str, ratio: float | None, ratios: list[float]) -> dict[str, str]:
    """matplotlib bar kwargs: the strategy's colour; the ratio picks the hatching."""
    return {"color": strategy_color(strategy), "hatch": HATCHES[_ratio_index(ratio, ratios) % len(HATCHES)],
            "edgecolor": "white"}
