"""House style for every figure: one look in HTML, in print and in grey scale.

Figures are saved cropped to what is drawn (``savefig.bbox: tight``, as the notebook's inline
display does), so a single-axes figure needs no ``tight_layout()`` of its own: that second
layout pass cost about 0.05 s a figure. Figures with several axes (a colour bar, small
multiples) still lay themselves out.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.text import Text
from matplotlib.ticker import Formatter

# Okabe-Ito: colour-blind safe, and distinct in lightness so it survives grey-scale printing.
PALETTE: list[str] = [
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # green
    "#D55E00",  # vermillion
    "#56B4E9",  # sky blue
    "#CC79A7",  # purple
    "#F0E442",  # yellow
    "#000000",
]

# RAG status colours (colour-blind safe: blue / orange / vermillion) always paired with a text label.
STATUS_COLORS: dict[str, str] = {
    "on_track": "#0072B2",
    "at_risk": "#E69F00",
    "off_track": "#D55E00",
    "no_data": "#999999",
}
STATUS_LABELS: dict[str, str] = {
    "on_track": "On track",
    "at_risk": "At risk",
    "off_track": "Off track",
    "no_data": "No data",
}
TARGET_LINE = {"color": "#444444", "linestyle": "--", "linewidth": 1.2}


def apply_house_style() -> None:
    """Set seaborn/matplotlib defaults used by every report figure."""
    sns.set_theme(
        context="notebook",
        style="whitegrid",
        palette=PALETTE,
        font_scale=0.95,
        rc={
            "figure.figsize": (8.0, 4.0),
            "figure.dpi": 100,
            "savefig.dpi": 110,
            "savefig.bbox": "tight",
            # Text stays text in the SVG and the browser's font can be wider than the one
            # matplotlib measured: a margin keeps a label at the edge from being cut.
            "savefig.pad_inches": 0.25,
            # Reports embed figures as SVG with text kept as text: half the rendering time of
            # PNG, a third of the size, sharp in print, and chart labels are searchable.
            "svg.fonttype": "none",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titleweight": "bold",
            "axes.titlelocation": "left",
            "legend.frameon": False,
        },
    )


def use_svg_figures() -> None:
    """Inside a notebook kernel, show figures as SVG instead of PNG (see ``svg.fonttype``)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the kernel
        return
    if get_ipython() is None:
        return
    from matplotlib_inline.config import InlineBackend

    # The configuration, not only the current formatters: matplotlib picks its backend lazily
    # at the first figure, and the inline backend then re-applies the configured formats.
    InlineBackend.instance().figure_formats = {"svg"}
    # In interactive mode pyplot redraws every stale figure with Agg after each cell (its
    # post-execute hook), and the inline backend then draws it again as SVG and closes it: the
    # raster pass was thrown away, a seventh of a warm market report's time (docs/performance.md).
    # `%matplotlib inline` (each warm kernel reset) installs the hook again; the figures still
    # show, through the inline backend's own hook.
    import matplotlib.pyplot as plt

    plt.uninstall_repl_displayhook()


def tick_decimals(values: Sequence[float], scale: float = 100.0, max_decimals: int = 3) -> int:
    """The fewest decimals that print every tick value exactly (``values * scale``).

    Ticks every 2.5% need one decimal ("2.5%, 5.0%, 7.5%"); printed with none they read
    "2%, 5%, 8%", which no gridline is at.
    """
    vals = np.asarray(values, dtype=float) * scale
    vals = vals[np.isfinite(vals)]
    for d in range(max_decimals + 1):
        if np.all(np.abs(np.round(vals, d) - vals) < 1e-6 * max(1.0, np.abs(vals).max(initial=0))):
            return d
    return max_decimals


class PercentFormatter(Formatter):
    """Fractions as percentages; with ``decimals=None`` as many decimals as the ticks need
    (:func:`tick_decimals`), so a label always names the value of its gridline."""

    def __init__(self, decimals: int | None = None) -> None:
        self.decimals = decimals
        self._auto = 0

    def set_locs(self, locs: Sequence[float]) -> None:
        super().set_locs(locs)
        lo, hi = self.axis.get_view_interval() if self.axis is not None else (-np.inf, np.inf)
        shown = [v for v in locs if min(lo, hi) - 1e-12 <= v <= max(lo, hi) + 1e-12]
        self._auto = tick_decimals(shown or locs)

    def __call__(self, x: float, pos: int | None = None) -> str:
        d = self._auto if self.decimals is None else self.decimals
        return f"{x * 100:.{d}f}%"


def pct_axis(ax: plt.Axes, axis: str = "y", decimals: int | None = None) -> None:
    """Format an axis holding fractions as percentages (``decimals=None``: as many as the ticks
    need to be printed exactly)."""
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(PercentFormatter(decimals))


def spread_labels(ax: plt.Axes, labels: Sequence[Text], line_points: float = 11.0,
                  max_rows: int = 6) -> int:
    """Move annotation labels down a row (``line_points``) until none overlaps another.

    ``labels`` are annotations with offsets in points (``textcoords="offset points"``), placed
    in order (earliest first). Uses the figure's renderer, so the extents are the ones drawn.
    Returns the number of rows used.
    """
    fig = ax.figure
    renderer = fig.canvas.get_renderer() if hasattr(fig.canvas, "get_renderer") else None
    if renderer is None or not labels:
        return 1 if labels else 0
    engine = fig.get_layout_engine()
    if engine is not None:  # measure where the axes will be drawn, not where they start
        engine.execute(fig)
    placed: list = []
    rows = 1
    for text in labels:
        x0, y0 = text.xyann
        for row in range(max_rows):
            text.xyann = (x0, y0 - line_points * row)
            box = text.get_window_extent(renderer).padded(2.0)
            if not any(box.overlaps(other) for other in placed):
                break
        placed.append(text.get_window_extent(renderer))
        rows = max(rows, row + 1)
    return rows

