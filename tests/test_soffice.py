"""Tests of kdigital.soffice against the real LibreOffice, with fake soffice scripts for faults."""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path

import docx
import pytest
from docx.enum.text import WD_BREAK
from pypdf import PdfReader

from kdigital import soffice
from kdigital.errors import MissingDependencyError
from kdigital.soffice import check_pdf, convert_to_pdf, find_soffice, soffice_version


@pytest.fixture(scope="session")
def real_soffice() -> str:
    """Path of the real soffice; skips without it, fails instead if KDIGITAL_REQUIRE_SOFFICE=1."""
    try:
        return find_soffice()
    except MissingDependencyError as exc:
        if os.environ.get("KDIGITAL_REQUIRE_SOFFICE") == "1":
            pytest.fail(f"KDIGITAL_REQUIRE_SOFFICE=1, aber: {exc}")
        pytest.skip(str(exc))


def ident(number: int) -> str:
    return f"KD-2022-IB-{6534010 + number:08d}"


def make_docx(path: Path, identifier: str, *, pages: int = 2) -> Path:
    """A small letter: a heading per page, the identifier on page 1."""
    document = docx.Document()
    document.add_heading(f"Schreiben {identifier}", level=1)
    document.add_paragraph(f"Kennung: {identifier}")
    document.add_paragraph("Sehr geehrte Damen und Herren, dies ist ein Testschreiben.")
    for page in range(2, pages + 1):
        document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        document.add_heading(f"Anlage {page - 1}", level=1)
        document.add_paragraph(f"Text auf Seite {page}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(path)
    return path


def make_docs(folder: Path, count: int) -> list[Path]:
    return [make_docx(folder / f"brief-{n}.docx", ident(n)) for n in range(count)]


@pytest.fixture
def fake(tmp_path, monkeypatch, real_soffice):
    """Build a bash script standing in for soffice (``$REAL`` is the real one) and point KDIGITAL_SOFFICE at it."""

    def build(body: str) -> Path:
        script = tmp_path / "fake-soffice"
        script.write_text(f"#!/bin/bash\nREAL={shlex.quote(real_soffice)}\n{body}\n")
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
        monkeypatch.setenv("KDIGITAL_SOFFICE", str(script))
        return script

    return build


def files_in(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


@pytest.fixture(scope="module")
def batch(tmp_path_factory, real_soffice):
    """Five two-page letters converted once with two workers; shared by the content tests."""
    root = tmp_path_factory.mktemp("batch")
    sources = make_docs(root / "in", 5)
    calls: list[int] = []
    result = convert_to_pdf(sources, root / "out", workers=2, progress=calls.append)
    return sources, root / "out", result, calls


# --- a real conversion -----------------------------------------------------------


def test_batch_converts_all_into_outdir(batch):
    sources, outdir, result, _ = batch
    assert result.failed == {}
    assert result.converted == {s: outdir / f"{s.stem}.pdf" for s in sources}
    assert files_in(outdir) == {f"{s.stem}.pdf" for s in sources}  # no staging left behind


def test_batch_pdfs_have_pages_and_identifier(batch):
    sources, _, result, _ = batch
    for n, source in enumerate(sources):
        assert check_pdf(result.converted[source], pages=2, contains=ident(n)) is None


def test_batch_pdfs_are_tagged_pdfa_2b_with_bookmarks(batch):
    _, _, result, _ = batch
    assert len(result.converted) == 5 and result.failed == {}
    for pdf in result.converted.values():
        reader = PdfReader(pdf)
        xmp = reader.xmp_metadata
        assert (xmp.pdfaid_part, xmp.pdfaid_conformance) == ("2", "B")
        root = reader.trailer["/Root"]
        assert root["/MarkInfo"]["/Marked"] == True  # noqa: E712 (a pypdf BooleanObject)
        assert "/StructTreeRoot" in root
        assert [item["/Title"] for item in reader.outline][-1] == "Anlage 1"


def test_progress_adds_up_to_converted(batch):
    _, _, result, calls = batch
    assert sum(calls) == len(result.converted) == 5
    assert all(n > 0 for n in calls)


def test_not_a_docx_fails_others_convert(tmp_path, real_soffice):
    good = make_docs(tmp_path / "in", 2)
    junk = tmp_path / "in" / "x.docx"
    junk.write_bytes(os.urandom(3000))  # soffice would render this as text
    missing = tmp_path / "in" / "fehlt.docx"
    result = convert_to_pdf([good[0], junk, missing, good[1]], tmp_path / "out")
    assert set(result.converted) == set(good)
    assert "keine DOCX-Datei" in result.failed[junk]
    assert "nicht gefunden" in result.failed[missing]
    assert files_in(tmp_path / "out") == {"brief-0.pdf", "brief-1.pdf"}


def test_docx_soffice_cannot_load_fails_without_retry(tmp_path, real_soffice):
    import zipfile

    broken = tmp_path / "in" / "kaputt.docx"
    broken.parent.mkdir()
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("[Content_Types].xml", "kein XML")
        archive.writestr("word/document.xml", "<kein")
    good = make_docx(tmp_path / "in" / "gut.docx", ident(1))
    result = convert_to_pdf([broken, good], tmp_path / "out")
    assert list(result.converted) == [good]
    assert result.failed[broken].startswith("LibreOffice hat keine PDF erzeugt")
    assert "source file could not be loaded" in result.failed[broken]


# --- faults ----------------------------------------------------------------------


def test_missing_soffice_override(tmp_path, monkeypatch):
    monkeypatch.setenv("KDIGITAL_SOFFICE", str(tmp_path / "gibt-es-nicht"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingDependencyError, match="apt-get install -y libreoffice-writer-nogui"):
        convert_to_pdf([make_docx(tmp_path / "a.docx", ident(1))], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_soffice_on_path(tmp_path, monkeypatch):
    monkeypatch.delenv("KDIGITAL_SOFFICE", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingDependencyError) as caught:
        find_soffice()
    assert str(caught.value) == (
        "LibreOffice (soffice) ist nicht installiert. "
        "Installation: apt-get install -y libreoffice-writer-nogui"
    )


def test_version(real_soffice):
    assert soffice_version().startswith("LibreOffice ")


def test_too_old_version_counts_as_missing(tmp_path, fake):
    fake('echo "LibreOffice 7.3.7.2 30(Build:2)"')
    with pytest.raises(MissingDependencyError, match="7.4 oder neuer"):
        convert_to_pdf([make_docx(tmp_path / "a.docx", ident(1))], tmp_path / "out")


def test_crash_once_is_retried(tmp_path, fake):
    # the first conversion call dies at once (mkdir is atomic: exactly one caller wins)
    fake(f'[[ $1 == --version ]] || ! mkdir "{tmp_path}/crashed" 2>/dev/null || exit 1\n'
         'exec "$REAL" "$@"')
    sources = make_docs(tmp_path / "in", 4)
    result = convert_to_pdf(sources, tmp_path / "out", workers=2)
    assert (tmp_path / "crashed").is_dir()
    assert result.failed == {}
    assert set(result.converted) == set(sources)
    assert files_in(tmp_path / "out") == {f"{s.stem}.pdf" for s in sources}


def test_document_crashing_soffice_does_not_take_others_down(tmp_path, fake):
    # converts the files before the first "gift" document, then "crashes" on it
    fake('args=(); files=0\n'
         'for a in "$@"; do\n'
         '  if [[ $a == *gift* ]]; then\n'
         '    (( files )) && "$REAL" "${args[@]}" >/dev/null 2>&1\n'
         '    echo "Absturz bei $a" >&2; exit 134\n'
         '  fi\n'
         '  args+=("$a"); [[ $a == *.docx ]] && files=$((files + 1))\n'
         'done\n'
         'exec "$REAL" "${args[@]}"')
    sources = make_docs(tmp_path / "in", 3)
    poison = make_docx(tmp_path / "in" / "gift.docx", ident(9))
    result = convert_to_pdf([sources[0], poison, *sources[1:]], tmp_path / "out", workers=1)
    assert set(result.converted) == set(sources)
    assert result.failed[poison] == (
        f"LibreOffice endete mit Code 134 (auch im zweiten Versuch); "
        f"letzte Meldung: Absturz bei {poison}"
    )


def test_always_crashing_soffice_fails_all_without_raising(tmp_path, fake):
    fake('echo "Segmentation fault (core dumped)" >&2; exit 1')
    sources = make_docs(tmp_path / "in", 3)
    calls: list[int] = []
    result = convert_to_pdf(sources, tmp_path / "out", progress=calls.append)
    assert result.converted == {}
    assert calls == []
    assert set(result.failed) == set(sources)
    for reason in result.failed.values():
        assert reason == (
            "LibreOffice endete mit Code 1 (auch im zweiten Versuch); "
            "letzte Meldung: Segmentation fault (core dumped)"
        )
    assert files_in(tmp_path / "out") == set()


def test_hanging_soffice_is_killed_with_its_children(tmp_path, fake, monkeypatch):
    monkeypatch.setattr(soffice, "_STARTUP_TIMEOUT", 0.5)
    fake('[[ $1 == --version ]] && { echo "LibreOffice 7.4.7.2"; exit 0; }\n'
         f'sleep 60 & echo $! >> "{tmp_path}/children"; wait')
    source = make_docx(tmp_path / "in" / "a.docx", ident(1))
    result = convert_to_pdf([source], tmp_path / "out", timeout_per_document=0.5)
    assert result.failed[source].startswith(
        "Zeitüberschreitung: LibreOffice nach 1 s abgebrochen (auch im zweiten Versuch)"
    )
    children = (tmp_path / "children").read_text().split()
    assert len(children) == 2  # first try and retry
    for pid in children:
        assert not _alive(int(pid))
    assert files_in(tmp_path / "out") == set()


def _alive(pid: int) -> bool:
    stat_file = Path(f"/proc/{pid}/stat")
    if stat_file.parent.parent.is_dir():  # Linux: a killed, unreaped child is a zombie
        return stat_file.exists() and stat_file.read_text().split(") ")[1][0] != "Z"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# --- arguments -------------------------------------------------------------------


def test_same_stem_in_two_folders_is_rejected(tmp_path):
    a = make_docx(tmp_path / "a" / "brief.docx", ident(1))
    b = make_docx(tmp_path / "b" / "brief.docx", ident(2))
    with pytest.raises(ValueError, match="brief.pdf"):
        convert_to_pdf([a, b], tmp_path / "out")


# --- check_pdf -------------------------------------------------------------------


def test_check_pdf_reports_in_german(batch, tmp_path):
    _, _, result, _ = batch
    pdf = next(iter(result.converted.values()))
    assert check_pdf(pdf) is None
    assert check_pdf(pdf, pages=3) == "Seitenzahl 2 statt 3"
    assert check_pdf(pdf, contains="KD-2022-IB-99999999") == (
        "Kennung KD-2022-IB-99999999 nicht im Text gefunden"
    )
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"kein PDF")
    assert check_pdf(junk).startswith("PDF lässt sich nicht öffnen: ")
