"""Small PDFs made with pypdf for tests: text on every page, optional bookmarks, any page size."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

A4 = (595.28, 841.89)


def make_pdf(path: Path, texts: Sequence[str], *, size: tuple[float, float] = A4,
             bookmarks: Sequence[tuple[str, int]] = ()) -> Path:
    """A PDF with one page per text (Helvetica, extractable) and bookmarks (title, 0-based page)."""
    writer = PdfWriter()
    font = writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Font"),
        NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"),
    }))
    for text in texts:
        page = writer.add_blank_page(*size)
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 12 Tf 50 {size[1] - 80:.0f} Td ({text}) Tj ET".encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject({
            NameObject("/Font"): DictionaryObject({NameObject("/F1"): font}),
        })
    for title, page_number in bookmarks:
        writer.add_outline_item(title=title, page_number=page_number)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        writer.write(fh)
    return path
