"""The print bundle: many documents merged into one PDF for the duplex printer.

Staff print a mailing as one job. Every document starts on a new sheet (a
document with an odd page count is followed by one blank page of the size of
its last page), and the outline has exactly one top-level bookmark per
document, with the document's own bookmarks nested below it, so that a
misprinted letter is found and reprinted in seconds.

What is kept and what is not: the pages as they are (content, embedded fonts,
images, page sizes and rotation), links and named destinations, the documents'
own bookmarks. Not kept: each document's structure tree (tags), document info
(title, keywords), XMP metadata and output intent. The bundle is therefore a
plain PDF for printing, *not* PDF/A; the archival copies are the single
documents, which stay untouched.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from kdigital.errors import ConversionError
from kdigital.output import atomic_file

log = logging.getLogger(__name__)


def build_print_bundle(documents: Sequence[tuple[str, Path]], target: Path) -> int:
    """Merge the PDFs ``(bookmark title, path)`` in order into ``target``; its page count.

    Every document starts on an odd page (blank page after odd-length ones);
    one top-level bookmark per document, its own outline nested below. Written
    through a temporary file and an atomic rename, so ``target`` is either the
    old or the complete new bundle. Raises ConversionError naming the file when
    a PDF cannot be read, is encrypted or has no pages; ValueError for an empty
    list.
    """
    # imported here: pypdf is slow to import and only needed for PDFs
    from pypdf import PdfReader, PdfWriter

    if not documents:
        raise ValueError("build_print_bundle braucht mindestens ein Dokument")
    writer = PdfWriter()
    for title, path in documents:
        path = Path(path)
        reader = _open(PdfReader, path)
        start = len(writer.pages)
        writer.append(reader, outline_item=title, import_outline=True)
        count = len(writer.pages) - start
        if count % 2:
            last = writer.pages[-1]
            blank = writer.add_blank_page(float(last.mediabox.width), float(last.mediabox.height))
            if last.rotation:
                blank.rotate(last.rotation)
        log.debug("%s: %d Seite(n) ab Seite %d", path.name, count, start + 1)
    # The letterhead logo and shared fonts appear once instead of once per letter.
    writer.compress_identical_objects()  # defaults: drop duplicates and orphans (pypdf >= 4.3)
    writer.page_mode = "/UseOutlines"  # open with the bookmarks shown
    writer.add_metadata({"/Producer": "kdigital (pypdf)"})
    pages = len(writer.pages)
    with atomic_file(Path(target)) as fh:
        writer.write(fh)
    return pages


def _open(reader_class, path: Path):
    """A reader for ``path`` with at least one page, or a ConversionError saying why not."""
    try:
        reader = reader_class(path, strict=False)
        if reader.is_encrypted:
            raise ConversionError(f"Druckdatei nicht erstellt: {path} ist verschlüsselt.")
        if not reader.pages:
            raise ConversionError(f"Druckdatei nicht erstellt: {path} hat keine Seiten.")
    except ConversionError:
        raise
    except FileNotFoundError:
        raise ConversionError(f"Druckdatei nicht erstellt: {path} fehlt.") from None
    except Exception as exc:  # pypdf raises many types for damaged files; all mean the same here
        raise ConversionError(
            f"Druckdatei nicht erstellt: {path} lässt sich nicht lesen ({exc}). "
            "Die PDF neu erzeugen (z. B. kdigital letters --pdf)."
        ) from exc
    return reader


