"""The print bundle: one PDF, one bookmark per document, every document on a new sheet."""

from __future__ import annotations

import re

import pytest
from pypdf import PdfReader

from kdigital.errors import ConversionError
from kdigital.letters import make_letters
from kdigital.printbundle import build_print_bundle
from pdf_builders import make_pdf


def page_texts(path) -> list[str]:
    return [re.sub(r"\s+", " ", page.extract_text() or "").strip() for page in PdfReader(path).pages]


def top_level(reader: PdfReader) -> list[tuple[str, int]]:
    """(title, 0-based page) of the top-level bookmarks."""
    return [(item.title, reader.get_destination_page_number(item))
            for item in reader.outline if not isinstance(item, list)]


def test_documents_start_on_new_sheets_with_one_bookmark_each(tmp_path):
    docs = [
        ("Amöneburg", make_pdf(tmp_path / "a.pdf", ["A1", "A2", "A3"])),
        ("Marburg", make_pdf(tmp_path / "b.pdf", ["B1", "B2"])),
        ("Lahntal", make_pdf(tmp_path / "c.pdf", ["C1"], size=(400, 600))),
    ]
    target = tmp_path / "druck" / "anschreiben.pdf"
    assert build_print_bundle(docs, target) == 8
    reader = PdfReader(target)
    assert page_texts(target) == ["A1", "A2", "A3", "", "B1", "B2", "C1", ""]
    assert top_level(reader) == [("Amöneburg", 0), ("Marburg", 4), ("Lahntal", 6)]
    assert reader.page_mode == "/UseOutlines"
    assert all(page % 2 == 0 for _, page in top_level(reader))  # 0-based even = printed page 1, 5, 7
    # the blank page has the size of the page before it
    assert [float(p.mediabox.width) for p in reader.pages[6:]] == [400, 400]
    assert [p.name for p in target.parent.iterdir()] == ["anschreiben.pdf"]  # no temporary file left


def test_own_bookmarks_are_nested_below_the_document(tmp_path):
    docs = [
        ("Kostenblatt Marburg", make_pdf(tmp_path / "a.pdf", ["A1", "A2"],
                                         bookmarks=[("Szenarien", 0), ("Annahmen", 1)])),
        ("Kostenblatt Lahntal", make_pdf(tmp_path / "b.pdf", ["B1"], bookmarks=[("Szenarien", 0)])),
    ]
    target = tmp_path / "bundle.pdf"
    assert build_print_bundle(docs, target) == 4
    reader = PdfReader(target)
    outline = reader.outline
    assert top_level(reader) == [("Kostenblatt Marburg", 0), ("Kostenblatt Lahntal", 2)]
    first_children, second_children = outline[1], outline[3]
    assert [(i.title, reader.get_destination_page_number(i)) for i in first_children] == [("Szenarien", 0), ("Annahmen", 1)]
    assert [(i.title, reader.get_destination_page_number(i)) for i in second_children] == [("Szenarien", 2)]


def test_unreadable_document_is_named_and_old_bundle_kept(tmp_path):
    good = make_pdf(tmp_path / "good.pdf", ["G1"])
    broken = tmp_path / "06534014_marburg.pdf"
    broken.write_bytes(b"%PDF-1.7\nnot really a pdf")
    target = tmp_path / "out" / "bundle.pdf"
    build_print_bundle([("gut", good)], target)
    before = target.read_bytes()
    with pytest.raises(ConversionError, match="06534014_marburg.pdf"):
        build_print_bundle([("gut", good), ("kaputt", broken)], target)
    with pytest.raises(ConversionError, match="fehlt"):
        build_print_bundle([("weg", tmp_path / "missing.pdf")], target)
    assert target.read_bytes() == before
    assert [p.name for p in target.parent.iterdir()] == ["bundle.pdf"]


def test_empty_list_is_a_programming_error(tmp_path):
    with pytest.raises(ValueError, match="mindestens ein Dokument"):
        build_print_bundle([], tmp_path / "x.pdf")


def test_bundle_of_real_letters(workspace, require_soffice):
    only = ["06534014", "06534009", "06534001"]
    run = make_letters(workspace, only=only, pdf=True)
    assert run.pdf_failures == {}
    docs = [(f"{p.stem[:8]} {p.stem[9:]}", p) for p in run.pdfs]
    target = workspace.outputs / "letters" / "druck.pdf"
    assert build_print_bundle(docs, target) == 12  # 3 pages + 1 blank each
    reader = PdfReader(target)
    assert [title for title, _ in top_level(reader)] == [title for title, _ in docs]
    assert [page for _, page in top_level(reader)] == [0, 4, 8]
    texts = page_texts(target)
    for (title, pdf), start in zip(docs, (0, 4, 8)):
        ags = title[:8]
        assert "Sehr geehrte" in texts[start]
        assert f"KD-2022-IB-{ags}" in texts[start + 2].replace(" ", "")
        assert texts[start + 3] == ""  # padding before the next letter
    assert all(float(p.mediabox.height) > float(p.mediabox.width) for p in reader.pages)  # A4 portrait throughout
