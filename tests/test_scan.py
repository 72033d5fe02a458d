"""QR codes on returned scans: real forms printed by the pipeline, scanned, matched and split.

The forms are the real thing: letters (reply form on page 3) and agreement
signature pages rendered by LibreOffice once per module. A "scan" is such a
page rasterised with pypdfium2, treated as a copier would (rotated, skewed,
grey, JPEG) and wrapped image-only into a PDF with img2pdf: no text layer.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import img2pdf
import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw

from conftest import edit_sheet, files_under, roster_row, soffice_available
from kdigital import qr
from kdigital.archive import current_agreement, make_archive
from kdigital.cli import cli
from kdigital.cli_archive import EXIT_REJECTED
from kdigital.inputs import load_inputs
from kdigital.ledger import Ledger
from kdigital.scan import PageCodes, read_codes, split
from kdigital.workspace import Workspace, init_workspace, shipped_workspace
from test_archive import outline

MARBURG, FRONHAUSEN, AMOENEBURG = "06534014", "06534009", "06534001"


# --- builders -----------------------------------------------------------------------


@dataclass(frozen=True)
class Forms:
    """A workspace whose outputs hold the letters and the agreement (PDF) of three municipalities."""

    root: Path
    letters: dict[str, Path]  # AGS -> letter PDF (reply form on page 3)
    signatures: dict[str, Path]  # AGS -> signature page PDF
    version: str
    fingerprint: str


@pytest.fixture(scope="module")
def forms(tmp_path_factory) -> Forms:
    if not soffice_available():  # the require_soffice fixture, for a module-wide fixture
        if os.environ.get("KDIGITAL_REQUIRE_SOFFICE") == "1":
            pytest.fail("LibreOffice (soffice) fehlt, KDIGITAL_REQUIRE_SOFFICE=1 verlangt es")
        pytest.skip("LibreOffice (soffice) nicht installiert")
    from kdigital.agreement import make_agreement
    from kdigital.letters import make_letters

    ws = init_workspace(tmp_path_factory.mktemp("forms") / "ws", shipped_workspace())
    letters = make_letters(ws, only=[MARBURG, FRONHAUSEN, AMOENEBURG], pdf=True)
    agreement = make_agreement(ws, pdf=True)
    assert not letters.pdf_failures and not agreement.pdf_failures
    return Forms(ws.root, {p.name[:8]: p for p in letters.pdfs},
                 {p.name[:8]: p for p in agreement.pdfs if p.parent.name == "unterschriften"},
                 agreement.version, agreement.fingerprint)


@pytest.fixture
def ws(forms, tmp_path) -> Workspace:
    """A copy of the forms' workspace (outputs included) with an empty returns folder."""
    root = tmp_path / "ws"
    shutil.copytree(forms.root, root)
    (root / "inputs" / "returns").mkdir()
    return Workspace(root)


def raster(pdf: Path, page: int, dpi: int, *, grey: bool = False) -> Image.Image:
    """Page ``page`` (1-based) of ``pdf`` as a picture, as a scanner sees the printed sheet."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(pdf))
    try:
        image = document[page - 1].render(scale=dpi / 72, grayscale=grey).to_pil()
    finally:
        document.close()
    return image.convert("L" if grey else "RGB")


def rotated(image: Image.Image, degrees: float) -> Image.Image:
    white = 255 if image.mode == "L" else (255, 255, 255)
    return image.rotate(degrees, expand=True, fillcolor=white, resample=Image.BICUBIC)


def scan(path: Path, *pages: Image.Image, dpi: int = 300, quality: int = 70) -> Path:
    """An image-only PDF of ``pages`` (JPEG, no text layer), as a copier writes it."""
    jpegs = []
    for image in pages:
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality, dpi=(dpi, dpi))
        jpegs.append(out.getvalue())
    path.write_bytes(img2pdf.convert(jpegs))
    return path


def without_code(image: Image.Image) -> Image.Image:
    """``image`` with its QR code painted over in white (as if covered by a sticker)."""
    import zxingcpp

    (found,) = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    corners = [found.position.top_left, found.position.top_right, found.position.bottom_left,
               found.position.bottom_right]
    xs, ys = [c.x for c in corners], [c.y for c in corners]
    margin = (max(xs) - min(xs)) // 4
    covered = image.copy()
    ImageDraw.Draw(covered).rectangle([min(xs) - margin, min(ys) - margin, max(xs) + margin, max(ys) + margin],
                                      fill="white")
    return covered


def code_page(code: qr.Code, dpi: int = 200) -> Image.Image:
    """A blank A4 page with only ``code`` on it, 22 mm wide as on our forms."""
    page = Image.new("L", (round(8.27 * dpi), round(11.69 * dpi)), 255)
    side = round(qr.WIDTH_MM / 25.4 * dpi)
    picture = Image.open(io.BytesIO(qr.png(code))).resize((side, side), Image.NEAREST)
    page.paste(picture, (page.width - side - dpi, dpi))
    return page


def sources(run) -> list[dict]:
    return json.loads(run.manifest.read_text(encoding="utf-8"))["sources"]


def events(ws: Workspace, event: str):
    with Ledger.open(ws.root) as ledger:
        return ledger.events(event)


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


# --- matching and splitting ----------------------------------------------------------


def test_scans_as_copiers_make_them_are_matched_by_their_codes(forms, ws):
    returns = ws.inputs / "returns"
    form = {ags: raster(forms.letters[ags], 3, 300) for ags in (MARBURG, FRONHAUSEN)}
    scan(returns / "Scan_20220406_0815.pdf", form[MARBURG])
    scan(returns / "Scan_20220406_0816.pdf", rotated(form[FRONHAUSEN], 90))
    scan(returns / "Scan_20220406_0817.pdf", rotated(raster(forms.letters[AMOENEBURG], 3, 300), 180))
    scan(returns / "Scan_20220406_0818.pdf", raster(forms.signatures[MARBURG], 1, 200, grey=True), dpi=200)
    skewed = rotated(raster(forms.signatures[FRONHAUSEN], 1, 200, grey=True), 2)
    scan(returns / "Scan_20220406_0819.pdf", skewed, dpi=200)
    run = make_archive(ws)

    assert run.rejected == []
    found = {Path(s["path"]).name: (s["ags"], s["kind"], s["matched_by"], s["source_range"], s["flags"])
             for s in sources(run)}
    assert found == {
        "Scan_20220406_0815.pdf": (MARBURG, "IB", "QR-Code", [1, 1], []),
        "Scan_20220406_0816.pdf": (FRONHAUSEN, "IB", "QR-Code", [1, 1], []),
        "Scan_20220406_0817.pdf": (AMOENEBURG, "IB", "QR-Code", [1, 1], []),
        "Scan_20220406_0818.pdf": (MARBURG, "VB", "QR-Code", [1, 1], []),  # current version: not flagged
        "Scan_20220406_0819.pdf": (FRONHAUSEN, "VB", "QR-Code", [1, 1], []),
    }
    vb = next(s for s in sources(run) if s["kind"] == "VB")
    assert vb["qr_codes"] == [f"KD-2022-VB-{vb['ags']};P=1;V={forms.version};F={forms.fingerprint}"]
    assert [m[0] for m in outline(run.volume)] == ["06534001 Stadt Amöneburg", "06534009 Gemeinde Fronhausen",
                                                   "06534014 Universitätsstadt Marburg"]

    # the ledger: one returned and one archived event per document, after the volume was published
    returned, archived = events(ws, "returned"), events(ws, "archived")
    assert len(returned) == len(archived) == 5
    first = next(e for e in returned if e.file == "inputs/returns/Scan_20220406_0815.pdf")
    assert (first.ags, first.kind, first.campaign) == (MARBURG, "IB", "KD-2022")
    assert {k: first.detail[k] for k in ("matched_by", "pages")} == {"matched_by": "QR", "pages": [1, 1]}
    assert first.sha256 == hashlib.sha256((returns / "Scan_20220406_0815.pdf").read_bytes()).hexdigest()
    assert {e.file for e in archived} == {run.volume.name}
    assert {e.sha256 for e in archived} == {hashlib.sha256(run.volume.read_bytes()).hexdigest()}
    pages = {(e.ags, e.kind): e.detail["pages"] for e in archived}
    placed = {(s["ags"], s["kind"]): s["volume_pages"] for s in sources(run)}
    assert pages == placed and all(e.detail["volume"] == run.volume.name for e in archived)


def test_three_municipalities_in_one_scan_are_split(forms, ws):
    returns = ws.inputs / "returns"
    second_page = raster(forms.letters[AMOENEBURG], 2, 200, grey=True)  # a page without a code
    pages = [raster(forms.letters[ags], 3, 200, grey=True) for ags in (MARBURG, AMOENEBURG, FRONHAUSEN)]
    # a page without a code after Amöneburg's form belongs to it (a form may have a second page)
    source = scan(returns / "Scan_20220406_0815.pdf", pages[0], pages[1], second_page, pages[2], dpi=200)
    before = source.read_bytes()
    run = make_archive(ws)

    parts = sorted(sources(run), key=lambda s: s["source_range"])
    assert [(s["ags"], s["source_range"], s["source_pages"], s["split"]) for s in parts] == [
        (MARBURG, [1, 1], 1, True), (AMOENEBURG, [2, 3], 2, True), (FRONHAUSEN, [4, 4], 1, True)]
    assert {s["path"] for s in parts} == {"inputs/returns/Scan_20220406_0815.pdf"}
    assert {s["sha256"] for s in parts} == {hashlib.sha256(before).hexdigest()}
    assert all(s["verdict"] == "accepted" and s["duplicate"] is None for s in parts)
    # the original is kept once, unchanged, and verify checks it once
    originals = run.volume.parent / run.volume.stem / "originals"
    assert [p.name for p in originals.iterdir()] == ["Scan_20220406_0815.pdf"]
    assert (originals / "Scan_20220406_0815.pdf").read_bytes() == before
    assert invoke("verify", run.manifest).exit_code == 0

    # the volume: one bookmark per municipality, in AGS order, each on its own part
    marks = outline(run.volume)
    assert [(m[0][:8], [c[1] for c in m[2]]) for m in marks] == [
        (AMOENEBURG, [2]), (FRONHAUSEN, [4]), (MARBURG, [5])]
    assert len(read_codes(run.volume)) == 2 + 4
    volume_codes = {p.page: p.codes[0].identifier for p in read_codes(run.volume) if p.codes}
    assert volume_codes == {3: f"KD-2022-IB-{AMOENEBURG}", 5: f"KD-2022-IB-{FRONHAUSEN}",
                            6: f"KD-2022-IB-{MARBURG}"}
    by_ags = {s["ags"]: s["volume_pages"] for s in parts}
    assert by_ags == {AMOENEBURG: [3, 4], FRONHAUSEN: [5, 5], MARBURG: [6, 6]}

    returned = sorted(events(ws, "returned"), key=lambda e: e.detail["pages"])
    assert [(e.ags, e.detail["pages"]) for e in returned] == [(MARBURG, [1, 1]), (AMOENEBURG, [2, 3]),
                                                             (FRONHAUSEN, [4, 4])]
    assert {e.file for e in returned} == {"inputs/returns/Scan_20220406_0815.pdf"}


def test_whole_letters_stapled_are_split_by_the_page_number_in_their_codes(forms, ws):
    # two 3-page letters in one scan: pages 1-2 carry no code, page 3 the reply form with P=3
    pages = [raster(forms.letters[ags], n, 150, grey=True) for ags in (AMOENEBURG, FRONHAUSEN) for n in (1, 2, 3)]
    scan(ws.inputs / "returns" / "Scan_20220406_0815.pdf", *pages, dpi=150)
    run = make_archive(ws)
    assert run.rejected == []
    assert sorted((s["ags"], s["source_range"], s["notes"]) for s in sources(run)) == [
        (AMOENEBURG, [1, 3], []), (FRONHAUSEN, [4, 6], [])]


def test_intake_shows_the_parts_and_writes_nothing(forms, ws):
    returns = ws.inputs / "returns"
    pages = [raster(forms.letters[ags], 3, 150, grey=True) for ags in (FRONHAUSEN, MARBURG)]
    scan(returns / "Scan_20220406_0815.pdf", *pages, dpi=150)
    before = files_under(ws.root)
    result = invoke("-w", ws.root, "intake", "--silent")
    assert result.exit_code == 0, result.output
    assert re.search(r"inputs/returns/Scan_20220406_0815.pdf\n"
                     r"  Seite 1  06534009 Gemeinde Fronhausen  Rückantwort \(IB\)  erkannt: QR-Code\n"
                     r"  Seite 2  06534014 Universitätsstadt Marburg  Rückantwort \(IB\)  erkannt: QR-Code\n",
                     result.stdout), result.stdout
    assert "2 Dokument(e) zuzuordnen, 0 abgelehnt – nichts geschrieben." in result.stdout
    assert files_under(ws.root) == before  # no volume, no ledger event, nothing

    (returns / "notiz.txt").write_text("Lahntal nachfordern")
    result = invoke("-w", ws.root, "intake", "--silent")
    assert result.exit_code == EXIT_REJECTED
    assert "inputs/returns/notiz.txt\n  abgelehnt: weder PDF noch Bild" in result.stdout


def test_a_code_that_cannot_be_read_falls_back_to_the_file_name(forms, ws):
    returns = ws.inputs / "returns"
    covered = without_code(raster(forms.letters[FRONHAUSEN], 3, 200, grey=True))
    scan(returns / "KD-2022-IB-06534009 Scan.pdf", covered, dpi=200)
    scan(returns / "Scan_20220406_0815.pdf", covered, dpi=200)  # no code and no name: rejected
    run = make_archive(ws)
    source, refused = sources(run)
    assert refused["verdict"] == "rejected"
    assert (source["ags"], source["kind"], source["matched_by"], source["route"]) == (
        FRONHAUSEN, "IB", "Kennung im Dateinamen", "Dateiname")
    (rejected,) = run.rejected
    assert rejected.shown.endswith("Scan_20220406_0815.pdf") and "keine Kennung" in rejected.reason
    (returned,) = events(ws, "returned")
    assert {k: returned.detail[k] for k in ("matched_by", "pages")} == {"matched_by": "Dateiname", "pages": [1, 1]}


def test_a_signature_page_of_an_older_agreement_is_accepted_and_flagged(forms, ws):
    returns = ws.inputs / "returns"
    scan(returns / "Scan_20220406_0815.pdf", raster(forms.signatures[MARBURG], 1, 200, grey=True), dpi=200)
    # the agreement changes after the signature pages went out: a new version is issued
    from kdigital.agreement import make_agreement

    edit_sheet(ws.roster, "Kommunen", {(roster_row(ws, MARBURG), "Einwohner"): 73545})
    newer = make_agreement(ws)
    assert newer.fingerprint != forms.fingerprint

    result = invoke("-w", ws.root, "archive", "--silent")
    assert result.exit_code == 0, result.output
    flag = (f"ältere Fassung unterschrieben (Fingerprint {forms.fingerprint}, aktuell {newer.fingerprint} laut "
            f"outputs/agreement/vereinbarung_{newer.version}.docx)")
    assert "Bitte prüfen (1)" in result.stdout and flag in result.stdout
    manifest = next((ws.outputs / "archive").glob("*.manifest.json"))
    (source,) = json.loads(manifest.read_text(encoding="utf-8"))["sources"]
    assert (source["ags"], source["kind"], source["flags"]) == (MARBURG, "VB", [flag])
    volume = next((ws.outputs / "archive").glob("*.pdf"))
    (marburg,) = outline(volume)
    assert marburg[2][0][0].endswith("– ältere Fassung")
    from test_archive import page_texts

    assert "Bitte prüfen: ältere Fassung unterschrieben" in page_texts(volume)[1]
    (returned,) = events(ws, "returned")
    assert returned.detail["flags"] == [flag]


def test_current_agreement_is_the_issued_one_or_else_computed(forms, ws):
    inputs = load_inputs(ws)
    issued = current_agreement(ws, inputs)
    assert (issued.version, issued.fingerprint) == (forms.version, forms.fingerprint)
    assert issued.source == f"outputs/agreement/vereinbarung_{forms.version}.docx"
    shutil.rmtree(ws.outputs / "agreement")
    computed = current_agreement(ws, inputs)
    assert (computed.version, computed.fingerprint, computed.source) == (
        forms.version, forms.fingerprint, "aus den aktuellen Eingaben berechnet")


def test_a_part_with_another_campaigns_code_is_rejected_alone(forms, ws):
    returns = ws.inputs / "returns"
    marburg = raster(forms.letters[MARBURG], 3, 200, grey=True)
    foreign = code_page(qr.Code("KD-2021-IB-06534002", 3))
    scan(returns / "Scan_20220406_0815.pdf", marburg, foreign, dpi=200)
    result = invoke("-w", ws.root, "archive", "--silent")
    assert result.exit_code == EXIT_REJECTED
    assert ("inputs/returns/Scan_20220406_0815.pdf, Seite 2: QR-Code mit Kennung KD-2021-IB-06534002 gehört "
            "nicht zur Kampagne KD-2022") in result.stdout
    manifest = next((ws.outputs / "archive").glob("*.manifest.json"))
    accepted, rejected = json.loads(manifest.read_text(encoding="utf-8"))["sources"]
    assert (accepted["ags"], accepted["source_range"], rejected["verdict"], rejected["source_range"]) == (
        MARBURG, [1, 1], "rejected", [2, 2])


def test_a_code_seen_but_not_decoded_is_read_again_at_a_higher_resolution(forms, tmp_path):
    from PIL import ImageFilter

    blurred = raster(forms.letters[MARBURG], 3, 100, grey=True).filter(ImageFilter.GaussianBlur(1.2))
    path = scan(tmp_path / "unscharf.pdf", blurred, dpi=100, quality=60)
    (first_pass,) = read_codes(path, retry_dpi=0)
    assert first_pass.codes == () and first_pass.unreadable > 0
    (page,) = read_codes(path)
    assert [c.identifier for c in page.codes] == [f"KD-2022-IB-{MARBURG}"]


# --- the split, page by page (no rendering) ----------------------------------------------


def codes(*pages: str | None) -> list[PageCodes]:
    """PageCodes from payloads ('' or None: a page without a code)."""
    return [PageCodes(n, tuple(qr.parse(p) for p in (page or "").split("|") if p))
            for n, page in enumerate(pages, start=1)]


@pytest.mark.parametrize("pages, expected", [
    ((None, None), []),
    (("KD-2022-IB-06534014;P=3",), [(1, 1, "06534014", ())]),
    # our own letter sent back whole: pages 1-2 come before the form (P=3): no note
    ((None, None, "KD-2022-IB-06534014;P=3"), [(1, 3, "06534014", ())]),
    # a cover sheet before a form's first page
    ((None, "KD-2022-VB-06534014;P=1"), [(1, 2, "06534014", ("Seite 1 ohne QR-Code",))]),
    # uncoded pages follow their form unless the next code claims them; forms in any order
    (("KD-2022-IB-06534014;P=3", "KD-2022-VB-06534001;P=1", None, "KD-2022-IB-06534009;P=1"),
     [(1, 1, "06534014", ()), (2, 3, "06534001", ()), (4, 4, "06534009", ())]),
    # whole letters stapled: P=3 claims the two uncoded pages before it (Kirchhain, then Lahntal)
    ((None, None, "KD-2022-IB-06534011;P=3", None, None, "KD-2022-IB-06534012;P=3"),
     [(1, 3, "06534011", ()), (4, 6, "06534012", ())]),
    (("KD-2022-IB-06534014;P=3", "KD-2022-IB-06534001;P=3", None, None, "KD-2022-IB-06534009;P=3"),
     [(1, 1, "06534014", ()), (2, 2, "06534001", ()), (3, 5, "06534009", ())]),
    # more uncoded pages than claimed: the rest stays with the form before (its second page)
    (("KD-2022-VB-06534014;P=1", None, None, None, "KD-2022-IB-06534001;P=3"),
     [(1, 2, "06534014", ()), (3, 5, "06534001", ())]),
    # fewer than claimed: no claim – they are the form before's back pages (a duplex scan of forms)
    (("KD-2022-IB-06534014;P=3", None, "KD-2022-IB-06534001;P=3"), [(1, 2, "06534014", ()), (3, 3, "06534001", ())]),
    (("KD-2022-VB-06534014;P=1", "KD-2022-VB-06534014;P=2", None, "KD-2022-IB-06534001;P=3"),
     [(1, 3, "06534014", ()), (4, 4, "06534001", ())]),
    # a stack of reply forms scanned in duplex: every back page stays with its own form
    (("KD-2022-IB-06534014;P=3", None, "KD-2022-IB-06534001;P=3", None, "KD-2022-IB-06534009;P=3", None),
     [(1, 2, "06534014", ()), (3, 4, "06534001", ()), (5, 6, "06534009", ())]),
    # the same form twice: two documents (a duplicate); P=1 then P=2 of one form: one document
    (("KD-2022-IB-06534014;P=3", "KD-2022-IB-06534014;P=3"), [(1, 1, "06534014", ()), (2, 2, "06534014", ())]),
    (("KD-2022-VB-06534014;P=1", "KD-2022-VB-06534014;P=2"), [(1, 2, "06534014", ())]),
])
def test_split(pages, expected):
    parts = split(codes(*pages))
    assert [(p.first, p.last, p.code.identifier[-8:], tuple(n[:20] for n in p.notes)) for p in parts] == expected
    assert all(p.problem is None for p in parts)


def test_split_refuses_a_page_with_two_documents():
    (part, following) = split(codes("KD-2022-IB-06534014;P=3|KD-2022-IB-06534001;P=3", "KD-2022-IB-06534009;P=3"))
    assert "Seite 1 trägt QR-Codes verschiedener Dokumente" in part.problem
    assert following.problem is None


def test_a_copier_page_is_decoded_by_pillow_at_reduced_size_and_others_by_pdfium(tmp_path):
    import pypdfium2 as pdfium

    from kdigital.scan import _jpeg_scan

    code = qr.Code(f"KD-2022-IB-{MARBURG}", page=3)
    jpeg = scan(tmp_path / "kopierer.pdf", code_page(code, dpi=300), dpi=300)
    png = tmp_path / "png.pdf"
    out = io.BytesIO()
    code_page(code, dpi=300).save(out, "PNG", dpi=(300, 300))
    png.write_bytes(img2pdf.convert(out.getvalue()))
    document = pdfium.PdfDocument(str(jpeg))
    try:
        picture = _jpeg_scan(document[0], 150 / 72)
        assert picture is not None and picture.mode == "L" and abs(picture.width - 8.27 * 300 / 2) <= 1
    finally:
        document.close()
    document = pdfium.PdfDocument(str(png))
    try:
        assert _jpeg_scan(document[0], 150 / 72) is None  # not a JPEG: pdfium renders it
    finally:
        document.close()
    coarse = scan(tmp_path / "grob.pdf", code_page(code, dpi=100), dpi=100)
    document = pdfium.PdfDocument(str(coarse))
    try:
        assert _jpeg_scan(document[0], 150 / 72) is None  # coarser than asked for: pdfium enlarges it
    finally:
        document.close()
    for path in (jpeg, png, coarse):
        (page,) = read_codes(path)
        assert page.codes == (code,)
