"""The archive at scale and with real letters: a 200-page scan, bounded memory, LibreOffice PDFs, qpdf's limits."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pikepdf
import pytest
from pypdf import PdfReader

from kdigital.archive import make_archive
from kdigital.letters import make_letters
from test_archive import hashes, jpeg_bytes, outline, page_texts, scan_pdf, text_pdf


@pytest.fixture
def returns(workspace) -> Path:
    folder = workspace.inputs / "returns"
    folder.mkdir()
    return folder


def test_two_hundred_page_scan(workspace, returns):
    scan_pdf(returns / "KD-2022-VB-06534014 Vereinbarung komplett.pdf", seed=1000, pages=200)
    text_pdf(returns / "KD-2022-IB-06534014.pdf", "Rückantwort")
    run = make_archive(workspace)
    assert len(PdfReader(run.volume).pages) == 2 + 1 + 200
    (marburg,) = outline(run.volume)
    assert [(title.split(" – ")[0], page) for title, page in marburg[2]] == [
        ("Rückantwort Interessensbekundung", 2), ("Vereinbarung (Unterschriftsseite)", 3)]
    assert "4–203" in page_texts(run.volume)[1]


def unique_jpeg(jpeg: bytes, tag: str) -> bytes:
    """The same picture with a JPEG comment: other bytes, so nothing is shared between sources."""
    comment = tag.encode()
    return jpeg[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + jpeg[2:]


_PEAK = (
    "import resource, sys\n"
    "from pathlib import Path\n"
    "from kdigital.archive import make_archive\n"
    "from kdigital.workspace import Workspace\n"
    "run = make_archive(Workspace(Path(sys.argv[1])))\n"
    "print(len(run.placements), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n"
)


def test_memory_grows_with_one_source_not_with_the_volume(workspace, tmp_path):
    page = jpeg_bytes(7, size=(1240, 1754), quality=90, dpi=150)  # one A4 page at 150 dpi, ~1.7 MB
    import img2pdf

    peaks = {}
    for count in (1, 16):
        ws = tmp_path / f"ws-{count}"
        shutil.copytree(workspace.root, ws)
        folder = ws / "inputs" / "returns"
        folder.mkdir()
        for i in range(count):
            ags = f"065340{i + 1:02d}"
            pdf = img2pdf.convert([unique_jpeg(page, f"{ags}-{k}") for k in range(2)])
            (folder / f"KD-2022-IB-{ags}.pdf").write_bytes(pdf)
        done = subprocess.run([sys.executable, "-c", _PEAK, str(ws)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        documents, peak = map(int, done.stdout.split())
        assert documents == count
        peaks[count] = peak
    source_mb = 2 * len(page) / 2**20
    # 16 sources (~33 MB) may cost a little more than one, but nowhere near their sum
    assert peaks[16] - peaks[1] < 6 * source_mb, (peaks, source_mb)


def test_a_pdf_qpdf_cannot_open_is_rewritten_by_pypdf_for_the_volume_only(workspace, returns, monkeypatch):
    text_pdf(returns / "KD-2022-IB-06534014 qpdf-kaputt.pdf", "Rückantwort")
    before = hashes(returns)
    opener = pikepdf.open

    def refuse(path, *args, **kwargs):
        if "qpdf-kaputt" in str(path):
            raise pikepdf.PdfError("simulated: qpdf cannot read this file")
        return opener(path, *args, **kwargs)

    monkeypatch.setattr(pikepdf, "open", refuse)
    run = make_archive(workspace)
    (placement,) = run.placements
    assert any("mit pypdf neu geschrieben" in n for n in placement.document.notes)
    assert placement.document.pdf.name.endswith(".repariert.pdf")
    assert "Rückantwort" in page_texts(run.volume)[2]
    assert hashes(returns) == before
    copy = run.volume.parent / run.volume.stem / "originals" / "KD-2022-IB-06534014 qpdf-kaputt.pdf"
    assert hashes(copy.parent)[copy.name] == before[copy.name]  # the original copy is as it came


def test_many_sources_are_merged(workspace, returns):
    """More sources than qpdf keeps open at once (it closes and reopens beyond 200)."""
    import img2pdf

    page = jpeg_bytes(3, size=(62, 88))
    text_pdf(returns / "KD-2022-IB-06534014.pdf", "Rückantwort")
    for i in range(260):
        (returns / f"KD-2022-VB-06534014 Seite {i:03d}.pdf").write_bytes(
            img2pdf.convert(unique_jpeg(page, str(i))))
    run = make_archive(workspace)
    assert len(run.placements) == 261
    index_pages = run.placements[0].first - 2
    assert index_pages > 1 and len(PdfReader(run.volume).pages) == 1 + index_pages + 261
    assert [p.first for p in run.placements] == list(range(2 + index_pages, 2 + index_pages + 261))


@pytest.mark.usefixtures("require_soffice")
def test_letters_printed_by_kdigital_come_back_and_are_archived(workspace, returns):
    letters = make_letters(workspace, only=["06534014", "06534009", "06534001"], pdf=True)
    for pdf in letters.pdfs:  # the mayor's office sends our PDF back as it is, named as we named it
        shutil.copy(pdf, returns / pdf.name)
    run = make_archive(workspace)
    data = json.loads(run.manifest.read_text(encoding="utf-8"))
    # the reply form's QR code (page 3) matches; the two letter pages before it belong to it
    assert [(s["ags"], s["kind"], s["matched_by"], s["source_range"], s["split"]) for s in data["sources"]] == [
        (ags, "IB", "QR-Code", [1, 3], False) for ags in ("06534001", "06534009", "06534014")]
    assert all(s["notes"] == [] and s["flags"] == [] for s in data["sources"])
    assert len(PdfReader(run.volume).pages) == 2 + 3 * 3
    texts = page_texts(run.volume)
    assert "KD-2022-IB-06534014" in texts[-1] and "Rückantwort" in texts[-1]
    # letterhead and fonts the three letters share are stored once
    assert run.volume.stat().st_size < sum(p.stat().st_size for p in returns.iterdir())
