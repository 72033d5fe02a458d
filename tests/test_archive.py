"""The archive of signed returns: real PDFs, scans, e-mails and every bad case, through the CLI.

Every input is built here (no binary fixtures): text PDFs with pikepdf,
"scans" as JPEG/PNG/TIFF with Pillow and as image-only PDFs with img2pdf, a
PDF signed with a hand-built /Sig field (CMS from ``cryptography``), e-mails
with the standard library. Volumes are read back with pypdf and pikepdf.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import re
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pikepdf
import pytest
from click.testing import CliRunner
from PIL import Image
from pypdf import PdfReader

from kdigital.archive import make_archive
from kdigital.cli import cli
from kdigital.cli_archive import EXIT_MISMATCH, EXIT_REJECTED
from kdigital.identifiers import KINDS, Matcher, Party, Unmatched
from kdigital.manifest import verify_manifest

FIXED_TIME = dt.datetime(2022, 4, 11, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
MTIME = dt.datetime(2022, 4, 9, 12, 0).timestamp()


# --- builders ----------------------------------------------------------------------


def text_pdf(path: Path, *pages: str) -> Path:
    """A PDF with one page per string, the text in Helvetica (so it has a text layer)."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica,
                                                Encoding=pikepdf.Name.WinAnsiEncoding))
    for body in pages or ("Rückantwort",):
        lines = body.split("\n")
        ops = b"".join(b"BT /F1 12 Tf 72 %d Td (%s) Tj ET\n" % (760 - 18 * i, line.encode("cp1252"))
                       for i, line in enumerate(lines))
        pdf.pages.append(pikepdf.Page(pikepdf.Dictionary(
            Type=pikepdf.Name.Page, MediaBox=[0, 0, 595, 842], Contents=pdf.make_stream(ops),
            Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)))))
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.save(path)
    return path


def jpeg_bytes(seed: int, size=(248, 351), quality=85, dpi=30) -> bytes:
    """A noisy grey "scan" (noise, so every seed gives different bytes), A4 at ``dpi`` by default."""
    import io

    noise = random.Random(seed).randbytes(size[0] * size[1])
    image = Image.frombytes("L", size, noise).point(lambda v: 180 + v * 75 // 255)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, dpi=(dpi, dpi))
    return out.getvalue()


def image_file(path: Path, seed: int, fmt: str, frames: int = 1) -> Path:
    """A JPEG, PNG or (multi-page) TIFF "scan" at 30 dpi (A4-sized page, small file)."""
    import io

    images = [Image.open(io.BytesIO(jpeg_bytes(seed + i))).convert("L") for i in range(frames)]
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "JPEG":
        path.write_bytes(jpeg_bytes(seed))
    else:
        images[0].save(path, fmt, dpi=(30, 30), save_all=frames > 1, append_images=images[1:])
    return path


def scan_pdf(path: Path, seed: int, pages: int = 3) -> Path:
    """An image-only PDF, as a copier makes it: no text layer."""
    import img2pdf

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(img2pdf.convert([jpeg_bytes(seed + i) for i in range(pages)]))
    return path


def signed_pdf(path: Path, text: str, signer: str) -> Path:
    """A PDF with a real detached CMS signature in a hand-built /Sig field, covering the whole file."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import pkcs7
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, signer)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(dt.datetime(2022, 1, 1)).not_valid_after(dt.datetime(2030, 1, 1))
            .sign(key, hashes.SHA256()))
    text_pdf(path, text)
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        sig = pdf.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.Sig, Filter=pikepdf.Name("/Adobe.PPKLite"),
            SubFilter=pikepdf.Name("/adbe.pkcs7.detached"),
            M=pikepdf.String("D:20220408120000+02'00'"),
            ByteRange=pikepdf.Array([0, 1111111111, 2222222222, 3333333333]), Contents=pikepdf.String(b"\0" * 4096)))
        widget = pdf.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget, FT=pikepdf.Name.Sig, T=pikepdf.String("Signatur1"),
            V=sig, Rect=[0, 0, 0, 0], F=132, P=pdf.pages[0].obj))
        pdf.pages[0].Annots = pdf.make_indirect(pikepdf.Array([widget]))
        pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array([widget]), SigFlags=3)
        pdf.save(path, object_stream_mode=pikepdf.ObjectStreamMode.disable)
    data = bytearray(path.read_bytes())
    contents = re.search(rb"/Contents\s*<(0+)>", data)
    start, end = contents.start(1) - 1, contents.end(1) + 1
    placeholder = re.search(rb"/ByteRange\s*\[([^\]]*)\]", data)
    ranges = b"0 %d %d %d" % (start, end, len(data) - end)
    data[placeholder.start(1):placeholder.end(1)] = ranges.ljust(placeholder.end(1) - placeholder.start(1))
    cms = (pkcs7.PKCS7SignatureBuilder().set_data(bytes(data[:start] + data[end:]))
           .add_signer(cert, key, hashes.SHA256())
           .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]))
    data[start + 1:start + 1 + 2 * len(cms)] = cms.hex().encode()
    path.write_bytes(bytes(data))
    return path


def mail(path: Path, subject: str, attachments: list[tuple[str, bytes, str]]) -> Path:
    """An .eml as a mail client saves it: text, an inline logo, the attachments, an S/MIME signature."""
    message = EmailMessage()
    message["From"] = "Rathaus <poststelle@fronhausen.example>"
    message["To"] = "BLR-13.5@marburg-biedenkopf.de"
    message["Subject"] = subject
    message["Date"] = "Fri, 08 Apr 2022 10:15:00 +0200"
    message.set_content("Sehr geehrte Damen und Herren,\nanbei unsere Rückantwort.\n")
    message.add_alternative("<html><body><img src='cid:logo'></body></html>", subtype="html")
    message.get_payload()[1].add_related(jpeg_bytes(99, (20, 20)), "image", "jpeg", cid="<logo>",
                                         disposition="inline", filename="image001.jpg")
    for name, data, mime in attachments:
        maintype, subtype = mime.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    message.add_attachment(b"\x30\x00", maintype="application", subtype="pkcs7-signature", filename="smime.p7s")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(message))
    return path


def hashes(folder: Path) -> dict[str, str]:
    """sha256sum of every file below ``folder`` (relative path -> hex), with the system tool."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    if not files:
        return {}
    out = subprocess.run(["sha256sum", "--", *map(str, files)], capture_output=True, text=True, check=True).stdout
    result = {}
    for line in out.splitlines():
        digest, name = line.split(None, 1)
        result[str(Path(name.lstrip("*")).relative_to(folder))] = digest
    return result


def set_mtimes(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            os.utime(p, (MTIME, MTIME))


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def archive_files(ws) -> tuple[Path, Path]:
    pdfs = sorted((ws.outputs / "archive").glob("*.pdf"))
    manifests = sorted((ws.outputs / "archive").glob("*.manifest.json"))
    assert len(pdfs) == 1 and len(manifests) == 1, (pdfs, manifests)
    return pdfs[0], manifests[0]


def outline(path: Path) -> list[tuple[str, int, list[tuple[str, int]]]]:
    """(title, page index, children) of the top-level bookmarks."""
    with pikepdf.open(path) as pdf, pdf.open_outline() as o:
        def target(item):
            return pikepdf.Page(item.destination[0]).index if item.destination else None

        return [(i.title, target(i), [(c.title, target(c)) for c in i.children]) for i in o.root]


def page_texts(path: Path) -> list[str]:
    return [re.sub(r"\s+", " ", p.extract_text() or "") for p in PdfReader(path).pages]


@pytest.fixture
def returns(workspace) -> Path:
    folder = workspace.inputs / "returns"
    folder.mkdir()
    return folder


# --- the whole run ---------------------------------------------------------------


def good_returns(folder: Path) -> None:
    """Nine documents from seven parties, covering every way in."""
    text_pdf(folder / "scan 001.pdf", "Brief", "Rückantwort\nKennung: KD-2022-IB-06534014\nJa, wir haben Interesse.")
    scan_pdf(folder / "Post" / "KD-2022-IB-06534009.pdf", seed=1, pages=3)
    image_file(folder / "Post" / "06534001 Rückantwort.jpg", seed=10, fmt="JPEG")
    image_file(folder / "Post" / "KD-2022-VB-06534001.png", seed=20, fmt="PNG")
    image_file(folder / "Post" / "KD-2022-VB-06534002.tif", seed=30, fmt="TIFF", frames=2)
    signed_pdf(folder / "signiert" / "Vereinbarung Kreis KD-2022-VB-06534000.pdf",
               "Unterschriftsseite KD-2022-VB-06534000", "Erika Musterfrau")
    reply = text_pdf(folder / "tmp.pdf", "Rückantwort KD-2022-IB-06534003")
    mail(folder / "Mail" / "AW Interessensbekundung.eml", "AW: Interessensbekundung",
         [("Rückantwort Bad Endbach.pdf", reply.read_bytes(), "application/pdf")])
    reply.unlink()
    # the same scan again, under a name with spaces, umlauts and brackets
    (folder / "Marburg [Kopie] (2) – Rückantwort.pdf").write_bytes((folder / "scan 001.pdf").read_bytes())
    text_pdf(folder / "Münchhausen Rückantwort [final] (1).pdf", "Rückantwort KD-2022-IB-06534015")
    set_mtimes(folder)


def test_archive_writes_volume_manifest_and_originals(workspace, returns):
    good_returns(returns)
    before = hashes(returns)
    result = invoke("-w", workspace.root, "archive")
    assert result.exit_code == 0, result.output
    assert hashes(returns) == before  # inputs byte-identical

    volume, manifest_path = archive_files(workspace)
    assert re.fullmatch(r"KD-2022_\d{4}-\d\d-\d\d_1\.pdf", volume.name)
    name = volume.name[:-4]
    data = json.loads(manifest_path.read_text(encoding="utf-8"))
    sources = data["sources"]
    assert len(sources) == 9 and all(s["verdict"].startswith("accepted") for s in sources)

    # manifest hashes are sha256sum of the sources; the copies are the same bytes
    archived = hashes(workspace.outputs / "archive")
    for s in sources:
        relative = str(Path(s["path"]).relative_to("inputs/returns"))
        assert s["file_sha256"] == before[relative], s["path"]
        assert s["size"] > 0
        assert archived[s["copy"]] == s["sha256"]
    assert archived[volume.name] == data["volume"]["sha256"]
    assert data["kdigital_version"] and data["created"] and data["campaign"] == "KD-2022"

    # the e-mail: its attachment went in, the logo and the S/MIME signature did not
    by_party = {}
    for s in sources:
        by_party.setdefault((s["ags"], s["kind"]), []).append(s)
    (attached,) = by_party[("06534003", "IB")]
    assert attached["part"] == "Rückantwort Bad Endbach.pdf" and attached["path"].endswith(".eml")
    assert attached["received"] == "2022-03-30" and attached["received_from"] == "Eingang laut Verzeichnis"
    assert archived[attached["container_copy"]] == attached["file_sha256"]
    # a VB scan: the date of the file (the roster's Eingang is the reply form's)
    (tiff,) = by_party[("06534002", "VB")]
    assert tiff["received"] == "2022-04-09" and tiff["form"] == "TIFF" and tiff["source_pages"] == 2
    # duplicates: both kept, both flagged
    marburg = by_party[("06534014", "IB")]
    assert [s["verdict"] for s in marburg] == ["accepted-duplicate"] * 2
    assert marburg[1]["duplicate"]["same_bytes_as"] == marburg[0]["path"]
    assert marburg[0]["matched_by"] == "Kennung im Text"
    # the signed PDF
    (signed,) = by_party[("06534000", "VB")]
    assert signed["signature"]["status"] == "signed" and "Erika Musterfrau" in signed["signature"]["signers"]
    assert signed["signature"]["covers_whole_file"] is True
    assert signed["volume_pages"][0] == signed["volume_pages"][1]
    assert set(sources[0]["checks"]) == {"two_signatures", "seal", "paper_original", "checked_by", "checked_on"}

    # the volume read back: cover, index, then the returns in AGS order
    reader = PdfReader(volume)
    front = 1 + 1  # cover and one index page
    expected_pages = front + 1 + 1 + 1 + 2 + 1 + 3 + 2 + 2 + 1  # the signed PDF: one notice page
    assert len(reader.pages) == expected_pages
    texts = page_texts(volume)
    assert "Archiv der Rückläufe" in texts[0] and f"Band {name}" in texts[0]
    # the cover's lines are complete: wrapped, never cut with '…'
    assert "(Seite 1 Deckblatt, Seite 2 Verzeichnis)" in texts[0] and "…" not in texts[0]
    index = texts[1]
    assert "Verzeichnis der Rückläufe" in index
    for s in sources:
        assert s["ags"] in index and s["sha256"][:16] in index
    assert "Universitätsstadt Marburg" in index and "Duplikat 1/2" in index and "Duplikat 2/2" in index
    assert "Gemeinde Münchhausen" in index and "30.03.2022" in index
    notice = texts[signed["volume_pages"][0] - 1]
    assert "Digital signiertes Dokument" in notice and "Erika Musterfrau" in notice
    assert f"{name}/originals/signiert/Vereinbarung Kreis KD-2022-VB-06534000.pdf" in notice
    assert "KD-2022-IB-06534015" in texts[by_party[("06534015", "IB")][0]["volume_pages"][0] - 1]

    # the signed original rides along unchanged as an attachment
    with pikepdf.open(volume) as pdf:
        (attachment,) = pdf.attachments.values()
        assert hashlib.sha256(attachment.get_file().read_bytes()).hexdigest() == signed["sha256"]
        info = pdf.docinfo
        assert str(info.Title) == f"Rückläufe KD-2022 – Band {name}"
        assert "Kreisausschuss" in str(info.Author) and "KD-2022" in str(info.Subject)
        assert "06534014" in str(info.Keywords) and str(info.CreationDate).startswith("D:20")

    # one bookmark per party (AGS order), one child per document
    marks = outline(volume)
    assert [m[0] for m in marks] == ["06534000 Landkreis (Kreisausschuss)", "06534001 Stadt Amöneburg",
                                     "06534002 Gemeinde Angelburg", "06534003 Gemeinde Bad Endbach",
                                     "06534009 Gemeinde Fronhausen", "06534014 Universitätsstadt Marburg",
                                     "06534015 Gemeinde Münchhausen"]
    amoeneburg = marks[1][2]
    assert [c[0] for c in amoeneburg] == ["Rückantwort Interessensbekundung – Eingang 28.03.2022",
                                          "Vereinbarung (Unterschriftsseite) – Eingang 09.04.2022"]
    assert [c[1] + 1 for c in amoeneburg] == [by_party[("06534001", k)][0]["volume_pages"][0] for k in ("IB", "VB")]
    assert [c[0].endswith("Duplikat 1/2") for c in marks[5][2]] == [True, False]

    # the table
    assert "Rückantwort (IB)" in result.stdout and "Vereinbarung (VB)" in result.stdout
    assert re.search(r"06534014\s+Universitätsstadt Marburg\s+2× \(doppelt\)\s+fehlt", result.stdout)
    # a signature page is expected only from those who said ja (14) and the district: 15
    assert re.search(r"06534004\s+Stadt Biedenkopf\s+fehlt\s+–\n", result.stdout)  # no answer yet
    assert re.search(r"06534022\s+Gemeinde Wohratal\s+fehlt\s+–\n", result.stdout)  # said nein
    assert re.search(r"06534002\s+Gemeinde Angelburg\s+fehlt\s+eingegangen\n", result.stdout)  # nein, sent anyway
    assert re.search(r"06534013\s+Gemeinde Lohra\s+fehlt\s+fehlt\n", result.stdout)  # said ja
    assert re.search(r"06534000\s+Landkreis \(Kreisausschuss\)\s+–\s+eingegangen", result.stdout)
    assert re.search(r"eingegangen\s+5 von 22\s+2 von 15 \(\+1 nicht erwartet\)", result.stdout)

    # the CSV: one row for the volume and one per source
    csv_text = manifest_path.with_suffix("").with_suffix(".manifest.csv").read_bytes()
    assert csv_text.startswith(b"\xef\xbb\xbf")
    rows = csv_text.decode("utf-8-sig").splitlines()
    assert rows[0].startswith("Eintrag;Datei;Anhang;") and "Dienstsiegel vorhanden" in rows[0]
    assert len(rows) == 1 + 1 + len(sources) and rows[1].startswith(f"Band;{volume.name};")

    # verify passes, then fails after one byte of the volume changed
    result = invoke("verify", manifest_path)
    assert result.exit_code == 0, result.output
    assert "Alle 20 Prüfsummen stimmen." in result.stdout  # volume, 9 copies + the e-mail, 9 source files = 20
    data_bytes = bytearray(volume.read_bytes())
    data_bytes[len(data_bytes) // 2] ^= 0x01
    volume.write_bytes(bytes(data_bytes))
    result = invoke("verify", manifest_path)
    assert result.exit_code == EXIT_MISMATCH
    assert re.search(rf"ABWEICHUNG\s+Band\s+{re.escape(volume.name)}", result.stdout)
    assert "1 von 20 Prüfungen fehlgeschlagen" in result.stderr


def test_verify_skips_cleared_sources_and_misses_copies(workspace, returns):
    text_pdf(returns / "KD-2022-IB-06534014.pdf", "x")
    text_pdf(returns / "KD-2022-IB-06534009.pdf", "y")
    run = make_archive(workspace)
    (returns / "KD-2022-IB-06534014.pdf").unlink()  # archived, then cleared away: fine
    check = verify_manifest(run.manifest)
    assert check.ok
    statuses = {Path(c.path).name: c.status for c in check.checks if c.what == "Quelle"}
    assert statuses == {"KD-2022-IB-06534014.pdf": "nicht mehr vorhanden (übersprungen)",
                        "KD-2022-IB-06534009.pdf": "stimmt"}
    (returns / "KD-2022-IB-06534009.pdf").write_bytes(b"%PDF-1.4 changed")  # changed source: reported
    copy = next((run.volume.parent / run.volume.stem / "originals").iterdir())
    copy.unlink()  # an archived copy gone: reported
    result = invoke("verify", run.manifest)
    assert result.exit_code == EXIT_MISMATCH
    assert re.search(r"ABWEICHUNG\s+Quelle\s+inputs/returns/KD-2022-IB-06534009.pdf", result.stdout)
    assert re.search(rf"fehlt\s+Kopie\s+.*{re.escape(copy.name)}", result.stdout)


def test_verify_refuses_a_file_that_is_no_manifest(tmp_path):
    other = tmp_path / "x.json"
    other.write_text('{"a": 1}')
    result = invoke("verify", other)
    assert result.exit_code == 1 and "kein kdigital-Archivmanifest" in result.stderr
    result = invoke("verify", tmp_path / "fehlt.json")
    assert result.exit_code == 1 and "nicht gefunden" in result.stderr


# --- bad input ----------------------------------------------------------------------


def bad_returns(folder: Path) -> dict[str, str]:
    """Every bad case of the issue; file name -> words the reason must contain (None: accepted)."""
    good = text_pdf(folder / "KD-2022-IB-06534014.pdf", "Rückantwort KD-2022-IB-06534014").read_bytes()
    (folder / "leer.pdf").write_bytes(b"")
    (folder / "KD-2022-IB-06534009 abgeschnitten.pdf").write_bytes(good[: len(good) // 2])
    (folder / "KD-2022-IB-06534008 download.pdf").write_bytes(
        b"<!DOCTYPE html><html><body>Sitzung abgelaufen</body></html>")
    (folder / "KD-2022-IB-06534007 scan.pdf").write_bytes(jpeg_bytes(5))  # a JPEG named .pdf: accepted
    (folder / "KD-2022-IB-06534010 Foto.jpg").write_bytes(jpeg_bytes(6)[:3000])
    for ags, user in (("06534006", "geheim"), ("06534005", "")):  # AES-256; the second opens without password
        plain = text_pdf(folder / "tmp" / f"{ags}.pdf", f"Rückantwort KD-2022-IB-{ags}")
        with pikepdf.open(plain) as pdf:
            name = "geschützt" if user else "nur Rechte"
            pdf.save(folder / f"KD-2022-IB-{ags} {name}.pdf",
                     encryption=pikepdf.Encryption(user=user, owner="geheim", aes=True, R=6))
        plain.unlink()
    (folder / "tmp").rmdir()
    xref = text_pdf(folder / "KD-2022-IB-06534004 xref.pdf", "Rückantwort KD-2022-IB-06534004").read_bytes()
    start = xref.rindex(b"startxref")
    (folder / "KD-2022-IB-06534004 xref.pdf").write_bytes(xref[:start] + b"startxref\n99999\n%%EOF\n")
    text_pdf(folder / "KD-2022-IB-06534099.pdf", "Rückantwort")
    text_pdf(folder / "Scan_20220408.pdf", "Sehr geehrte Damen und Herren")
    text_pdf(folder / "06534003.pdf", "ohne Art")
    text_pdf(folder / "KD-2021-IB-06534002.pdf", "alte Kampagne")
    text_pdf(folder / "beide.pdf", "KD-2022-IB-06534001", "KD-2022-IB-06534002")
    (folder / "notiz.txt").write_text("Bitte Rückantwort von Lahntal nachfordern")
    mail(folder / "ohne Anhang.eml", "Frage", [])
    return {
        "KD-2022-IB-06534014.pdf": None,
        "KD-2022-IB-06534007 scan.pdf": None,
        "KD-2022-IB-06534005 nur Rechte.pdf": None,
        "KD-2022-IB-06534004 xref.pdf": None,
        "leer.pdf": "leere Datei (0 Byte)",
        "KD-2022-IB-06534009 abgeschnitten.pdf": "unvollständig: das Dateiende fehlt",
        "KD-2022-IB-06534010 Foto.jpg": "beschädigtes oder unvollständiges JPEG-Bild",
        "KD-2022-IB-06534008 download.pdf": "keine PDF, sondern eine Webseite (HTML)",
        "KD-2022-IB-06534006 geschützt.pdf": "passwortgeschützt",
        "KD-2022-IB-06534099.pdf": "unbekannte Kommune: AGS 06534099",
        "Scan_20220408.pdf": "keine Kennung",
        "06534003.pdf": "Dokumentart nicht erkennbar",
        "KD-2021-IB-06534002.pdf": "gehört nicht zur Kampagne KD-2022",
        "beide.pdf": "mehrdeutig",
        "notiz.txt": "weder PDF noch Bild",
        "ohne Anhang.eml": "E-Mail ohne PDF- oder Bildanhang",
    }


def agreement_issued(ws) -> None:
    """Record in the ledger that the agreement's signature pages were generated (as `kdigital agreement` does)."""
    from kdigital.ledger import Ledger

    with Ledger.open(ws.root) as ledger:
        ledger.record("generated", ags="06534014", kind="VB", campaign="KD-2022", file="vb.pdf", sha256="0" * 64)


def test_bad_files_are_rejected_with_reasons_and_the_rest_archived(workspace, returns):
    expected = bad_returns(returns)
    agreement_issued(workspace)  # so a bare AGS may be a reply form or a signature page: not assumed
    before = hashes(returns)
    result = invoke("-w", workspace.root, "archive")
    assert result.exit_code == EXIT_REJECTED, result.output
    assert hashes(returns) == before  # rejected files stay where they are, unchanged
    rejected = {name: reason for name, reason in expected.items() if reason}
    assert f"Abgelehnt ({len(rejected)})" in result.stdout
    for name, reason in rejected.items():
        assert re.search(rf"inputs/returns/{re.escape(name)}: [^\n]*{re.escape(reason)}", result.stdout), name
    assert f"{len(rejected)} Datei(en) abgelehnt" in result.stderr
    assert "Band der übrigen ist geschrieben" in result.stderr
    assert "Warnung:" in result.stderr and "repariert" in result.stderr  # the broken xref table
    assert "Traceback" not in result.output

    volume, manifest_path = archive_files(workspace)
    data = json.loads(manifest_path.read_text(encoding="utf-8"))
    verdicts = {Path(s["path"]).name: s for s in data["sources"]}
    assert set(verdicts) == set(expected)
    for name, reason in expected.items():
        assert (verdicts[name]["verdict"] == "rejected") == bool(reason), name
    # a rejection whose reason names an AGS carries it
    assert {name: verdicts[name]["ags"] for name in ("06534003.pdf", "KD-2022-IB-06534099.pdf", "leer.pdf",
                                                    "beide.pdf")} == {
        "06534003.pdf": "06534003", "KD-2022-IB-06534099.pdf": "06534099", "leer.pdf": None, "beide.pdf": None}
    originals = volume.parent / volume.stem / "originals"
    assert sorted(p.name for p in originals.iterdir()) == sorted(n for n, r in expected.items() if not r)
    assert any("repariert" in n for n in verdicts["KD-2022-IB-06534004 xref.pdf"]["notes"])
    assert verdicts["KD-2022-IB-06534007 scan.pdf"]["form"] == "JPEG"
    assert any("enthält aber ein JPEG-Bild" in n for n in verdicts["KD-2022-IB-06534007 scan.pdf"]["notes"])
    # the permissions-only PDF went in readable (decrypted in the volume), its original stays encrypted
    assert len(PdfReader(volume).pages) == 2 + 4
    first_page = verdicts["KD-2022-IB-06534005 nur Rechte.pdf"]["volume_pages"][0]
    assert "KD-2022-IB-06534005" in page_texts(volume)[first_page - 1]
    assert PdfReader(originals / "KD-2022-IB-06534005 nur Rechte.pdf").is_encrypted
    # the rejected files are listed in the volume's index too
    index = " ".join(page_texts(volume)[1:2])
    assert "Nicht aufgenommen (12)" in index and "leere Datei (0 Byte)" in index
    assert invoke("verify", manifest_path).exit_code == 0


def test_only_rejected_files_write_no_volume(workspace, returns):
    (returns / "leer.pdf").write_bytes(b"")
    result = invoke("-w", workspace.root, "archive")
    assert result.exit_code == EXIT_REJECTED
    assert "Kein Band geschrieben" in result.stdout and "leer.pdf: leere Datei" in result.stdout
    assert list((workspace.outputs / "archive").iterdir()) == []


def test_missing_or_empty_returns_folder_is_a_clear_error(workspace):
    result = invoke("-w", workspace.root, "archive")
    assert result.exit_code == 1 and "Eingangsordner inputs/returns fehlt" in result.stderr
    (workspace.inputs / "returns").mkdir()
    (workspace.inputs / "returns" / ".DS_Store").write_bytes(b"x")
    result = invoke("-w", workspace.root, "archive")
    assert result.exit_code == 1 and "keine Dateien" in result.stderr


def test_returns_option_reads_another_folder_recursively(workspace, tmp_path):
    folder = tmp_path / "Postfach Rückläufe"
    text_pdf(folder / "a" / "b" / "KD-2022-IB-06534014.pdf", "x")
    result = invoke("-w", workspace.root, "archive", "--returns", folder)
    assert result.exit_code == 0, result.output
    _, manifest_path = archive_files(workspace)
    (source,) = json.loads(manifest_path.read_text(encoding="utf-8"))["sources"]
    assert source["path"] == (folder / "a" / "b" / "KD-2022-IB-06534014.pdf").as_posix()
    assert source["copy"].endswith("/originals/a/b/KD-2022-IB-06534014.pdf")


# --- reruns, interrupts, size ----------------------------------------------------------


def page_fingerprints(path: Path) -> list[str]:
    """Per page: hash of its content (the volume's own name left out) and of every image it shows."""
    result = []
    with pikepdf.open(path) as pdf:
        for page in pdf.pages:
            digest = hashlib.sha256()
            contents = page.Contents if isinstance(page.Contents, pikepdf.Array) else [page.Contents]
            for stream in contents:
                digest.update(stream.read_bytes().replace(path.stem.encode(), b"<Band>"))
            for name, image in sorted(page.Resources.get("/XObject", {}).items()):
                digest.update(name.encode() + image.read_raw_bytes())
            result.append(digest.hexdigest())
    return result


def test_rerun_gives_the_same_pages_and_outline_and_never_overwrites(workspace, returns):
    good_returns(returns)
    first = make_archive(workspace, now=FIXED_TIME)
    first_bytes = first.volume.read_bytes()
    second = make_archive(workspace, now=FIXED_TIME)
    assert first.volume.name == "KD-2022_2022-04-11_1.pdf" and second.volume.name == "KD-2022_2022-04-11_2.pdf"
    assert first.volume.read_bytes() == first_bytes  # the earlier volume is untouched
    assert len(PdfReader(first.volume).pages) == len(PdfReader(second.volume).pages)
    assert outline(first.volume) == outline(second.volume)
    one, two = page_fingerprints(first.volume), page_fingerprints(second.volume)
    assert one[1:] != [] and one[1:] == two[1:]  # everything but the cover (which names its volume)
    strip = lambda s: {k: v for k, v in s.items() if k not in ("copy", "container_copy")}  # noqa: E731
    sources = [json.loads(r.manifest.read_text(encoding="utf-8"))["sources"] for r in (first, second)]
    assert [strip(s) for s in sources[0]] == [strip(s) for s in sources[1]]


def test_status_table_counts_returns_archived_in_an_earlier_volume(workspace, returns):
    """A second run, its returns folder cleared of what the first archived, agrees with ``kdigital status``."""
    import shutil

    from kdigital.archive import classify_returns
    from kdigital.ledger import Ledger

    text_pdf(returns / "KD-2022-IB-06534014.pdf", "Rückantwort")
    image_file(returns / "KD-2022-VB-06534001.png", seed=20, fmt="PNG")
    assert invoke("-w", workspace.root, "intake").exit_code == 0
    assert not Ledger.exists(workspace.root)  # intake only reads: it never creates the ledger
    first = make_archive(workspace, now=FIXED_TIME)
    assert first.volume.name == "KD-2022_2022-04-11_1.pdf"
    shutil.rmtree(returns)
    text_pdf(returns / "KD-2022-IB-06534003.pdf", "Rückantwort")
    with Ledger.open(workspace.root) as ledger:  # entered otherwise (no volume), and another campaign's
        ledger.record("returned", ags="06534009", kind="IB", campaign="KD-2022", file="Fax",
                      detail={"received": "2022-04-05"})
        ledger.record("returned", ags="06534010", kind="IB", campaign="KD-2021", file="alt.pdf")

    result = invoke("-w", workspace.root, "archive")
    assert result.exit_code == 0, result.output
    earlier = r"früher \(Band KD-2022_2022-04-11_1\)"
    assert re.search(rf"06534014\s+Universitätsstadt Marburg\s+{earlier}\s+fehlt\n", result.stdout)
    assert re.search(rf"06534001\s+Stadt Amöneburg\s+fehlt\s+{earlier}\n", result.stdout)  # VB column stays
    assert re.search(r"06534003\s+Gemeinde Bad Endbach\s+eingegangen\s", result.stdout)  # this run's
    assert re.search(r"06534009\s+Gemeinde Fronhausen\s+früher \(Eingang 05\.04\.2022\)\s", result.stdout)
    assert re.search(r"06534010\s+\S.*?\s+fehlt\s", result.stdout)
    assert re.search(r"eingegangen\s+3 von 22 \(davon 2 früher\)\s+1 von 15 \(davon 1 früher\)\n", result.stdout)
    assert "früher: laut Kampagnenprotokoll schon in einem früheren Band archiviert" in result.stdout

    # archived again: both, each as what it is; intake reads the same from the ledger
    (returns / "KD-2022-IB-06534003.pdf").unlink()
    text_pdf(returns / "KD-2022-IB-06534014.pdf", "Rückantwort")
    _, kinds, status = classify_returns(workspace)
    marburg = next(row for row in status if row.party.ags == "06534014")
    assert kinds == ("IB", "VB") and marburg.cell("IB") == "eingegangen + früher (Band KD-2022_2022-04-11_1)"
    bad_endbach = next(row for row in status if row.party.ags == "06534003")
    assert re.fullmatch(r"früher \(Band KD-2022_\d{4}-\d\d-\d\d_1\)", bad_endbach.cell("IB"))


def test_interrupt_or_crash_leaves_no_partial_volume(workspace, returns, monkeypatch):
    good_returns(returns)
    before = hashes(returns)

    save = pikepdf.Pdf.save

    def interrupted(self, target, *args, **kwargs):
        save(self, target, *args, **kwargs)
        if Path(target).name.startswith("KD-2022_"):  # the volume: cut it short, as a killed write would
            with open(target, "r+b") as fh:
                fh.truncate(Path(target).stat().st_size // 2)
            raise KeyboardInterrupt

    monkeypatch.setattr(pikepdf.Pdf, "save", interrupted)
    result = invoke("-w", workspace.root, "archive")
    assert result.exit_code == 130 and "Abgebrochen" in result.stderr
    assert list((workspace.outputs / "archive").iterdir()) == []  # no volume, no staging folder

    import kdigital.manifest

    def crash(*args, **kwargs):
        raise OSError("Datenträger voll")

    monkeypatch.undo()
    monkeypatch.setattr(kdigital.manifest, "write_manifest", crash)
    with pytest.raises(OSError, match="Datenträger voll"):
        make_archive(workspace)
    assert list((workspace.outputs / "archive").iterdir()) == []
    assert hashes(returns) == before


def test_identical_objects_are_stored_once(workspace, returns):
    scan = scan_pdf(returns / "KD-2022-IB-06534014.pdf", seed=7, pages=3)
    (returns / "KD-2022-IB-06534014 nochmal.pdf").write_bytes(scan.read_bytes())
    image_file(returns / "KD-2022-IB-06534009.jpg", seed=8, fmt="JPEG")  # page 2 of the scan, photographed
    image_file(returns / "KD-2022-IB-06534001.jpg", seed=50, fmt="JPEG")
    run = make_archive(workspace)
    sources = sum(p.stat().st_size for p in returns.iterdir())
    size = run.volume.stat().st_size
    assert size < sources - 0.9 * scan.stat().st_size  # the second copy costs (almost) nothing
    with pikepdf.open(run.volume) as pdf:
        images = {img.objgen for page in pdf.pages for img in page.Resources.get("/XObject", {}).values()}
        assert len(pdf.pages) == 2 + 3 + 3 + 1 + 1
        assert len(images) == 3 + 1  # the scan's three pages (once) and the other photo


def test_volume_is_not_larger_than_its_sources_plus_the_index(workspace, returns):
    for i, ags in enumerate(("06534001", "06534002", "06534003")):
        scan_pdf(returns / f"KD-2022-IB-{ags}.pdf", seed=20 + i)
        text_pdf(returns / f"KD-2022-VB-{ags}.pdf", f"Unterschriftsseite KD-2022-VB-{ags}")
    image_file(returns / "KD-2022-VB-06534004.jpg", seed=40, fmt="JPEG")
    run = make_archive(workspace)
    sources = sum(p.stat().st_size for p in returns.iterdir())
    with pikepdf.open(run.volume) as pdf:
        front = pikepdf.new()
        for page in pdf.pages[:2]:
            front.pages.append(page)
        import io

        buffer = io.BytesIO()
        front.save(buffer)
    assert run.volume.stat().st_size <= sources + len(buffer.getvalue())


def test_the_cover_wraps_its_lines_instead_of_cutting_them():
    from types import SimpleNamespace

    from kdigital.textpages import content
    from kdigital.volume import VolumeInfo, _cover

    placements = [SimpleNamespace(document=SimpleNamespace(party=SimpleNamespace(ags=f"065340{n % 22 + 1:02d}"),
                                                           signature=None), duplicate=n >= 22)
                  for n in range(421)]
    info = VolumeInfo("KD-2022_2022-04-11_1", "KD-2022", FIXED_TIME, "0.1.0", "Der Kreisausschuss")
    lines = _cover(info, placements, [], 12, 1275)
    shown = " ".join(t.text for item in lines for t in item.texts)
    assert "421 Dokumente von 22 Parteien auf 1275 Seiten (Seite 1 Deckblatt, Seiten 2–13 Verzeichnis)" in shown
    assert "…".encode("cp1252") not in content(lines)  # nothing cut when drawn


def test_text_pages_wrap_long_words_instead_of_cutting_them():
    from kdigital.textpages import width, wrap

    path = "outputs/archive/KD-2022_2022-04-11_1/originals/" + "Unterordner/" * 12 + "Rückantwort.pdf"
    lines = wrap(f"Das Original liegt unter {path} im Archiv.", 10, 200)
    assert len(lines) > 3 and all(width(item, 10) <= 200 for item in lines)
    assert "".join(lines).replace(" ", "") == f"Das Original liegt unter {path} im Archiv.".replace(" ", "")
    assert not any("…" in item for item in lines)


# --- matching -----------------------------------------------------------------------


def test_a_bare_ags_is_a_reply_form_until_an_agreement_was_generated(workspace, returns):
    text_pdf(returns / "06534011.pdf", "Stadt Kirchhain, 06.04.2022")
    run = make_archive(workspace)
    assert run.rejected == []
    (placement,) = run.placements
    d = placement.document
    assert (d.party.ags, d.kind, d.matched_by) == ("06534011", "IB", "AGS im Dateinamen, Dokumentart angenommen")
    assert d.notes == ("Dokumentart nicht angegeben (weder Dateiname noch Text nennen sie) – als Rückantwort (IB) "
                       "angenommen, weil noch keine Vereinbarung erzeugt wurde (nichts in outputs/agreement, nichts "
                       "im Kampagnenprotokoll) – bitte prüfen",)


@pytest.mark.parametrize("issued", ["file", "ledger"])
def test_a_bare_ags_is_rejected_once_an_agreement_was_generated_unless_a_word_names_the_kind(
        workspace, returns, issued):
    if issued == "file":
        text_pdf(workspace.outputs / "agreement" / "unterschriften" / "06534014_marburg_cec14579.pdf", "VB")
    else:
        agreement_issued(workspace)
    text_pdf(returns / "06534011.pdf", "Stadt Kirchhain, 06.04.2022")
    text_pdf(returns / "06534012.pdf", "Unterschriftenseite (Ausfertigung) zur Vereinbarung")
    text_pdf(returns / "06534013.pdf", "Rückantwort Interessensbekundung")
    text_pdf(returns / "06534015 Unterschrift.pdf", "ohne Kennung")
    text_pdf(returns / "06534016.pdf", "Rückantwort", "Vereinbarung")  # both kinds named: unclear
    run = make_archive(workspace)
    found = {p.document.party.ags: (p.document.kind, p.document.matched_by) for p in run.placements}
    assert found == {"06534012": ("VB", "AGS im Dateinamen, Dokumentart im Text"),
                     "06534013": ("IB", "AGS im Dateinamen, Dokumentart im Text"),
                     "06534015": ("VB", "AGS im Dateinamen, Dokumentart im Namen")}
    where = "outputs/agreement/unterschriften/06534014_marburg_cec14579.pdf" if issued == "file" else \
        "Kampagnenprotokoll (ledger.sqlite)"
    reasons = {r.shown: r.reason for r in run.rejected}
    assert reasons == {
        "inputs/returns/06534011.pdf": "Dokumentart nicht erkennbar (AGS 06534011 gefunden; weder Dateiname noch Text "
                                       f"nennen sie): eine Vereinbarung ist bereits erzeugt ({where}), es kann "
                                       "Rückantwort oder Unterschriftsseite sein – Kennung wie KD-2022-IB-06534011 "
                                       "oder IB/KB/VB in den Dateinamen aufnehmen",
        "inputs/returns/06534016.pdf": "Dokumentart nicht erkennbar (AGS 06534016 gefunden; der Text nennt mehrere "
                                       f"(IB, VB)): eine Vereinbarung ist bereits erzeugt ({where}), es kann "
                                       "Rückantwort oder Unterschriftsseite sein – Kennung wie KD-2022-IB-06534016 "
                                       "oder IB/KB/VB in den Dateinamen aufnehmen"}
    rejected = {Path(s["path"]).name: s["ags"] for s in json.loads(run.manifest.read_text(encoding="utf-8"))["sources"]
                if s["verdict"] == "rejected"}
    assert rejected == {"06534011.pdf": "06534011", "06534016.pdf": "06534016"}
    csv_rows = run.csv.read_text(encoding="utf-8-sig").splitlines()
    assert any(row.startswith("abgelehnt;inputs/returns/06534011.pdf;") and ";06534011;" in row for row in csv_rows)


PARTIES = {a: Party(a, f"Kommune {a}") for a in ("06534001", "06534014")} | {
    "06534000": Party("06534000", "Landkreis", district=True)}


@pytest.mark.parametrize("name, text, expected", [
    ("KD-2022-IB-06534014.pdf", "", ("06534014", "IB", "Kennung im Dateinamen")),
    ("kd_2022_vb_06534001 (scan).pdf", "", ("06534001", "VB", "Kennung im Dateinamen")),
    ("scan.pdf", "Kennung KD - 2022 - IB - 06534014", ("06534014", "IB", "Kennung im Text")),
    ("06534014 Rückantwort.jpg", "", ("06534014", "IB", "AGS im Dateinamen, Dokumentart im Namen")),
    ("Vereinbarung_06534000_20220408.pdf", "", ("06534000", "VB", "AGS im Dateinamen, Dokumentart im Namen")),
    ("06534014 VB.pdf", "KD-2022-IB-06534014", ("06534014", "IB", "Kennung im Text, AGS im Dateinamen")),
])
def test_matcher_finds_party_and_kind(name, text, expected):
    party, kind, identifier, how = Matcher("KD-2022", PARTIES).assign(name, text, "")
    assert (party.ags, kind, how) == expected
    assert identifier == f"KD-2022-{kind}-{party.ags}"


@pytest.mark.parametrize("name, text, reason", [
    ("06534001.pdf", "KD-2022-IB-06534014", "mehrdeutig: Kennungen/AGS mehrerer Kommunen (06534001, 06534014)"),
    ("KD-2022-IB-06534014 KD-2022-VB-06534014.pdf", "", "mehrdeutig: mehrere Dokumentarten (IB, VB)"),
    ("Scan 20220408 12345678.pdf", "", "keine Kennung"),
    ("06534077 Rückantwort.pdf", "", "unbekannte Kommune: AGS 06534077"),
])
def test_matcher_reports_instead_of_guessing(name, text, reason):
    with pytest.raises(Unmatched, match=re.escape(reason)):
        Matcher("KD-2022", PARTIES).assign(name, text, "")


def test_kinds_cover_the_documents_we_print():
    from kdigital.letters import KIND

    assert KIND in KINDS and set(KINDS) == {"IB", "KB", "VB"}


# --- the command line ---------------------------------------------------------------


@pytest.mark.parametrize("command", ["archive", "intake", "verify"])
def test_commands_have_german_help_with_example(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert "Aufruf:" in result.stdout and "Beispiel:" in result.stdout and "Diese Hilfe anzeigen" in result.stdout
    assert "Rückgabewert:" in result.stdout


def test_help_imports_no_heavy_library():
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "import kdigital.cli_archive\n"
        "from kdigital.cli import cli\n"
        "for args in (['--help'], ['archive', '--help'], ['intake', '--help'], ['verify', '--help']):\n"
        "    assert CliRunner().invoke(cli, args).exit_code == 0\n"
        "heavy = ('pypdf', 'pikepdf', 'img2pdf', 'PIL', 'cryptography', 'openpyxl', 'lxml', 'email.parser',\n"
        "         'kdigital.archive', 'kdigital.intake', 'kdigital.volume', 'kdigital.manifest', 'kdigital.scan',\n"
        "         'pypdfium2', 'zxingcpp', 'numpy')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# --- the campaign ledger ---------------------------------------------------------------


def test_ledger_records_returned_and_archived_once_the_volume_is_published(workspace, returns, monkeypatch, caplog):
    from kdigital.ledger import Ledger

    text_pdf(returns / "KD-2022-IB-06534014.pdf", "Rückantwort")
    reply = text_pdf(returns / "tmp.pdf", "Rückantwort KD-2022-IB-06534003").read_bytes()
    (returns / "tmp.pdf").unlink()
    mail(returns / "AW.eml", "AW: Interessensbekundung", [("Bad Endbach.pdf", reply, "application/pdf")])

    import kdigital.manifest

    def crash(*args, **kwargs):
        raise OSError("Datenträger voll")

    with monkeypatch.context() as patch:  # a run that publishes nothing records nothing
        patch.setattr(kdigital.manifest, "write_manifest", crash)
        with pytest.raises(OSError, match="Datenträger voll"):
            make_archive(workspace, now=FIXED_TIME)
    with Ledger.open(workspace.root) as ledger:
        assert ledger.events() == []

    run = make_archive(workspace, now=FIXED_TIME)
    with Ledger.open(workspace.root) as ledger:
        returned, archived = ledger.events("returned"), ledger.events("archived")
    # the date received goes with the return: the event's own time is when the archive ran
    assert [(e.ags, e.kind, e.campaign, e.file, e.detail) for e in returned] == [
        ("06534003", "IB", "KD-2022", "inputs/returns/AW.eml",
         {"matched_by": "Text", "pages": [1, 1], "attachment": "Bad Endbach.pdf", "received": "2022-03-30",
          "received_from": "Eingang laut Verzeichnis"}),
        ("06534014", "IB", "KD-2022", "inputs/returns/KD-2022-IB-06534014.pdf",
         {"matched_by": "Dateiname", "pages": [1, 1], "received": "2022-03-30",
          "received_from": "Eingang laut Verzeichnis"})]
    assert [e.sha256 for e in returned] == [hashlib.sha256((returns / n).read_bytes()).hexdigest()
                                            for n in ("AW.eml", "KD-2022-IB-06534014.pdf")]
    assert [(e.ags, e.file, e.detail) for e in archived] == [
        ("06534003", run.volume.name, {"volume": run.volume.name, "pages": [3, 3]}),
        ("06534014", run.volume.name, {"volume": run.volume.name, "pages": [4, 4]})]
    assert {e.sha256 for e in archived} == {hashlib.sha256(run.volume.read_bytes()).hexdigest()}
    assert returned[0].time == FIXED_TIME

    # a ledger failing after the volume was published: the volume stays, nothing half recorded, a warning
    import sqlite3

    record = Ledger.record

    def fail_second(self, event, **kwargs):
        if event == "archived":
            raise sqlite3.OperationalError("disk I/O error")
        return record(self, event, **kwargs)

    monkeypatch.setattr(Ledger, "record", fail_second)
    import logging

    monkeypatch.setattr(logging.getLogger("kdigital"), "propagate", True)  # the CLI turns it off
    with caplog.at_level("WARNING", logger="kdigital"):
        second = make_archive(workspace, now=FIXED_TIME)
    assert second.volume.is_file() and "nicht im Kampagnenprotokoll" in caplog.text
    monkeypatch.undo()
    with Ledger.open(workspace.root) as ledger:
        assert len(ledger.events()) == 4


def test_files_read_side_by_side_give_what_one_process_gives(workspace, returns, tmp_path):
    from kdigital.archive import parties
    from kdigital.inputs import load_inputs
    from kdigital.intake import list_returns, read_returns

    good_returns(returns)
    bad_returns(returns)
    inputs = load_inputs(workspace)
    known = parties(inputs.roster, inputs.campaign)
    files = list_returns(returns)
    outcomes = []
    for workers in (1, 2):
        originals, work = tmp_path / f"o{workers}", tmp_path / f"w{workers}"
        originals.mkdir()
        work.mkdir()
        intake = read_returns(files, returns, known, "KD-2022", originals, work, workers=workers)
        outcomes.append((
            [(d.shown, d.part, d.identifier, d.route, d.sha256, d.pages, d.notes, d.pdf.relative_to(work if
              d.pdf.is_relative_to(work) else originals)) for d in intake.documents],
            [(r.shown, r.part, r.reason) for r in intake.rejected],
        ))
    assert len(outcomes[0][0]) >= 9 and len(outcomes[0][1]) >= 5
    assert outcomes[0] == outcomes[1]


def test_a_reading_worker_killed_from_outside_stops_the_run_with_a_message(workspace, returns, monkeypatch):
    import kdigital.intake as intake

    good_returns(returns)
    real = intake._read_file

    def dying(path, *args, **kwargs):
        if path.name == "scan 001.pdf":
            os._exit(9)  # as the out-of-memory killer would end it
        return real(path, *args, **kwargs)

    monkeypatch.setattr(intake, "_read_file", dying)
    before = hashes(returns)
    result = invoke("-w", workspace.root, "archive")
    assert result.exit_code == 1, result.output
    assert "Prüfprozess ist abgebrochen" in result.stderr
    assert hashes(returns) == before
    assert not list((workspace.outputs / "archive").glob("*.pdf"))
