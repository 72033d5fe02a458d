"""The archive volume: every accepted return in one PDF, with cover, index, outline and metadata.

Merged by qpdf's own page merge (``qpdf --empty --pages …``, run in-process
through ``pikepdf.Job``), in memory that does not grow with the scans: it
copies the object structure of each page but leaves the stream data in the
source files until the volume is written, then reads one stream at a time,
and it closes and reopens sources when there are many. pikepdf's own page
copy (``pages.append``) would read every copied stream into memory at once.
Cover, index and notice pages are small PDFs written first and merged like
any source; outline, metadata and attachments are added to the merged
document before it is written, once.

Identical streams (the same image or font in two returns, a return sent
twice) are written once: each page's streams are hashed, one at a time, and
a stream equal to one seen before is replaced by that one.

A source split into several documents (a scan with several municipalities'
forms, see ``kdigital.scan``) is merged part by part (qpdf page ranges): each
part is a document of its own in the index and the outline.

A digitally signed PDF is never merged, since rewriting it would break the
signature: the volume gets a notice page instead (where the unaltered
original lies, who signed it) with the original attached byte for byte.

The same documents in the same order always give the same pages, outline and
(with ``deterministic_id``) the same file apart from the cover's volume name
and time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from kdigital.errors import ConversionError
from kdigital.identifiers import KINDS
from kdigital.intake import Rejection, ReturnedDocument
from kdigital.textpages import A4, MARGIN, Line, PageMaker, line, paginate, text, wrap

log = logging.getLogger(__name__)

_KIND_ORDER = {kind: i for i, kind in enumerate(KINDS)}
SHORT_KINDS = {"IB": "Rückantwort (IB)", "KB": "Kostenblatt (KB)", "VB": "Vereinbarung (VB)"}
_FULL_WIDTH = A4[0] - 2 * MARGIN


@dataclass(frozen=True)
class VolumeInfo:
    """What the cover and the metadata say about a volume."""

    name: str  # KD-2022_2025-11-25_1
    campaign_id: str
    created: dt.datetime  # timezone-aware
    version: str  # of kdigital
    author: str


@dataclass(frozen=True)
class Placement:
    """Where a document sits in the volume, and whether it has twins."""

    document: ReturnedDocument
    first: int  # 1-based page numbers in the volume
    last: int
    number: int  # n-th return of this party and kind (1 when it is the only one)
    of: int  # returns of this party and kind
    same_as: str | None  # an earlier return with the same bytes (SHA-256)

    @property
    def pages(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}–{self.last}"

    @property
    def duplicate(self) -> bool:
        return self.of > 1

    def hints(self) -> list[str]:
        """Short notes for the index."""
        d = self.document
        hints = []
        if self.duplicate:
            hints.append(f"Duplikat {self.number}/{self.of}")
        if d.signature:
            hints.append("signiert")
        if d.form != "PDF":
            hints.append(d.form)
        if d.part:
            hints.append("E-Mail")
        if any("repariert" in n for n in d.notes):
            hints.append("repariert")
        hints += [short_flag(f) for f in d.flags]
        return hints


def short_flag(flag: str) -> str:
    """A flag in two words, for the index column and the outline."""
    if flag.startswith("ältere Fassung"):
        return "ältere Fassung"
    if flag.startswith("QR-Code"):
        return "QR unlesbar"
    return flag.split(" (")[0].split(" – ")[0]


def volume_pages(document: ReturnedDocument) -> int:
    """Pages a document takes in the volume: its own, or one notice page when it is signed."""
    return 1 if document.signature else document.pages


def plan(documents: Sequence[ReturnedDocument], rejected: Sequence[Rejection], info: VolumeInfo):
    """(placements in volume order, index pages as lines); the cover is page 1, the index follows."""
    ordered = sorted(documents, key=lambda d: (d.party.ags, _KIND_ORDER[d.kind], d.received, d.shown, d.part or "",
                                               d.page_range))
    totals = Counter((d.party.ags, d.kind) for d in ordered)
    seen_count: Counter = Counter()
    first_with_hash: dict[tuple[str, tuple[int, int]], str] = {}
    draft = []
    for d in ordered:
        seen_count[(d.party.ags, d.kind)] += 1
        same_as = first_with_hash.get((d.sha256, d.page_range))
        first_with_hash.setdefault((d.sha256, d.page_range), d.where)
        draft.append((d, seen_count[(d.party.ags, d.kind)], totals[(d.party.ags, d.kind)], same_as))

    def place(front: int) -> list[Placement]:
        page = front + 1
        result = []
        for d, number, of, same_as in draft:
            result.append(Placement(d, page, page + volume_pages(d) - 1, number, of, same_as))
            page += volume_pages(d)
        return result

    # The layout does not depend on the page numbers, so a first pass counts the index pages.
    index_pages = len(_index(place(1), rejected))
    placements = place(1 + index_pages)
    return placements, _index(placements, rejected)


def _index(placements: Sequence[Placement], rejected: Sequence[Rejection]) -> list[list[Line]]:
    header = [
        line(text(MARGIN, "Verzeichnis der Rückläufe", size=13, bold=True), height=22),
        line(*(text(x, label, size=8, bold=True, right=right) for x, label, right in (
            (MARGIN, "AGS", False), (92, "Partei", False), (214, "Dokument", False), (330, "Seiten", True),
            (338, "Eingang", False), (388, "SHA-256 (Anfang)", False), (472, "Hinweis", False))), rule=True),
    ]
    body: list[Line] = []
    for p in placements:
        d = p.document
        body.append(line(
            text(MARGIN, d.party.ags, size=8), text(92, d.party.name, size=8, width=118),
            text(214, SHORT_KINDS[d.kind], size=8, width=80), text(330, p.pages, size=8, right=True),
            text(338, d.received.strftime("%d.%m.%Y"), size=8), text(388, d.sha256[:16], size=8),
            text(472, ", ".join(p.hints()), size=8, width=A4[0] - MARGIN - 472), height=11))
        source = f"Datei: {d.where}" + (f" – inhaltsgleich mit {p.same_as}" if p.same_as else "")
        body.append(line(text(92, source, size=7, gray=True, width=A4[0] - MARGIN - 92), height=10))
        for flag in d.flags:
            for i, part in enumerate(wrap(f"Bitte prüfen: {flag}", 7, A4[0] - MARGIN - 104)[:3]):
                body.append(line(text(92 if i == 0 else 104, part, size=7), height=10))
    if rejected:
        body.append(line(height=10))
        body.append(line(text(MARGIN, f"Nicht aufgenommen ({len(rejected)}) – die Dateien liegen unverändert "
                                      "im Eingangsordner", size=10, bold=True), height=16, rule=True))
        for r in rejected:
            body.append(line(text(MARGIN, r.where, size=8, width=_FULL_WIDTH), height=11))
            for part in wrap(r.reason, 7, _FULL_WIDTH - 12)[:3]:
                body.append(line(text(MARGIN + 12, part, size=7, gray=True), height=10))
    return paginate(body, header=header)


def _cover(info: VolumeInfo, placements: Sequence[Placement], rejected: Sequence[Rejection],
           index_pages: int, total: int) -> list[Line]:
    created = info.created
    parties = len({p.document.party.ags for p in placements})
    signed = sum(1 for p in placements if p.document.signature)
    duplicates = sum(1 for p in placements if p.duplicate)
    index = "Seite 2" if index_pages == 1 else f"Seiten 2–{1 + index_pages}"
    facts = [
        ("Erstellt", f"{created:%d.%m.%Y, %H:%M} Uhr mit kdigital {info.version}"),
        ("Inhalt", f"{len(placements)} Dokumente von {parties} Parteien auf {total} Seiten "
                   f"(Seite 1 Deckblatt, {index} Verzeichnis)"),
        ("Duplikate", f"{duplicates} Dokumente (alle aufgenommen und im Verzeichnis markiert)"),
        ("Digital signiert", f"{signed} Dokumente (Hinweisseite im Band, Original unverändert angehängt)"),
        ("Nicht aufgenommen", f"{len(rejected)} Dateien (siehe Verzeichnis)"),
    ]
    lines = [line(text(MARGIN, "Archiv der Rückläufe", size=22, bold=True), height=40),
             line(text(MARGIN, f"Kampagne {info.campaign_id} – Band {info.name}", size=12), height=30)]
    for label, value in facts:  # wrapped, never cut: the cover is read by people who have nothing else
        parts = wrap(value, 10, _FULL_WIDTH - 120)
        for i, part in enumerate(parts):
            lines.append(line(*([text(MARGIN, label, size=10, bold=True)] if i == 0 else []),
                              text(MARGIN + 120, part, size=10), height=16 if i == len(parts) - 1 else 13))
    lines.append(line(height=16))
    lines.append(line(text(MARGIN, "Zu diesem Band gehören, im selben Ordner:", size=10, bold=True), height=16))
    for value in (f"{info.name}.manifest.json und .csv – Herkunft, Größe, SHA-256 und Seiten jeder Quelle, "
                  "Prüfsumme dieses Bandes, Felder für die Prüfvermerke (Unterschriften, Siegel, Papieroriginal)",
                  f"{info.name}/originals/ – jede aufgenommene Datei unverändert",
                  f"Prüfen, ob alles unverändert ist: kdigital verify {info.name}.manifest.json"):
        for i, part in enumerate(wrap(value, 10, _FULL_WIDTH - 12)):
            lines.append(line(text(MARGIN + 12, ("– " if i == 0 else "  ") + part, size=10), height=14))
    return lines


def _notice(placement: Placement, info: VolumeInfo, attachment: str) -> list[Line]:
    d = placement.document
    sha = d.sha256
    facts = [
        ("Partei", f"{d.party.ags} {d.party.name}"),
        ("Dokument", f"{KINDS[d.kind]}, Kennung {d.identifier}"),
        ("Datei", d.where),
        ("Eingang", f"{d.received:%d.%m.%Y} ({d.received_from})"),
        ("Größe", f"{d.size:,} Byte".replace(",", ".")),
        ("SHA-256", sha[:32]),
        ("", sha[32:]),
        ("Signatur", d.signature.describe() if d.signature else ""),
    ]
    lines = [line(text(MARGIN, "Digital signiertes Dokument – hier nicht eingefügt", size=15, bold=True), height=30)]
    for label, value in facts:
        for i, part in enumerate(wrap(value, 10, _FULL_WIDTH - 90)):
            lines.append(line(text(MARGIN, label if i == 0 else "", size=10, bold=True),
                              text(MARGIN + 90, part, size=10), height=15))
    lines.append(line(height=12))
    lines.append(line(text(MARGIN, "Das unveränderte Original liegt", size=10, bold=True), height=15))
    for value in (f"neben diesem Band: {info.name}/originals/{d.copy}",
                  f"als Anhang in diesem Band: „{attachment}“ (Büroklammer unten bzw. Anhänge-Leiste des "
                  "PDF-Programms)"):
        for i, part in enumerate(wrap(value, 10, _FULL_WIDTH - 12)):
            lines.append(line(text(MARGIN + 12, ("– " if i == 0 else "  ") + part, size=10), height=14))
    lines.append(line(height=12))
    for part in wrap("Die Seiten sind hier nicht eingefügt, weil jedes Umschreiben der Datei ihre digitale "
                     "Signatur ungültig machen würde. Die Signatur ist am Original zu prüfen, z. B. mit einem "
                     "PDF-Programm, das Signaturen prüft.", 10, _FULL_WIDTH):
        lines.append(line(text(MARGIN, part, size=10), height=14))
    return lines


def _pdf_date(moment: dt.datetime) -> str:
    offset = moment.strftime("%z") or "+0000"
    return f"D:{moment:%Y%m%d%H%M%S}{offset[:3]}'{offset[3:]}'"


def build_volume(target: Path, placements: Sequence[Placement], index: list[list[Line]],
                 rejected: Sequence[Rejection], info: VolumeInfo, originals: Path, work: Path, *,
                 advance=lambda n: None) -> int:
    """Write the volume to ``target``: cover, index, every document; its page count.

    ``originals`` holds the unchanged copies (``ReturnedDocument.copy`` is relative
    to it); ``work`` takes the generated pages until this returns.
    """
    import pikepdf

    total = 1 + len(index) + sum(volume_pages(p.document) for p in placements)
    footer = f"Band {info.name} – Seite {{}} von {total}"
    front = work / "deckblatt.pdf"
    with pikepdf.new() as pdf:
        maker = PageMaker(pdf)
        maker.page(_cover(info, placements, rejected, len(index), total), footer.format(1))
        for number, lines in enumerate(index, start=2):
            maker.page(lines, footer.format(number))
        pdf.save(front)
    parts = [front]
    for p in placements:
        if p.document.signature:
            parts.append(_notice_pdf(work / f"hinweis-{p.first}.pdf", p, info, originals, footer.format(p.first)))
        else:
            parts.append(p.document)
    # qpdf's own page merge: unlike pikepdf's page copy, which reads every copied stream
    # into memory at once, it leaves the stream data in the sources until the volume is
    # written, and it closes and reopens sources when there are many.
    job = pikepdf.Job({"empty": "", "outputFile": str(target.resolve()), "noWarn": "", "warningExit0": "",
                       "pages": [_pages(part) for part in parts]})
    try:
        volume = job.create_pdf()
    except pikepdf.PdfError as exc:  # every source opened in the intake: this is qpdf failing, not the input
        raise ConversionError(f"Der Band ließ sich nicht zusammenführen (qpdf: {exc}); nichts veröffentlicht.")
    try:
        if len(volume.pages) != total:
            raise RuntimeError(f"Band hat {len(volume.pages)} Seiten statt {total}")
        dedupe = _Deduplicator()
        for p in placements:
            for number in range(p.first, p.last + 1):
                dedupe.page(volume.pages[number - 1])
            advance(1)
        log.info("Band %s: %d gleiche Streams nur einmal gespeichert (%d Byte gespart)", info.name,
                 dedupe.replaced, dedupe.saved)
        _attachments(volume, placements)
        _outline(volume, placements)
        _metadata(volume, placements, info)
        volume.Root.PageMode = pikepdf.Name.UseOutlines
        volume.save(target, deterministic_id=True, compress_streams=True,
                    object_stream_mode=pikepdf.ObjectStreamMode.generate)
    finally:
        volume.close()
        del job
    return total


def _pages(part: Path | ReturnedDocument) -> dict[str, str]:
    """qpdf's page selection for a generated PDF (all pages) or a document (its part of the source)."""
    if isinstance(part, Path):
        return {"file": str(part.resolve())}
    selection = {"file": str(part.pdf.resolve())}
    if part.source_range:
        selection["range"] = f"{part.source_range[0]}-{part.source_range[1]}"
    return selection


def _notice_pdf(path: Path, p: Placement, info: VolumeInfo, originals: Path, footer: str) -> Path:
    """A one-page PDF: the notice for a signed document, the original attached byte for byte."""
    import pikepdf

    name = attachment_name(p.document)
    with pikepdf.new() as pdf:
        page = PageMaker(pdf).page(_notice(p, info, name), footer)
        spec = pikepdf.AttachedFileSpec(pdf, (originals / p.document.copy).read_bytes(), filename=name,
                                        description=f"Unverändertes, digital signiertes Original: {p.document.where}",
                                        mime_type="application/pdf")
        page.Annots = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.FileAttachment, Rect=[MARGIN, 60, MARGIN + 14, 80],
            FS=spec.obj, Contents=pikepdf.String(f"Original: {name}"), Name=pikepdf.Name.Paperclip, F=4))]))
        pdf.save(path)
    return path


def attachment_name(document: ReturnedDocument) -> str:
    """The name of a signed original attached to the volume."""
    return f"{document.identifier}_{Path(document.copy).name}"


def _attachments(volume, placements: Sequence[Placement]) -> None:
    """List the originals attached to notice pages in the document's attachments, too."""
    import pikepdf

    signed = [p for p in placements if p.document.signature]
    if not signed:
        return
    tree = pikepdf.NameTree.new(volume)
    for p in signed:
        tree[attachment_name(p.document)] = volume.pages[p.first - 1].Annots[0].FS
    volume.Root.Names = pikepdf.Dictionary(EmbeddedFiles=tree.obj)


def _outline(volume, placements: Sequence[Placement]) -> None:
    """One bookmark per party (AGS and name), one child per document."""
    import pikepdf

    with volume.open_outline() as outline:
        outline.root.clear()
        current = None
        for p in placements:
            d = p.document
            if current is None or current[0] != d.party.ags:
                item = pikepdf.OutlineItem(f"{d.party.ags} {d.party.name}", p.first - 1)
                outline.root.append(item)
                current = (d.party.ags, item)
            title = f"{KINDS[d.kind]} – Eingang {d.received:%d.%m.%Y}"
            if p.duplicate:
                title += f" – Duplikat {p.number}/{p.of}"
            if d.signature:
                title += " – digital signiert (Original als Anhang)"
            for flag in d.flags:
                title += f" – {short_flag(flag)}"
            current[1].children.append(pikepdf.OutlineItem(title, p.first - 1))


def _metadata(volume, placements: Sequence[Placement], info: VolumeInfo) -> None:
    import pikepdf

    kinds = sorted({p.document.kind for p in placements}, key=_KIND_ORDER.get)
    agses = sorted({p.document.party.ags for p in placements})
    date = _pdf_date(info.created)
    volume.docinfo = volume.make_indirect(pikepdf.Dictionary({
        "/Title": pikepdf.String(f"Rückläufe {info.campaign_id} – Band {info.name}"),
        "/Author": pikepdf.String(info.author),
        "/Subject": pikepdf.String(f"Archiv der unterschriebenen Rückläufe der Kampagne {info.campaign_id}: "
                                   + ", ".join(KINDS[k] for k in kinds)),
        "/Keywords": pikepdf.String("; ".join([info.campaign_id, "Rückläufe", "Archiv", *kinds, *agses])),
        "/Creator": pikepdf.String(f"kdigital {info.version}"),
        "/CreationDate": pikepdf.String(date),
        "/ModDate": pikepdf.String(date),
    }))
    with volume.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta.load_from_docinfo(volume.docinfo)


class _Deduplicator:
    """Replaces streams equal to one already in the volume (same data and dictionary) by that one."""

    _SKIP = {"/Parent", "/P"}  # links back up the page tree: walking them would visit everything again

    def __init__(self):
        self.canonical: dict[tuple[int, int], object] = {}  # stream objgen -> the stream to use
        self.by_hash: dict[bytes, object] = {}
        self.visited: set[tuple[int, int]] = set()
        self.replaced = 0
        self.saved = 0

    def page(self, page) -> None:
        self._walk(page.obj)

    def _walk(self, container) -> None:
        import pikepdf

        if isinstance(container, pikepdf.Dictionary) or isinstance(container, pikepdf.Stream):
            items = [(k, container[k]) for k in container.keys() if k not in self._SKIP]
        else:
            items = list(enumerate(container))
        for key, value in items:
            if isinstance(value, pikepdf.Stream):
                chosen = self._stream(value)
                if chosen.objgen != value.objgen:
                    container[key] = chosen
                continue
            if not isinstance(value, (pikepdf.Dictionary, pikepdf.Array)):
                continue
            if value.is_indirect:
                if value.objgen in self.visited:
                    continue
                self.visited.add(value.objgen)
            self._walk(value)

    def _stream(self, stream):
        import pikepdf

        key = stream.objgen
        if key in self.canonical:
            return self.canonical[key]
        self.canonical[key] = stream  # guards against cycles through the stream's own dictionary
        self._walk(stream)  # streams it refers to (soft masks, colour profiles) first
        data = stream.read_raw_bytes()
        digest = hashlib.sha256(data)
        for name in sorted(k for k in stream.keys() if k != "/Length"):  # /Length may be an indirect number
            value = stream[name]  # pikepdf hands out numbers and booleans as Python values
            digest.update(name.encode() + b"\0" + (value.unparse() if isinstance(value, pikepdf.Object)
                                                   else repr(value).encode()) + b"\0")
        found = self.by_hash.setdefault(digest.digest(), stream)
        if found is not stream:
            self.replaced += 1
            self.saved += len(data)
        self.canonical[key] = found
        return found
