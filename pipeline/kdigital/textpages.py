"""Plain text pages (cover, index, notices) for PDFs kdigital assembles, drawn in Helvetica.

Helvetica and Helvetica-Bold are PDF standard fonts: nothing is embedded, and
with WinAnsiEncoding they cover German umlauts, ß, „“ and –; a character outside
Windows-1252 prints as '?'. Widths come from Adobe's font metrics, so a long
name is cut to its column with '…' (``fit``) or wrapped onto further lines
(``wrap``) instead of running into the next one.
The pages are layout only: the same lines always give the same pages, which is
what lets a caller count index pages before it knows the page numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

A4 = (595.276, 841.89)  # points
MARGIN = 50.0
_FOOTER_Y = 30.0

# Advance widths (1/1000 em) of Windows-1252 codes 32..255 in Helvetica and
# Helvetica-Bold, from Adobe's AFM files (phvr8a, phvb8a); 0 = no glyph, 556 used.
_WIDTHS = {
    False: [
        278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556,
        556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278,
        500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469,
        556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500,
        278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 0, 0, 0, 222, 556, 333, 1000, 556, 556, 333, 1000,
        667, 333, 1000, 0, 611, 0, 0, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 0, 500, 667,
        278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333, 400, 584, 0, 0, 333, 556,
        537, 278, 333, 0, 365, 556, 834, 834, 834, 611, 667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667,
        667, 278, 278, 278, 278, 722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
        556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278, 556, 556, 556, 556, 556,
        556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,
    ],
    True: [
        278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556,
        556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667, 611, 778, 722, 278,
        556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584,
        556, 333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, 611, 611, 389, 556,
        333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 0, 0, 0, 278, 556, 500, 1000, 556, 556, 333, 1000,
        667, 333, 1000, 0, 611, 0, 0, 278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 0, 500, 667,
        278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333, 400, 584, 0, 0, 333, 611,
        556, 278, 333, 0, 365, 556, 834, 834, 834, 611, 722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667,
        667, 278, 278, 278, 278, 722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
        556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278, 611, 611, 611, 611, 611,
        611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556,
    ],
}


@dataclass(frozen=True)
class Text:
    """A piece of text at ``x``; cut with '…' to ``width`` points when given; ``right``: x is its right edge."""

    x: float
    text: str
    size: float = 9.0
    bold: bool = False
    width: float | None = None
    right: bool = False
    gray: bool = False


@dataclass(frozen=True)
class Line:
    """One line of a page: its texts, its height in points, and a thin rule below it if ``rule``."""

    texts: tuple[Text, ...] = ()
    height: float = 12.0
    rule: bool = False


def text(x: float, value: str, **kw) -> Text:
    return Text(x, value, **kw)


def line(*texts: Text, height: float = 12.0, rule: bool = False) -> Line:
    return Line(tuple(texts), height, rule)


def encode(value: str) -> bytes:
    """``value`` in Windows-1252, unknown characters as '?'."""
    return value.replace("\n", " ").encode("cp1252", errors="replace")


def width(value: str, size: float, bold: bool = False) -> float:
    """Width of ``value`` in points at ``size``."""
    table = _WIDTHS[bold]
    return sum((table[b - 32] if 32 <= b <= 255 and table[b - 32] else 556) for b in encode(value)) * size / 1000


def fit(value: str, size: float, limit: float, bold: bool = False) -> str:
    """``value`` cut with '…' so that it is at most ``limit`` points wide."""
    if width(value, size, bold) <= limit:
        return value
    while value and width(value + "…", size, bold) > limit:
        value = value[:-1]
    return value.rstrip() + "…"


def wrap(value: str, size: float, limit: float, bold: bool = False) -> list[str]:
    """``value`` broken into lines of at most ``limit`` points at spaces; a word longer than a line
    (a path, a hash) is broken where it reaches the edge, so nothing is lost."""
    lines: list[str] = []
    current = ""
    for word in value.split():
        candidate = f"{current} {word}".strip()
        if current and width(candidate, size, bold) > limit:
            lines.append(current)
            current = word
        else:
            current = candidate
        while width(current, size, bold) > limit and len(current) > 1:
            cut = len(current) - 1
            while cut > 1 and width(current[:cut], size, bold) > limit:
                cut -= 1
            lines.append(current[:cut])
            current = current[cut:]
    if current or not lines:
        lines.append(current)
    return lines


def paginate(body: Sequence[Line], *, first: Sequence[Line] = (), header: Sequence[Line] = ()) -> list[list[Line]]:
    """Split ``body`` into pages: ``first`` opens the first page, ``header`` opens every page."""
    usable = A4[1] - 2 * MARGIN
    pages: list[list[Line]] = []
    current = list(first) + list(header)
    used = sum(item.height for item in current)
    has_body = False
    for item in body:
        if used + item.height > usable and has_body:
            pages.append(current)
            current = list(header)
            used = sum(h.height for h in current)
            has_body = False
        current.append(item)
        used += item.height
        has_body = True
    pages.append(current)
    return pages


def content(lines: Sequence[Line], footer: str = "") -> bytes:
    """The content stream of a page with ``lines`` from the top margin down and a footer line."""
    ops: list[bytes] = []
    y = A4[1] - MARGIN
    for item in lines:
        y -= item.height
        for piece in item.texts:
            ops.append(_show(piece, y + 3))
        if item.rule:
            ops.append(b"0.6 G 0.4 w %.2f %.2f m %.2f %.2f l S 0 G" % (MARGIN, y, A4[0] - MARGIN, y))
    if footer:
        ops.append(_show(Text(A4[0] - MARGIN, footer, size=8, right=True, gray=True), _FOOTER_Y))
    return b"\n".join(ops)


def _show(piece: Text, y: float) -> bytes:
    value = piece.text
    if piece.width is not None:
        value = fit(value, piece.size, piece.width, piece.bold)
    x = piece.x - width(value, piece.size, piece.bold) if piece.right else piece.x
    escaped = encode(value).replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)").replace(b"\r", b"\\r")
    color = b"0.4 g " if piece.gray else b""
    font = b"/F2" if piece.bold else b"/F1"
    return b"%sBT %s %.1f Tf %.2f %.2f Td (%s) Tj ET%s" % (
        color, font, piece.size, x, y, escaped, b" 0 g" if piece.gray else b"")


class PageMaker:
    """Adds text pages to a pikepdf ``Pdf``; the two font dictionaries are shared by all its pages."""

    def __init__(self, pdf):
        import pikepdf

        self.pdf = pdf
        fonts = {}
        for key, name in (("/F1", "/Helvetica"), ("/F2", "/Helvetica-Bold")):
            fonts[key] = pdf.make_indirect(pikepdf.Dictionary(
                Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name(name),
                Encoding=pikepdf.Name.WinAnsiEncoding))
        self.resources = pdf.make_indirect(pikepdf.Dictionary(Font=pikepdf.Dictionary(fonts)))

    def page(self, lines: Sequence[Line], footer: str = ""):
        """Append a page with ``lines``; the new pikepdf Page."""
        import pikepdf

        page = pikepdf.Page(pikepdf.Dictionary(
            Type=pikepdf.Name.Page, MediaBox=pikepdf.Array([0, 0, *A4]), Resources=self.resources,
            Contents=self.pdf.make_stream(content(lines, footer))))
        self.pdf.pages.append(page)
        return self.pdf.pages[-1]
