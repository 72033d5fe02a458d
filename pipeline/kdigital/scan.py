"""The QR codes on returned pages (``kdigital.qr``): read page by page, and a scan split into documents.

Every page of every returned PDF (and of the PDF wrapped around an image scan)
is read, text PDFs included: a page our pipeline printed renders in about 5 ms,
and one route for all returns means a PDF holding several municipalities'
forms is split the same way whether it was scanned or saved from Word.

Reading a page: pdfium renders it in grey at ``DPI`` (150 dpi: a module of the
22 mm code is then about 3 pixels; 100 dpi reads clean scans too, but not
blurred ones), one page at a time, so memory stays at one bitmap (~2 MB for A4).
zxing-cpp finds codes in any orientation (90°/180° and skew), so pages are not
turned first. Only when it sees a QR code it cannot decode (checksum error) is
that page rendered again at ``RETRY_DPI``; pages without any code, the common
case, cost one pass: about 6 ms for a page we printed, 30 ms for an A4 scan in
grey at 200 dpi, 60 ms in colour at 300 dpi (mostly pdfium decoding the JPEG).

A scan is split at its coded pages (``split``): each part is a coded page, the
uncoded pages after it (a form may have a second page) and the uncoded pages
right before it that its code claims. A code's P=n says the coded page is page
n of its document, so the n−1 uncoded pages right before it belong to it: a
whole letter stapled behind another (pages 1–2 without code, the reply form
with P=3 on page 3) stays together. Those pages are taken only from the
previous part's trailing uncoded pages, never from its coded pages, and only
when all n−1 are there: fewer are the previous form's back pages (a stack of
forms scanned in duplex) and stay with it, as does what the code does not claim. Pages before the first code
belong to the first part: the pages before the form in its own document (the
letter before the reply form, page 3) or a cover sheet (noted when there are
more or fewer of them than the code says). A code continues the current part
instead of opening a new one when it has the same identifier and a higher page
number (P=) than the part's last code.
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from kdigital import qr
from kdigital.errors import MissingDependencyError

log = logging.getLogger(__name__)

DPI = 150  # first pass
RETRY_DPI = 300  # pages with a code seen but not decoded
MAX_PIXELS = 40_000_000  # a page larger than A0 at 150 dpi is rendered smaller

_INSTALL = "pypdfium2 und zxing-cpp fehlen (zum Lesen der QR-Codes). Installieren: pip install pypdfium2 zxing-cpp"


class ScanError(Exception):
    """pdfium cannot open or render a PDF; the message says why."""


@dataclass(frozen=True)
class PageCodes:
    """What one page says: our codes on it, in reading order (1-based ``page``)."""

    page: int
    codes: tuple[qr.Code, ...] = ()
    unreadable: int = 0  # QR codes seen on the page but not decoded
    foreign: tuple[str, ...] = ()  # decoded QR codes that are not ours (their text)


@dataclass(frozen=True)
class Part:
    """Pages ``first``–``last`` (1-based, inclusive) of a source that form one document."""

    first: int
    last: int
    code: qr.Code  # the code that opened it
    codes: tuple[qr.Code, ...] = ()  # every distinct code on its pages
    problem: str | None = None  # why it cannot be assigned (several documents on one page)
    notes: tuple[str, ...] = ()

    @property
    def pages(self) -> str:
        return f"Seite {self.first}" if self.first == self.last else f"Seiten {self.first}–{self.last}"


def require() -> None:
    """Raise MissingDependencyError unless pypdfium2 and zxing-cpp can be imported."""
    try:
        import pypdfium2  # noqa: F401
        import zxingcpp  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(f"{_INSTALL} ({exc})") from exc


def read_codes(pdf: Path, *, dpi: int = DPI, retry_dpi: int = RETRY_DPI) -> list[PageCodes]:
    """Our QR codes on every page of ``pdf``; raises ScanError when pdfium cannot read it."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(pdf))
    except pdfium.PdfiumError as exc:
        raise ScanError(f"pdfium öffnet die Datei nicht ({exc})") from exc
    try:
        result = []
        for index in range(len(document)):
            page = document[index]
            try:
                result.append(_read_page(page, index + 1, dpi, retry_dpi))
            except pdfium.PdfiumError as exc:
                raise ScanError(f"Seite {index + 1} lässt sich nicht darstellen ({exc})") from exc
            finally:
                page.close()
        return result
    finally:
        document.close()


def _read_page(page, number: int, dpi: int, retry_dpi: int) -> PageCodes:
    found = _decode(page, dpi)
    if found.unreadable and not found.codes and retry_dpi > dpi:
        log.debug("Seite %d: QR-Code bei %d dpi nicht lesbar, zweiter Versuch mit %d dpi", number, dpi, retry_dpi)
        again = _decode(page, retry_dpi, direct=False)  # pdfium enlarges a coarse scan; Pillow would not
        if again.codes or again.foreign or again.unreadable < found.unreadable:
            found = again
    return PageCodes(number, found.codes, found.unreadable, found.foreign)


@dataclass
class _Found:
    codes: tuple[qr.Code, ...] = ()
    unreadable: int = 0
    foreign: tuple[str, ...] = ()


def _decode(page, dpi: int, direct: bool = True) -> _Found:
    import zxingcpp

    width, height = page.get_size()
    scale = dpi / 72
    pixels = width * height * scale * scale
    if pixels > MAX_PIXELS:
        scale *= math.sqrt(MAX_PIXELS / pixels)
    picture = _jpeg_scan(page, scale) if direct else None
    if picture is not None:
        # An inverting /Decode array cannot be seen from here: try light-on-dark too (decoding is cheap).
        results = zxingcpp.read_barcodes(picture, formats=zxingcpp.BarcodeFormat.QRCode,
                                         try_invert=True, return_errors=True)
    else:
        # Without image smoothing a scan page renders about a third faster; codes read as well (tested
        # down to 150 dpi sources). Our codes are dark on light, so inverted images are not tried.
        bitmap = page.render(scale=scale, grayscale=True, may_draw_forms=False, no_smoothimage=True)
        try:
            results = zxingcpp.read_barcodes(bitmap.to_numpy(), formats=zxingcpp.BarcodeFormat.QRCode,
                                             try_invert=False, return_errors=True)
        finally:
            bitmap.close()
    codes: list[qr.Code] = []
    foreign: list[str] = []
    unreadable = 0
    for result in results:
        if not result.valid:
            unreadable += 1
            continue
        code = qr.parse(result.text)
        if code is None:
            foreign.append(result.text)
        elif code not in codes:
            codes.append(code)
    return _Found(tuple(codes), unreadable, tuple(foreign))


def _jpeg_scan(page, scale: float):
    """The page's picture in grey at about ``scale`` × 72 dpi, for a page that is one JPEG; else None.

    A copier's PDF holds one JPEG per page. pdfium decodes it at full size before
    scaling (~50 ms for an A4 page at 300 dpi); libjpeg in Pillow decodes it
    straight at 1/2, 1/4 or 1/8 size (``draft``), in a third of the time. A page
    with anything else on it, a mirrored placement, or a JPEG Pillow does not
    read as grey or RGB goes the pdfium way.
    """
    import pypdfium2.raw as pdfium_c
    from PIL import Image

    if pdfium_c.FPDFPage_GetAnnotCount(page.raw) > 0:
        return None  # a stamp or form field could carry a code: pdfium draws those too
    objects = list(page.get_objects(max_depth=1))
    if len(objects) != 1 or objects[0].type != pdfium_c.FPDF_PAGEOBJ_IMAGE:
        return None
    image = objects[0]
    try:
        if image.get_filters() != ["DCTDecode"]:
            return None
        matrix = image.get_matrix()
        if matrix.a * matrix.d - matrix.b * matrix.c <= 0:
            return None
        picture = Image.open(io.BytesIO(image.get_data(decode_simple=False)))
        if picture.mode not in ("L", "RGB"):
            return None
        width, height = page.get_size()
        if picture.width * picture.height < width * height * scale * scale * 0.8:
            return None  # coarser than asked for: pdfium enlarges it, Pillow would not
        # draft picks the smallest reduction that still reaches the size asked for; asking for
        # 90 % lets a 300 dpi scan decode at half size (150 dpi) despite rounding
        picture.draft("L", (max(1, int(width * scale * 0.9)), max(1, int(height * scale * 0.9))))
        return picture.convert("L")
    except Exception as exc:  # a JPEG Pillow cannot read: pdfium may still render it
        log.debug("JPEG der Seite nicht direkt lesbar (%s); pdfium stellt sie dar", exc)
        return None


@dataclass
class _Building:
    first: int
    last: int
    code: qr.Code
    codes: list[qr.Code] = field(default_factory=list)
    problem: str | None = None
    coded: int = 0  # its last page with a code (pages after it are uncoded)

    def freeze(self, notes: tuple[str, ...] = ()) -> Part:
        return Part(self.first, self.last, self.code, tuple(self.codes), self.problem, notes)


def split(pages: Sequence[PageCodes]) -> list[Part]:
    """The documents in a source, by the codes on its pages (see the module docstring); [] without codes."""
    parts: list[_Building] = []
    for page in pages:
        identifiers = list(dict.fromkeys(c.identifier for c in page.codes))
        if not identifiers:
            if parts:
                parts[-1].last = page.page
            continue
        code = page.codes[0]
        current = parts[-1] if parts else None
        if (len(identifiers) == 1 and current is not None and current.problem is None
                and current.code.identifier == code.identifier and code.page > current.codes[-1].page):
            current.last = current.coded = page.page
            current.codes += [c for c in page.codes if c not in current.codes]
            continue
        first = page.page
        if current is not None:
            # P=n: the n−1 uncoded pages before this page are its own (a stapled letter), taken from
            # the previous part's tail, never from its coded pages – and only all of them: with fewer
            # uncoded pages there, they are the previous form's back pages (a duplex scan), not ours
            wanted = max(code.page - 1, 0)
            claimed = wanted if page.page - 1 - current.coded >= wanted else 0
            first = page.page - claimed
            current.last = first - 1
        part = _Building(first, page.page, code, list(page.codes), coded=page.page)
        if len(identifiers) > 1:
            part.problem = (f"Seite {page.page} trägt QR-Codes verschiedener Dokumente ({', '.join(identifiers)}) "
                            "– bitte jedes Formular auf eigene Seiten scannen")
        parts.append(part)
    if not parts:
        return []
    notes: tuple[str, ...] = ()
    head = parts[0]
    if head.first > 1:
        leading = head.first - 1
        if head.code.page != head.first:  # P=3 on page 3: pages 1–2 are the letter before the form
            span = "Seite 1" if leading == 1 else f"Seiten 1–{leading}"
            notes = (f"{span} ohne QR-Code vor dem ersten Formular – diesem zugeordnet",)
        head.first = 1
    return [parts[0].freeze(notes)] + [p.freeze() for p in parts[1:]]
