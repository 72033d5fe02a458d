"""Intake of returned documents: what each file is, whose it is, and whether it may be archived.

Every file below the returns folder is copied into the staging ``originals``
folder while it is hashed, and every check runs on that copy, so the checks, the
hash and the merged pages all see the same bytes even if someone edits the
input meanwhile. Inputs are only ever read.

Rules this module keeps:

* The type of a file comes from its content, never from its extension: PDF,
  JPEG, PNG, TIFF, or an e-mail (.eml) whose PDF and image attachments are
  taken one by one. A JPEG named ``.pdf`` is accepted as the image it is, with
  a note; an HTML page named ``.pdf`` is rejected.
* A PDF is accepted when pypdf opens it with ``strict=False`` (its repairs are
  logged as warnings and kept as notes), it is not encrypted or opens with an
  empty password, it has pages and it is not cut off. A PDF that pypdf reads
  but qpdf cannot is rewritten once by pypdf into the work folder, for merging;
  the original copy stays as it came.
* The QR codes on its pages (``kdigital.scan``) come first: a file with
  codes is split into one document per coded page with the uncoded pages its
  code claims before it (P=n: n−1 pages, a whole letter) and those after it
  (several municipalities' forms in one scan), each assigned by its code;
  the file itself is kept once. A signature page's code (VB) carries the
  agreement's version and fingerprint: one that differs from the current
  agreement is accepted and flagged ("ältere Fassung unterschrieben").
  A part whose code belongs to no party is rejected on its own.
* Without a readable code a file belongs to a party by the identifier printed
  on our documents (``<Kampagne-ID>-<KIND>-<AGS>``) in its file name or text
  layer, or by a roster AGS in its file name plus a document kind: a code or
  word in the name, else a word in the text layer naming one kind, else the
  kind the caller allows to assume (``Unnamed``: a reply form while no
  agreement has been generated), noted. Anything else is rejected with the
  reason, never guessed; a rejection names the AGS when one was found.
* A PDF with a signature field whose value has a ``/ByteRange`` is signed; the
  signer names come from the certificates in the signature where readable.
* The date received is the roster's ``Eingang`` for a reply form (IB: that
  column records the reply), else the e-mail's date for an attachment, else
  the file's modification time (kept on the copy).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import logging
import multiprocessing
import os
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kdigital.batch import default_workers
from kdigital.errors import KdigitalError
from kdigital.identifiers import AgreementVersion, Matcher, Party, Unmatched, Unnamed, route, version_flag
from kdigital.signatures import Signature, read_signature

log = logging.getLogger(__name__)

# Files a desktop leaves in folders; never returns.
_IGNORED_NAMES = {"thumbs.db", "desktop.ini"}
# Signatures of the e-mail itself, not documents.
_MAIL_SIGNATURES = {"application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature"}
_CHUNK = 1 << 20
_A4 = (595.276, 841.89)  # points


@dataclass(frozen=True)
class ReturnedDocument:
    """One accepted return: a file of the returns folder, or one attachment of an e-mail there."""

    path: Path  # the file in the returns folder
    shown: str  # that file as shown to users, e.g. 'inputs/returns/Marburg IB.pdf'
    part: str | None  # attachment name when the document came in an e-mail
    copy: str  # its unchanged bytes, relative to the originals folder
    pdf: Path  # what is merged: the copy, a PDF around an image, or a repaired rewrite
    size: int
    sha256: str
    file_sha256: str  # of ``path`` (the e-mail for an attachment)
    form: str  # PDF, JPEG, PNG, TIFF
    party: Party
    kind: str  # IB, KB, VB
    identifier: str  # KD-2022-IB-06534014
    matched_by: str  # in words: where the identifier was found
    received: dt.date
    received_from: str  # in words: where the date comes from
    pages: int  # of this document (of its part of the source, when the source was split)
    signature: Signature | None = None
    notes: tuple[str, ...] = ()
    container_copy: str | None = None  # the e-mail's copy, relative to the originals folder
    source_range: tuple[int, int] | None = None  # pages of the source, when it was split into several documents
    route: str = ""  # how it was matched, in one word: QR, Dateiname, Text, E-Mail
    codes: tuple[str, ...] = ()  # the QR codes on its pages (payloads)
    flags: tuple[str, ...] = ()  # what the archivist must look at, e.g. an older agreement signed

    @property
    def where(self) -> str:
        return _where(self.shown, self.part, self.source_range)

    @property
    def page_range(self) -> tuple[int, int]:
        """First and last page of this document in its source (1-based)."""
        return self.source_range or (1, self.pages)


@dataclass(frozen=True)
class Rejection:
    """A file (or e-mail attachment) that is not archived, and why, in plain words."""

    path: Path
    shown: str
    part: str | None
    size: int
    sha256: str
    file_sha256: str
    reason: str
    source_range: tuple[int, int] | None = None  # the pages rejected, when other parts of the file were not
    ags: str | None = None  # an AGS found on the way (unknown, or without a document kind)

    @property
    def where(self) -> str:
        return _where(self.shown, self.part, self.source_range)

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


def _where(shown: str, part: str | None, pages: tuple[int, int] | None) -> str:
    where = f"{shown}, Anhang „{part}“" if part else shown
    if pages:
        where += f", Seite {pages[0]}" if pages[0] == pages[1] else f", Seiten {pages[0]}–{pages[1]}"
    return where


@dataclass
class Intake:
    """The outcome of reading a returns folder, in the order the files were found."""

    documents: list[ReturnedDocument] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


class _Reject(Exception):
    """A file cannot be archived; the message is the reason in plain German, ``ags`` one found on the way."""

    def __init__(self, message: str, ags: str | None = None):
        super().__init__(message)
        self.ags = ags


# --- the folder ------------------------------------------------------------------


def list_returns(folder: Path) -> list[Path]:
    """Every file below ``folder`` in a stable order, without hidden files and desktop clutter."""
    found = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if any(part.startswith((".", "~$")) for part in relative.parts):
            continue
        if path.is_file() and path.name.casefold() not in _IGNORED_NAMES:
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


@dataclass(frozen=True)
class _Context:
    """What every check needs besides the file: the matcher and the current agreement (computed once)."""

    matcher: Matcher
    current_agreement: Callable[[], AgreementVersion | None]


def read_returns(files: Iterable[Path], folder: Path, parties: Mapping[str, Party], campaign_id: str,
                 originals: Path, work: Path, *, shown=str, advance=lambda n: None,
                 agreement: Callable[[], AgreementVersion | None] = lambda: None,
                 unnamed: Unnamed = Unnamed(), workers: int | None = None) -> Intake:
    """Copy, check and assign every file; accepted copies stay in ``originals``, rejected ones are removed.

    ``shown`` turns a path into the name used in messages; ``work`` receives the
    PDFs made from images and repaired rewrites; ``agreement`` gives the current
    agreement's version and fingerprint, asked for at the first signature page
    with a code (None: not checked). ``unnamed`` says what a file matched by a
    bare AGS whose kind nothing names becomes (default: rejected).

    Reading the QR codes of scanned pages takes most of the time (pdfium decoding
    the page images), so several files are read side by side in forked worker
    processes, one file each at a time; the outcome is collected in file order
    and is the same as one process would give.
    """
    global _JOB
    files = list(files)
    context = _Context(Matcher(campaign_id, parties, unnamed), functools.cache(agreement))
    job = (folder, context, originals, work, shown)
    intake = Intake()
    workers = min(workers or default_workers(), len(files))
    if workers < 2 or len(files) < _PARALLEL_FILES or "fork" not in multiprocessing.get_all_start_methods():
        for item in enumerate(files, start=1):
            _merge(intake, _read_one(item, job))
            advance(1)
        return intake
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    context.current_agreement()  # once, here: each worker would otherwise work it out (and warn) again
    _JOB = job
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    try:
        for part, records in pool.map(_read_in_worker, enumerate(files, start=1)):
            for record in records:  # the worker's warnings, told here in file order
                logging.getLogger(record.name).handle(record)
            _merge(intake, part)
            advance(1)
    except BrokenProcessPool as exc:  # a worker killed from outside (out of memory): never wait for it
        raise KdigitalError("Ein Prüfprozess ist abgebrochen (z. B. zu wenig Arbeitsspeicher bei einem sehr "
                            "großen Scan); nichts archiviert") from exc
    finally:
        _JOB = None
        pool.shutdown(wait=True, cancel_futures=True)
    return intake


# Below this many files, one process is quicker than starting workers.
_PARALLEL_FILES = 4
_JOB: tuple | None = None  # what the forked workers need, inherited instead of pickled


def _read_one(item: tuple[int, Path], job: tuple | None = None) -> Intake:
    folder, context, originals, work, shown = job or _JOB
    number, path = item
    result = Intake()
    _read_file(path, path.relative_to(folder).as_posix(), number, shown(path), context, originals, work, result)
    return result


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        record.msg, record.args, record.exc_info, record.exc_text = record.getMessage(), None, None, None
        self.records.append(record)


def _read_in_worker(item: tuple[int, Path]) -> tuple[Intake, list[logging.LogRecord]]:
    # The worker's log records go back to the parent instead of to a stream of their own.
    logger = logging.getLogger("kdigital")
    collect = _Collect()
    saved = logger.handlers, logger.propagate
    logger.handlers, logger.propagate = [collect], False
    try:
        return _read_one(item), collect.records
    finally:
        logger.handlers, logger.propagate = saved


def _merge(intake: Intake, part: Intake) -> None:
    intake.documents += part.documents
    intake.rejected += part.rejected


def _read_file(path: Path, relative: str, number: int, shown: str, context: _Context,
               originals: Path, work: Path, intake: Intake) -> None:
    copy = originals / relative
    copy.parent.mkdir(parents=True, exist_ok=True)
    try:
        size, sha = copy_and_hash(path, copy)
        mtime = dt.datetime.fromtimestamp(path.stat().st_mtime).date()
    except OSError as exc:
        copy.unlink(missing_ok=True)
        intake.rejected.append(Rejection(path, shown, None, 0, "", "", f"nicht lesbar ({exc.strerror or exc})"))
        return
    head = _head(copy)
    form = sniff(head)
    if form == "EML":
        accepted = _read_mail(path, relative, number, shown, sha, context, originals, work, intake, mtime)
        if not accepted:
            copy.unlink()
        return
    facts = dict(path=path, shown=shown, part=None, copy=relative, size=size, sha256=sha, file_sha256=sha)
    try:
        documents, refused = _check(copy, form, path.name, "", context, work / f"{number}", mtime, None, facts)
    except _Reject as exc:
        copy.unlink()
        intake.rejected.append(Rejection(path, shown, None, size, sha, sha, str(exc), ags=exc.ags))
        return
    if not documents:
        copy.unlink()
    intake.documents += documents
    intake.rejected += [Rejection(path, shown, None, size, sha, sha, reason, pages, ags)
                        for pages, reason, ags in refused]


def _read_mail(path, relative, number, shown, sha, context, originals, work, intake, mtime) -> bool:
    """Take the PDF and image attachments of an e-mail; True when at least one was accepted."""
    import email
    import email.policy
    import email.utils

    with open(originals / relative, "rb") as fh:
        message = email.message_from_binary_file(fh, policy=email.policy.default)
    sent = None
    with contextlib.suppress(TypeError, ValueError):
        sent = email.utils.parsedate_to_datetime(str(message["Date"])).date()
    subject = str(message["Subject"] or "")
    folder = f"{relative}.anhaenge"
    used: set[str] = set()
    accepted = False
    attachments = 0
    for index, part in enumerate(message.walk(), start=1):
        if part.is_multipart() or part.get_content_type() in _MAIL_SIGNATURES:
            continue
        name = part.get_filename()
        disposition = part.get_content_disposition()
        if not name and disposition != "attachment":
            continue  # the text of the mail
        if disposition == "inline" and part["Content-ID"] and part.get_content_maintype() == "image":
            continue  # a logo in the HTML body
        data = part.get_payload(decode=True) or b""
        attachments += 1
        name = _safe_name(name or f"anhang-{index}")
        target = name if name not in used else f"{index}_{name}"
        used.add(target)
        copy = originals / folder / target
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(data)
        part_sha = hashlib.sha256(data).hexdigest()
        facts = dict(path=path, shown=shown, part=name, copy=f"{folder}/{target}", size=len(data),
                     sha256=part_sha, file_sha256=sha, container_copy=relative)
        try:
            form = sniff(data[:2048])
            if form == "EML":
                raise _Reject("weitergeleitete E-Mail im Anhang – bitte die Anhänge einzeln ablegen")
            documents, refused = _check(copy, form, name, f"{subject} {path.name}", context,
                                        work / f"{number}-{index}", sent or mtime, "E-Mail-Datum" if sent else None,
                                        facts)
        except _Reject as exc:
            copy.unlink()
            intake.rejected.append(Rejection(path, shown, name, len(data), part_sha, sha, str(exc), ags=exc.ags))
            continue
        if not documents:
            copy.unlink()
        intake.documents += documents
        intake.rejected += [Rejection(path, shown, name, len(data), part_sha, sha, reason, pages, ags)
                            for pages, reason, ags in refused]
        accepted = accepted or bool(documents)
    if not attachments:
        intake.rejected.append(Rejection(path, shown, None, (originals / relative).stat().st_size, sha, sha,
                                         "E-Mail ohne PDF- oder Bildanhang"))
    return accepted


def _check(copy: Path, form: str, name: str, fallback_text: str, context: _Context, work: Path,
           date: dt.date, date_from: str | None, facts: dict):
    """Check one file's bytes at ``copy`` and assign it: (documents, [(pages, reason, AGS) of rejected parts]).

    Raises _Reject with the reason when nothing of the file can be archived.
    """
    notes: list[str] = []
    _require_supported(form)
    if form == "PDF":
        pdf, pages, text, signature = _check_pdf(copy, facts["size"], work, notes)
    else:
        if Path(name).suffix.casefold() == ".pdf":
            notes.append(f"Datei heißt .pdf, enthält aber ein {form}-Bild")
        pdf, pages = _wrap_image(copy, form, work)
        text, signature = "", None
    where = facts["shown"] + (f", Anhang „{facts['part']}“" if facts["part"] else "")
    parts, unreadable = _parts(pdf, notes)
    if signature and len(parts) > 1:
        raise _Reject(f"digital signiert und enthält Formulare mehrerer Dokumente ({', '.join(p.pages for p in parts)}: "
                      f"{', '.join(dict.fromkeys(p.code.identifier for p in parts))}) – ohne die Signatur zu "
                      "brechen nicht zu trennen; bitte je Dokument eine Datei anfordern")
    if not parts:
        try:
            found = context.matcher.match(name, text, fallback_text)
        except Unmatched as exc:
            raise _Reject(str(exc), exc.ags)
        party, kind, identifier, matched_by = found.party, found.kind, found.identifier, found.how
        notes += found.notes  # a kind assumed, and why
        _warn(where, notes)
        document = ReturnedDocument(pdf=pdf, form=form, party=party, kind=kind, identifier=identifier,
                                    matched_by=matched_by, route=route(matched_by), pages=pages,
                                    signature=signature, notes=tuple(notes),
                                    **_received(party, kind, date, date_from), **facts)
        return [document], []
    documents, refused = [], []
    named = {identifier for _, identifier in _identifiers_in(context.matcher, name)}
    for part in parts:
        whole = (part.first, part.last) == (1, pages)
        try:
            if part.problem:
                raise Unmatched(part.problem)
            party, kind, identifier = context.matcher.code(part.code)
        except Unmatched as exc:
            if whole:
                raise _Reject(str(exc), exc.ags)
            refused.append(((part.first, part.last), str(exc), exc.ags))
            continue
        part_notes = list(part.notes)
        if named and identifier not in named and len(parts) == 1:
            part_notes.append(f"Dateiname nennt {', '.join(sorted(named))}, der QR-Code {identifier} – "
                              "nach dem QR-Code zugeordnet")
        flags = []
        if kind == "VB":
            flag, note = _version_check(part.codes, context)
            flags += [flag] if flag else []
            part_notes += [note] if note else []
        blind = [str(n) for n in range(part.first, part.last + 1) if n in unreadable]
        if blind:
            flags.append(f"QR-Code auf {'Seite' if len(blind) == 1 else 'Seiten'} {', '.join(blind)} nicht lesbar – "
                         "die Seite wurde diesem Dokument zugeordnet; bitte prüfen")
        documents.append(ReturnedDocument(
            pdf=pdf, form=form, party=party, kind=kind, identifier=identifier,
            matched_by="QR-Code", route="QR", pages=part.last - part.first + 1, signature=signature,
            notes=tuple(notes + part_notes), source_range=None if whole else (part.first, part.last),
            codes=tuple(c.payload() for c in part.codes), flags=tuple(flags),
            **_received(party, kind, date, date_from), **facts))
    if documents:
        _warn(where, notes)
        for d in documents:
            _warn(d.where, [n for n in d.notes if n not in notes])
    return documents, refused


def _warn(where: str, notes: Sequence[str]) -> None:
    for note in notes:
        log.warning("%s: %s", where, note)


def _received(party: Party, kind: str, date: dt.date, date_from: str | None) -> dict:
    """The date received and where it comes from: the roster's Eingang for a reply form."""
    if kind == "IB" and party.received is not None:
        return {"received": party.received, "received_from": "Eingang laut Verzeichnis"}
    return {"received": date, "received_from": date_from or "Dateidatum"}


def _parts(pdf: Path, notes: list[str]):
    """(documents in ``pdf`` by its QR codes, [] without a readable code; pages with an unreadable code)."""
    from kdigital.scan import ScanError, read_codes, split

    try:
        pages = read_codes(pdf)
    except ScanError as exc:
        notes.append(f"QR-Codes nicht gelesen: {exc}; Zuordnung über Dateiname und Text")
        return [], set()
    parts = split(pages)
    unreadable = {p.page for p in pages if p.unreadable and not p.codes}
    if unreadable and not parts:
        where = "Seite" if len(unreadable) == 1 else "Seiten"
        notes.append(f"QR-Code auf {where} {', '.join(map(str, sorted(unreadable)))} erkannt, aber nicht lesbar; "
                     "Zuordnung über Dateiname und Text")
    return parts, unreadable


def _identifiers_in(matcher: Matcher, name: str) -> list[tuple[str, str]]:
    """(kind, identifier) of our identifiers in a file name."""
    return [(kind, f"{matcher.campaign_id}-{kind}-{ags}") for kind, ags in matcher.identifiers(Path(name).stem)]


def _version_check(codes, context: _Context) -> tuple[str | None, str | None]:
    """(flag, note) for the version and fingerprint in the codes of a signature page."""
    versioned = [c for c in codes if c.version or c.fingerprint]
    if not versioned:
        return None, None
    current = context.current_agreement()
    if current is None:
        return None, ("Fassung der Vereinbarung nicht geprüft: keine Vereinbarung in outputs/agreement "
                      "und keine aus den Eingaben zu bilden")
    for code in versioned:
        flag = version_flag(code, current)
        if flag:
            return flag, None
    return None, None


# --- content types ----------------------------------------------------------------


def copy_and_hash(source: Path, target: Path) -> tuple[int, str]:
    """Copy ``source`` to ``target`` in chunks; (size, SHA-256 hex) of the bytes copied."""
    digest = hashlib.sha256()
    size = 0
    with open(source, "rb") as src, open(target, "wb") as dst:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
    stat = source.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the date received, where it is the file's
    return size, digest.hexdigest()


def sha256_file(path: Path) -> str:
    """SHA-256 (hex) of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(2048)


def sniff(head: bytes) -> str:
    """What the first bytes of a file say it is: PDF, JPEG, PNG, TIFF, EML, or a word for something else."""
    if not head:
        return "leer"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if b"%PDF-" in head[:1024]:  # PDF allows junk before the header
        return "PDF"
    # Header lines first: an e-mail's HTML part may well start within the first bytes.
    if re.match(rb"(?:[A-Za-z][A-Za-z0-9-]*:[^\r\n]*\r?\n(?:[ \t][^\r\n]*\r?\n)*){2,}", head) and re.search(
            rb"(?im)^(from|date|subject|mime-version|received|message-id):", head):
        return "EML"
    lowered = head.lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html")) or b"<html" in lowered[:1024]:
        return "HTML"
    if head.startswith(b"PK\x03\x04"):
        return "ZIP"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "OLE"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head.startswith(b"BM"):
        return "BMP"
    return "unbekannt"


_UNSUPPORTED = {
    "HTML": "keine PDF, sondern eine Webseite (HTML) – wohl eine Fehlermeldung statt des Downloads",
    "ZIP": "keine PDF, sondern ein ZIP-Archiv oder Office-Dokument (Word/Excel) – bitte als PDF ablegen",
    "OLE": "keine PDF, sondern ein altes Office-Dokument oder eine Outlook-Nachricht (.msg) – "
           "bitte als PDF bzw. E-Mail als .eml ablegen",
    "GIF": "Bildformat GIF wird nicht angenommen (nur JPEG, PNG, TIFF)",
    "BMP": "Bildformat BMP wird nicht angenommen (nur JPEG, PNG, TIFF)",
    "unbekannt": "weder PDF noch Bild (JPEG, PNG, TIFF) noch E-Mail",
}


def _require_supported(form: str) -> None:
    if form == "leer":
        raise _Reject("leere Datei (0 Byte)")
    if form in _UNSUPPORTED:
        raise _Reject(_UNSUPPORTED[form])


# --- PDFs -----------------------------------------------------------------------


@contextlib.contextmanager
def _pypdf_messages():
    """Collect what pypdf logs and warns while reading, instead of letting it reach the terminal."""
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())

    logger = logging.getLogger("pypdf")
    handler = Collect(logging.WARNING)
    saved = logger.propagate, logger.level
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield messages
        messages += [str(w.message) for w in caught]
    finally:
        logger.removeHandler(handler)
        logger.propagate, logger.level = saved


def _check_pdf(copy: Path, size: int, work: Path, notes: list[str]):
    """(PDF to merge, pages, text, signature) of a PDF; raises _Reject when it cannot be archived."""
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError

    with open(copy, "rb") as fh:
        fh.seek(max(0, size - 2048))
        if b"%%EOF" not in fh.read():
            raise _Reject("unvollständig: das Dateiende fehlt (abgeschnitten, z. B. beim Herunterladen "
                          "oder Kopieren) – bitte neu anfordern")
    reader = None
    with _pypdf_messages() as messages:
        try:
            reader = PdfReader(copy, strict=False)
            if reader.is_encrypted:
                try:
                    opened = reader.decrypt("")
                except DependencyError as exc:
                    raise _Reject(f"verschlüsselt mit einem Verfahren, das nicht gelesen werden kann ({exc})")
                if opened == PasswordType.NOT_DECRYPTED:
                    raise _Reject("passwortgeschützt (mit Kennwort verschlüsselt) – "
                                  "bitte ohne Kennwort senden lassen")
                notes.append("verschlüsselt ohne Kennwort (nur Rechte eingeschränkt); das Original bleibt so")
            pages = len(reader.pages)
            if pages == 0:
                raise _Reject("enthält keine Seiten")
            signature = read_signature(reader, size)
            if signature and signature.beyond_end:
                raise _Reject("unvollständig: die Signatur verweist auf Daten hinter dem Dateiende")
            text = []
            for page in reader.pages:
                try:
                    text.append(page.extract_text() or "")
                except Exception:  # a page whose text cannot be read still goes into the archive
                    text.append("")
        except _Reject:
            reader and reader.close()
            raise
        except Exception as exc:  # pypdf raises many types for damaged files; all mean the same here
            reader and reader.close()
            raise _Reject(f"beschädigt, nicht zu reparieren ({type(exc).__name__}: {exc})")
    if messages:
        notes.append("beschädigte PDF beim Lesen repariert (" + "; ".join(dict.fromkeys(messages))[:300] + ")")
    try:
        return _mergeable(copy, reader, work, notes), pages, "\n".join(text), signature
    finally:
        reader.close()  # drops pypdf's cache of what it read (a scan's images) at once


def _mergeable(copy: Path, reader, work: Path, notes: list[str]) -> Path:
    """``copy`` when qpdf opens it, else a rewrite by pypdf (which did open it) in ``work``."""
    import pikepdf

    try:
        with pikepdf.open(copy):
            return copy
    except pikepdf.PdfError as exc:
        qpdf_problem = str(exc)
    from pypdf import PdfWriter

    target = work.with_suffix(".repariert.pdf")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _pypdf_messages():
            writer = PdfWriter(clone_from=reader)
            writer.write(target)
        with pikepdf.open(target):
            pass
    except Exception as exc:
        raise _Reject(f"beschädigt, nicht zu reparieren ({qpdf_problem}; {exc})")
    notes.append("für den Band mit pypdf neu geschrieben, weil qpdf die Datei nicht öffnet")
    return target


# --- images -----------------------------------------------------------------------


def _wrap_image(copy: Path, form: str, work: Path) -> tuple[Path, int]:
    """A PDF around the image, lossless (img2pdf embeds JPEG as is); (its path, pages)."""
    import img2pdf
    import pikepdf
    from PIL import Image

    try:  # decoded once, frame by frame: a cut-off scan fails here and not in a viewer years later
        with Image.open(copy) as image:
            for frame in range(getattr(image, "n_frames", 1)):
                image.seek(frame)
                image.load()
    except Exception as exc:  # Pillow raises many types for damaged images
        raise _Reject(f"beschädigtes oder unvollständiges {form}-Bild ({exc})")
    data = copy.read_bytes()
    try:
        pdf = img2pdf.convert(data, layout_fun=_image_layout, nodate=True)
    except img2pdf.AlphaChannelError:
        raise _Reject(f"{form}-Bild mit Transparenz (Alphakanal) lässt sich nicht verlustfrei übernehmen – "
                      "bitte ohne Transparenz speichern")
    except Exception as exc:  # img2pdf raises many types for images it cannot take
        raise _Reject(f"{form}-Bild lässt sich nicht in PDF übernehmen ({exc})")
    del data
    target = work.with_suffix(".bild.pdf")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(pdf)
    with pikepdf.open(target) as opened:
        return target, len(opened.pages)


def _image_layout(width_px, height_px, dpi):
    """Pages of the image's size at its resolution; fitted into A4 when it has none that fits paper."""
    import img2pdf

    width, height = width_px * 72 / dpi[0], height_px * 72 / dpi[1]
    if max(width, height) > 1.5 * _A4[1]:  # no resolution stored: img2pdf assumed 96 dpi
        return img2pdf.get_layout_fun(_A4 if height >= width else _A4[::-1], fit=img2pdf.FitMode.into)(
            width_px, height_px, dpi)
    return width, height, width, height


def _safe_name(name: str) -> str:
    """An attachment name usable as a file name: no folders, no control characters."""
    name = re.sub(r"[\x00-\x1f/\\]", "_", name.replace("\r", "").replace("\n", "")).strip(" .")
    return name or "anhang"


