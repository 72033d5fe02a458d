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


class RateChart:
    """The chart of one run; ``png`` draws it for one municipality.

    The band, the scenarios and the left axis are the same for every municipality:
    they are drawn once and kept as a pixel background; per municipality only its
    name and contribution labels are drawn over it (matplotlib's blitting).
    """

    def __init__(self, populations: Sequence[int], net_cost: Decimal, markers: Sequence[Marker]):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator

        ks, low, high = band(populations, net_cost)
        self.figure = Figure(figsize=(WIDTH_MM / 25.4, HEIGHT_MM / 25.4), dpi=DPI)
        self.canvas = FigureCanvasAgg(self.figure)
        ax = self.figure.add_axes((0.09, 0.14, 0.88, 0.8))
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
        for marker in markers:
            if marker.members <= 0:
                continue
            ax.plot([marker.members], [float(marker.rate)], "o", color="#d1495b", markersize=4, zorder=3)
            ax.annotate(f"{marker.label}: {_euro(float(marker.rate))}", (marker.members, float(marker.rate)),
                        textcoords="offset points", xytext=(-5, 8), ha="right", fontsize=6, color="#8c1c2c")
        self.axis = ax
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.figure.bbox)

    def png(self, name: str, population: int, contributions: Sequence[tuple[Marker, Decimal | None]]) -> bytes:
        """The chart for one municipality: its name and its contribution in each scenario."""
        from PIL import Image

        self.canvas.restore_region(self.background)
        texts = [self.axis.text(0.98, 0.95, f"{name}\n{_count(population)} Einwohner/innen", transform=self.axis.transAxes,
                                ha="right", va="top", fontsize=7, color="#333333")]
        for marker, amount in contributions:
            if amount is None or marker.members <= 0:
                continue
            texts.append(self.axis.annotate(
                f"Ihr Jahresbeitrag {_euro(float(amount), 0)}", (marker.members, float(marker.rate)),
                textcoords="offset points", xytext=(-6, -4), ha="right", va="top", fontsize=6, color="#333333"))
        for text in texts:
            self.figure.draw_artist(text)
            text.remove()
        width, height = self.canvas.get_width_height()
        image = Image.frombuffer("RGBA", (width, height), self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="PNG", compress_level=1, dpi=(DPI, DPI))
        return buffer.getvalue()
