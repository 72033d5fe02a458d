"""The cost sheet's chart: rate per inhabitant against the number of participants.

The band shows the rate when the k largest (lower edge) or the k smallest (upper
edge) municipalities join, k = 1 … n; the scenarios are marked on it. Labels give one
municipality's annual contribution in each scenario, so every municipality gets
a chart of its own. The figure is built once per run and only
its labels change per municipality (matplotlib without pyplot:
no global state, safe in forked workers).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Sequence

WIDTH_MM = 160
HEIGHT_MM = 85
DPI = 150


@dataclass(frozen=True)
class Marker:
    """A scenario on the chart: its label, number of members and rate."""

    label: str
    members: int
    rate: Decimal


def band(populations: Sequence[int], net_cost: Decimal) -> tuple[list[int], list[float], list[float]]:
    """(k, lowest rate, highest rate) for k = 1 … n participants."""
    largest = sorted(populations, reverse=True)
    smallest = sorted(populations)
    ks, low, high = [], [], []
    big = small = 0
    for k in range(1, len(populations) + 1):
        big += largest[k - 1]
        small += smallest[k - 1]
        ks.append(k)
        low.append(float(net_cost / big))
        high.append(float(net_cost / small))
    return ks, low, high


def _count(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def _euro(value: float, decimals: int = 2) -> str:
    text = f"{value:,.{decimals}f}".replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return f"{text} €"


@dataclass(frozen=True)
class _Box:
    """A rectangle in display pixels (origin bottom left)."""

    x0: float
    y0: float
    x1: float
    y1: float

    def overlaps(self, other: "_Box", gap: float = 0.0) -> bool:
        return (self.x0 < other.x1 + gap and other.x0 < self.x1 + gap
                and self.y0 < other.y1 + gap and other.y0 < self.y1 + gap)


@dataclass(frozen=True)
class _Slot:
    """Where one scenario's label block sits: right edge and top of its two lines, in pixels."""

    marker: Marker
    right: float
    top: float
    contribution_top: float  # top of the municipality's line below the scenario line


FONT = 6  # points, the scenario and contribution labels
GAP = 4.0  # pixels between a marker and its label, and between labels
LABEL_BOX = dict(boxstyle="square,pad=0.15", facecolor="white", edgecolor="none", alpha=0.8)


def place_blocks(anchors: Sequence[tuple[float, float]], sizes: Sequence[tuple[float, float]],
                 area: _Box, obstacles: Sequence[_Box] = (), gap: float = GAP) -> list[_Box]:
    """Boxes of the given (width, height) near their anchors, inside ``area``, overlapping neither
    each other nor ``obstacles``.

    Each box prefers to sit up and to the left of its anchor (the band falls to the right, so
    that side is usually free); a box that would collide is moved upwards past what it hits,
    then, if it no longer fits below the top, downwards from its anchor. Greedy and in order
    of the anchors from bottom to top, which keeps stacked labels in the markers' order.
    """
    placed: list[_Box | None] = [None] * len(anchors)
    taken = list(obstacles)
    order = sorted(range(len(anchors)), key=lambda i: (anchors[i][1], -anchors[i][0]))
    for i in order:
        (ax, ay), (width, height) = anchors[i], sizes[i]
        right = min(max(ax - gap, area.x0 + width), area.x1)
        box = _search(right, width, height, ay + gap, +1, area, taken, gap) \
            or _search(right, width, height, ay - gap - height, -1, area, taken, gap) \
            or _Box(right - width, area.y0, right, area.y0 + height)  # nowhere free: at least inside
        placed[i] = box
        taken.append(box)
    return placed  # type: ignore[return-value]


def _search(right: float, width: float, height: float, bottom: float, step: int,
            area: _Box, taken: Sequence[_Box], gap: float) -> _Box | None:
    """Slide a box from ``bottom`` up (step +1) or down (-1) until nothing in ``taken`` is hit."""
    bottom = max(bottom, area.y0) if step > 0 else min(bottom, area.y1 - height)
    while area.y0 <= bottom and bottom + height <= area.y1:
        box = _Box(right - width, bottom, right, bottom + height)
        hits = [t for t in taken if box.overlaps(t, gap)]
        if not hits:
            return box
        bottom = max(t.y1 for t in hits) + gap if step > 0 else min(t.y0 for t in hits) - gap - height
    return None


class RateChart:
    """The chart of one run; ``png`` draws it for one municipality.

    The band, the scenarios and the left axis are the same for every municipality:
    they are drawn once and kept as a pixel background; per municipality only its
    name and contribution labels are drawn over it (matplotlib's blitting). So that
    these never collide, every scenario label reserves a second line for the
    largest contribution any municipality can have in it, and the label blocks are
    placed once, free of each other, of the markers and inside the axes.
    """

    def __init__(self, populations: Sequence[int], net_cost: Decimal, markers: Sequence[Marker]):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator

        ks, low, high = band(populations, net_cost)
        self.figure = Figure(figsize=(WIDTH_MM / 25.4, HEIGHT_MM / 25.4), dpi=DPI)
        self.canvas = FigureCanvasAgg(self.figure)
        # The top margin holds the municipality's name, outside the area the labels use.
        ax = self.figure.add_axes((0.09, 0.14, 0.88, 0.77))
        ax.fill_between(ks, low, high, color="#c9dbe9", linewidth=0)
        ax.plot(ks, low, color="#2f6690", linewidth=1)
        ax.plot(ks, high, color="#2f6690", linewidth=1)
        ax.set_yscale("log")
        ax.set_xlim(0.5, max(ks) + 0.5)
        ax.set_ylim(min(low) * 0.6, max(high) * 1.3)
        ax.set_xlabel("Zahl der teilnehmenden Kommunen", fontsize=7)
        ax.set_ylabel("Satz je Einwohner/in und Jahr", fontsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_minor_locator(LogLocator(base=10, subs=()))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _euro(v, 2 if v < 10 else 0)))
        ax.tick_params(labelsize=6)
        ax.grid(True, which="major", color="#dddddd", linewidth=0.5)
        self.axis = ax
        self.labels = []  # the scenario labels, drawn into the background
        self.slots = self._place(ax, [m for m in markers if m.members > 0], max(populations))
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.figure.bbox)

    def _place(self, ax, markers: Sequence[Marker], largest: int) -> dict[Marker, _Slot]:
        """Draw the markers and their scenario labels; where each municipality line goes."""
        from matplotlib.lines import Line2D

        renderer = self.canvas.get_renderer()
        width, height = self.canvas.get_width_height()
        texts, sizes, anchors, line = [], [], [], 0.0
        for marker in markers:
            ax.plot([marker.members], [float(marker.rate)], "o", color="#d1495b", markersize=4, zorder=3)
            text = self.figure.text(0, 0, f"{marker.label}: {_euro(float(marker.rate))}", ha="right", va="top",
                                    fontsize=FONT, color="#8c1c2c", bbox=LABEL_BOX, zorder=5)
            widest = self.figure.text(0, 0, f"Ihr Jahresbeitrag {_euro(float(marker.rate) * largest, 0)}",
                                      fontsize=FONT)
            first, second = text.get_window_extent(renderer), widest.get_window_extent(renderer)
            widest.remove()
            line = max(line, second.height)
            texts.append(text)
            sizes.append((max(first.width, second.width), first.height + 1 + second.height))
            anchors.append(tuple(ax.transData.transform((marker.members, float(marker.rate)))))
        inner = ax.get_window_extent(renderer)
        area = _Box(inner.x0 + 2, inner.y0 + 2, inner.x1 - 2, inner.y1 - 2)
        dot = 4 * DPI / 72 / 2 + 1  # marker radius in pixels, and a little air
        dots = [_Box(x - dot, y - dot, x + dot, y + dot) for x, y in anchors]
        slots = {}
        for marker, text, (ax_, ay), box in zip(markers, texts, anchors, place_blocks(anchors, sizes, area, dots)):
            text.set_position((box.x1 / width, box.y1 / height))
            self.labels.append(text)
            first = text.get_window_extent(renderer).height
            slots[marker] = _Slot(marker, box.x1, box.y1, box.y1 - first - 1)
            if box.y0 > ay + GAP + 1 or box.y1 < ay - GAP - 1 or box.x1 < ax_ - GAP - 1:  # moved away: a leader
                near_y = box.y0 if box.y0 > ay else box.y1
                near_x = min(max(ax_, box.x0), box.x1)
                self.figure.add_artist(Line2D([ax_ / width, near_x / width], [ay / height, near_y / height],
                                              transform=self.figure.transFigure, color="#8c1c2c",
                                              linewidth=0.5, zorder=4))
        return slots

    def _texts(self, name: str, population: int, contributions: Sequence[tuple[Marker, Decimal | None]]):
        """The per-municipality texts, not yet drawn: its name above the axes, one line per scenario."""
        width, height = self.canvas.get_width_height()
        texts = [self.figure.text(0.97, 0.99, f"{name} – {_count(population)} Einwohner/innen",
                                  ha="right", va="top", fontsize=7, color="#333333")]
        for marker, amount in contributions:
            slot = self.slots.get(marker)
            if amount is None or slot is None:
                continue
            texts.append(self.figure.text(
                slot.right / width, slot.contribution_top / height, f"Ihr Jahresbeitrag {_euro(float(amount), 0)}",
                ha="right", va="top", fontsize=FONT, color="#333333", bbox=LABEL_BOX, zorder=5))
        return texts

    def label_extents(self, name: str, population: int,
                      contributions: Sequence[tuple[Marker, Decimal | None]]) -> list:
        """Display boxes of every label on one municipality's chart (for checking the layout)."""
        renderer = self.canvas.get_renderer()
        texts = self._texts(name, population, contributions)
        try:
            return [t.get_window_extent(renderer) for t in self.labels + texts]
        finally:
            for text in texts:
                text.remove()

    def png(self, name: str, population: int, contributions: Sequence[tuple[Marker, Decimal | None]]) -> bytes:
        """The chart for one municipality: its name and its contribution in each scenario."""
        from PIL import Image

        self.canvas.restore_region(self.background)
        for text in self._texts(name, population, contributions):
            self.figure.draw_artist(text)
            text.remove()
        width, height = self.canvas.get_width_height()
        image = Image.frombuffer("RGBA", (width, height), self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="PNG", compress_level=1, dpi=(DPI, DPI))
        return buffer.getvalue()
