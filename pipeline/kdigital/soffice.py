"""The one wrapper around LibreOffice: DOCX to tagged PDF/A-2b.

Every call of ``soffice`` in kdigital goes through here. A batch is converted by
a few long-lived soffice processes (one per worker, each with its own throw-away
profile) instead of one process start per document, which is what makes large
mailings fast. A document that fails never raises: it ends up in
``ConversionResult.failed`` with a reason, and the caller decides what to do.

Rules this module keeps:

* PDFs are written into private staging folders and published into ``outdir``
  by ``os.replace`` only once complete, so ``outdir`` never holds a half-written
  PDF. An existing PDF of the same name in ``outdir`` is replaced.
* Two sources with the same file stem would produce the same PDF name; that is
  a programming error and raises ``ValueError`` before anything runs (the very
  same path given twice is simply converted once).
* Sources are checked to be DOCX (a ZIP with ``word/document.xml``) first:
  soffice would otherwise render any junk as a text document.
* A worker that crashes, exits non-zero or times out gets its unconverted
  documents retried once in a fresh process; the document it was busy with goes
  last in the retry, so one document that crashes LibreOffice cannot take the
  others down with it.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unicodedata
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kdigital.errors import MissingDependencyError

log = logging.getLogger(__name__)

ENV_SOFFICE = "KDIGITAL_SOFFICE"

_INSTALL_HINT = "Installation: apt-get install -y libreoffice-writer-nogui"
_NOT_INSTALLED = f"LibreOffice (soffice) ist nicht installiert. {_INSTALL_HINT}"

# LibreOffice < 7.4 ignores the JSON filter options and silently writes a plain,
# untagged PDF, so an old version is treated as missing.
_MIN_VERSION = (7, 4)

# PDF/A-2b ("SelectPdfVersion" 2), tagged, headings as bookmarks. JSON filter
# options (LibreOffice >= 7.4) because the old positional syntax cannot set these.
PDF_FILTER = (
    "pdf:writer_pdf_Export:{"
    '"SelectPdfVersion":{"type":"long","value":"2"},'
    '"UseTaggedPDF":{"type":"boolean","value":"true"},'
    '"ExportBookmarks":{"type":"boolean","value":"true"}'
    "}"
)

# Start-up with a fresh profile takes a few seconds, more on a loaded machine;
# added once per batch on top of the per-document allowance.
_STARTUP_TIMEOUT = 60.0
_POLL_INTERVAL = 0.2
_SMALL_BATCH = 4  # below this, a second process costs more than it saves
_MAX_DEFAULT_WORKERS = 2  # soffice is memory-hungry; more rarely pays off

# Harmless noise that LibreOffice prints on systems without Java; never the reason.
_STDERR_NOISE = ("Warning: failed to launch javaldx",)


@dataclass(frozen=True)
class ConversionResult:
    """What ``convert_to_pdf`` did, per source document (in input order)."""

    converted: dict[Path, Path]  # source docx -> written pdf
    failed: dict[Path, str]  # source docx -> reason in plain German words


def find_soffice() -> str:
    """Return the path of the soffice program; ``KDIGITAL_SOFFICE`` overrides the search.

    Raises MissingDependencyError with an installation hint when there is none.
    """
    override = os.environ.get(ENV_SOFFICE)
    if override:
        found = shutil.which(override)
        if not found:
            raise MissingDependencyError(
                f"LibreOffice (soffice) nicht gefunden: {ENV_SOFFICE} zeigt auf „{override}“, "
                f"dort ist kein ausführbares Programm. Variable korrigieren oder LibreOffice "
                f"installieren. {_INSTALL_HINT}"
            )
        return found
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    raise MissingDependencyError(_NOT_INSTALLED)


def soffice_version(soffice: str | None = None) -> str:
    """Return the version line of LibreOffice, e.g. 'LibreOffice 7.4.7.2 40(Build:2)'.

    Raises MissingDependencyError when soffice is missing or cannot tell its version.
    """
    soffice = soffice or find_soffice()
    try:
        done = subprocess.run(
            [soffice, "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MissingDependencyError(
            f"LibreOffice ({soffice}) lässt sich nicht starten: {exc}. {_INSTALL_HINT}"
        ) from exc
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        raise MissingDependencyError(
            f"LibreOffice ({soffice}) nennt keine Version (Code {done.returncode}"
            f"{_last_words(done.stderr)}). {_INSTALL_HINT}"
        )
    return lines[-1]


def convert_to_pdf(
    sources: Sequence[Path],
    outdir: Path,
    *,
    workers: int | None = None,
    timeout_per_document: float = 20.0,
    progress: Callable[[int], None] | None = None,
    on_converted: Callable[[Path, Path], None] | None = None,
) -> ConversionResult:
    """Convert DOCX files to tagged PDF/A-2b files ``outdir/<stem>.pdf``.

    Runs ``workers`` soffice processes side by side, each converting its share of
    the batch. ``progress(n)`` is called whenever n more PDFs are in ``outdir``;
    ``on_converted(source, pdf)`` for each of them as soon as it is there, while
    LibreOffice goes on with the others (the stages check PDFs in it).
    Failed documents are reported in the result, never raised. Raises ValueError
    for sources sharing a file stem, MissingDependencyError when LibreOffice
    (>= 7.4) is missing.
    """
    sources = [Path(s) for s in sources]
    outdir = Path(outdir)
    if workers is not None and workers < 1:
        raise ValueError(f"workers muss mindestens 1 sein, nicht {workers}")
    if timeout_per_document <= 0:
        raise ValueError(f"timeout_per_document muss positiv sein, nicht {timeout_per_document}")
    _reject_stem_collisions(sources)
    soffice = find_soffice()

    failed: dict[Path, str] = {}
    todo: list[Path] = []
    for source in dict.fromkeys(sources):  # the same file twice is converted once
        problem = _docx_problem(source)
        if problem:
            failed[source] = problem
        else:
            todo.append(source)
    converted: dict[Path, Path] = {}
    if todo:
        _require_version(soffice)
        outdir.mkdir(parents=True, exist_ok=True)
        count = _worker_count(workers, len(todo))
        log.info("Konvertiere %d Dokument(e) nach PDF mit %d LibreOffice-Prozess(en)",
                 len(todo), count)
        run = _Run(soffice, outdir, timeout_per_document, progress, on_converted)
        try:
            run.execute([todo[i::count] for i in range(count)])
        finally:
            run.close()
        converted.update(run.converted)
        failed.update(run.failed)
    return ConversionResult(
        converted={s: converted[s] for s in sources if s in converted},
        failed={s: failed[s] for s in sources if s in failed},
    )


def check_pdf(pdf: Path, *, pages: int | None = None, contains: str | None = None) -> str | None:
    """Return None if ``pdf`` opens (and has ``pages`` pages and the text ``contains``), else why not."""
    from pypdf import PdfReader  # imported here: only needed for checks, and it is slow to import

    try:
        reader = PdfReader(pdf, strict=False)
        if reader.is_encrypted:
            return "PDF ist verschlüsselt"
        count = len(reader.pages)
    except Exception as exc:  # pypdf raises many types for damaged files; all mean the same here
        return f"PDF lässt sich nicht öffnen: {exc}"
    if count == 0:
        return "PDF hat keine Seiten"
    if pages is not None and count != pages:
        return f"Seitenzahl {count} statt {pages}"
    if contains:
        wanted = _squeeze(contains)
        try:
            found = _contains_text(pdf, wanted)
        except Exception as exc:
            return f"Text der PDF lässt sich nicht auslesen: {exc}"
        if not found:
            return f"Kennung {contains} nicht im Text gefunden"
    return None


def _contains_text(pdf: Path, wanted: str) -> bool:
    """Whether the text layer of ``pdf`` holds ``wanted`` (squeezed), searched from the last page.

    pdfium extracts text ten times faster than pypdf (2 ms against 16 ms a page),
    which counts when every PDF of a batch is checked; identifiers stand on the
    last pages (reply forms, signature pages).
    """
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(pdf))
    try:
        for index in reversed(range(len(document))):
            page = document[index]
            try:
                textpage = page.get_textpage()
                try:
                    if wanted in _squeeze(textpage.get_text_range()):
                        return True
                finally:
                    textpage.close()
            finally:
                page.close()
        return False
    finally:
        document.close()


# --- the worker processes --------------------------------------------------------


class _Batch:
    """One soffice process converting a list of sources into its own staging folder."""

    def __init__(self, soffice: str, sources: list[Path], workroot: Path, stageroot: Path,
                 timeout: float, attempt: int):
        self.sources = sources
        self.attempt = attempt
        self.timeout = timeout
        self.timed_out = False
        # stem -> source, in the order soffice works through them
        self.pending = {source.stem: source for source in sources}
        home = Path(tempfile.mkdtemp(prefix="batch-", dir=workroot))
        self.stage = Path(tempfile.mkdtemp(prefix="batch-", dir=stageroot))
        self.stderr_path = home / "stderr.txt"
        command = [
            soffice, "--headless", "--norestore", "--nologo", "--nodefault", "--nolockcheck",
            # an own profile per process: two soffice on one profile block each other
            f"-env:UserInstallation={(home / 'profile').as_uri()}",
            "--convert-to", PDF_FILTER, "--outdir", str(self.stage),
            *(str(source.resolve()) for source in sources),
        ]
        log.debug("Starte %s", command)
        # files, not pipes: a chatty soffice must never block on a full pipe
        with open(home / "stdout.txt", "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                start_new_session=True,  # own process group, so a timeout kills soffice.bin too
            )
        self.deadline = time.monotonic() + timeout

    def poll(self) -> int | None:
        """Return the exit code once the process has ended; kill it when past its deadline."""
        code = self.process.poll()
        if code is None and time.monotonic() > self.deadline:
            log.warning("LibreOffice nach %.0f s abgebrochen (Zeitüberschreitung)", self.timeout)
            self.timed_out = True
            self.kill()
            code = self.process.returncode
        return code

    def kill(self) -> None:
        """Kill the whole process group and reap the process."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass  # already gone
        self.process.wait()

    def finished_pdfs(self, ended: bool) -> list[tuple[Path, Path]]:
        """Take the complete PDFs out of ``pending``: (source, staged pdf) pairs."""
        done = []
        for stem, source in list(self.pending.items()):
            pdf = self.stage / f"{stem}.pdf"
            if not pdf.exists():
                continue
            # soffice creates the lock before the PDF and removes it after the last
            # byte, so "PDF seen, then no lock" means complete; a dead process
            # leaves stale locks, hence only while it runs.
            if not ended and (self.stage / f".~lock.{stem}.pdf#").exists():
                continue
            if not _has_eof_marker(pdf):
                continue  # still being written, or cut short by a crash
            del self.pending[stem]
            done.append((source, pdf))
        return done

    def reason(self, code: int) -> str:
        """Why the pending sources have no PDF, in words for the user."""
        if self.timed_out:
            text = f"Zeitüberschreitung: LibreOffice nach {self.timeout:.0f} s abgebrochen"
        elif code < 0:
            text = f"LibreOffice ist abgestürzt (Signal {-code})"
        elif code > 0:
            text = f"LibreOffice endete mit Code {code}"
        else:
            text = "LibreOffice hat keine PDF erzeugt"
        if self.attempt > 1:
            text += " (auch im zweiten Versuch)"
        try:
            stderr = self.stderr_path.read_text(errors="replace")
        except OSError:
            stderr = ""
        return text + _last_words(stderr)


class _Run:
    """Drives the batches of one ``convert_to_pdf`` call and publishes their PDFs."""

    def __init__(self, soffice: str, outdir: Path, timeout_per_document: float,
                 progress: Callable[[int], None] | None,
                 on_converted: Callable[[Path, Path], None] | None = None):
        self.soffice = soffice
        self.on_converted = on_converted
        self.outdir = outdir
        self.timeout_per_document = timeout_per_document
        self.progress = progress
        self.converted: dict[Path, Path] = {}
        self.failed: dict[Path, str] = {}
        self.active: list[_Batch] = []
        # profiles are big and private: system temp; staging sits inside outdir so
        # that publishing is a rename on one file system, never a copy
        self.stageroot = Path(tempfile.mkdtemp(prefix=".kdigital-pdf-", dir=outdir))
        self.workroot = Path(tempfile.mkdtemp(prefix="kdigital-soffice-"))

    def execute(self, chunks: list[list[Path]]) -> None:
        for chunk in chunks:
            self._start(chunk, attempt=1)
        while self.active:
            time.sleep(_POLL_INTERVAL)
            for batch in list(self.active):
                code = batch.poll()
                self._publish(batch.finished_pdfs(ended=code is not None))
                if code is not None:
                    self.active.remove(batch)
                    self._settle(batch, code)

    def _start(self, sources: list[Path], attempt: int) -> None:
        timeout = _STARTUP_TIMEOUT + self.timeout_per_document * len(sources)
        try:
            batch = _Batch(self.soffice, sources, self.workroot, self.stageroot, timeout, attempt)
        except OSError as exc:
            raise MissingDependencyError(
                f"LibreOffice ({self.soffice}) lässt sich nicht starten: {exc}. {_INSTALL_HINT}"
            ) from exc
        self.active.append(batch)

    def _publish(self, done: list[tuple[Path, Path]]) -> None:
        for source, staged in done:
            target = self.outdir / staged.name
            os.replace(staged, target)
            self.converted[source] = target
            if self.on_converted:
                self.on_converted(source, target)
        if done and self.progress:
            self.progress(len(done))

    def _settle(self, batch: _Batch, code: int) -> None:
        """Retry or give up on what an ended batch left unconverted."""
        missing = list(batch.pending.values())
        if not missing:
            return
        reason = batch.reason(code)
        # A clean exit without output means soffice could not load the file
        # (it says so on stderr); the same process would fail the same way again.
        if batch.attempt == 1 and (batch.timed_out or code != 0):
            log.warning("%s; neuer Versuch für %d Dokument(e)", reason, len(missing))
            # soffice works in argument order, so the first missing source is the
            # one it choked on: put it last, the others get their chance first.
            self._start(missing[1:] + missing[:1], attempt=2)
            return
        for source in missing:
            log.warning("%s: %s", source, reason)
            self.failed[source] = reason

    def close(self) -> None:
        """Stop what still runs (error or Ctrl-C) and remove profiles and staging."""
        for batch in self.active:
            batch.kill()
        self.active.clear()
        shutil.rmtree(self.workroot, ignore_errors=True)
        shutil.rmtree(self.stageroot, ignore_errors=True)


# --- small helpers ---------------------------------------------------------------


def _reject_stem_collisions(sources: list[Path]) -> None:
    seen: dict[str, Path] = {}
    for source in sources:
        other = seen.setdefault(source.stem, source)
        if other != source:
            raise ValueError(
                f"{other} und {source} ergäben dieselbe PDF {source.stem}.pdf; "
                "Quellen eines Aufrufs brauchen verschiedene Dateinamen"
            )


def _docx_problem(source: Path) -> str | None:
    """Why ``source`` is not a DOCX, or None. soffice would happily turn any junk into a PDF."""
    if not source.is_file():
        return f"Datei nicht gefunden: {source}"
    try:
        with zipfile.ZipFile(source) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError) as exc:
        return f"keine DOCX-Datei (kein Word-Dokument, {exc})"
    if "word/document.xml" not in names:
        return "keine DOCX-Datei (ZIP-Archiv ohne word/document.xml)"
    return None


@functools.lru_cache(maxsize=8)
def _require_version(soffice: str) -> None:
    try:
        version = soffice_version(soffice)
    except MissingDependencyError as exc:
        # Some wrappers cannot answer --version yet convert fine; the conversion
        # itself will tell if soffice is broken.
        log.warning("Version von LibreOffice unbekannt: %s", exc)
        return
    match = re.search(r"(\d+)\.(\d+)", version)
    if match and (int(match[1]), int(match[2])) < _MIN_VERSION:
        raise MissingDependencyError(
            f"{version} ({soffice}) ist zu alt: für getaggte PDF/A-Dateien wird LibreOffice "
            f"{'.'.join(map(str, _MIN_VERSION))} oder neuer gebraucht. {_INSTALL_HINT}"
        )
    log.debug("%s (%s)", version, soffice)


def _worker_count(workers: int | None, documents: int) -> int:
    if workers is None:
        if documents < _SMALL_BATCH:
            return 1
        workers = min(os.cpu_count() or 1, _MAX_DEFAULT_WORKERS)
    return max(1, min(workers, documents))


def _has_eof_marker(pdf: Path) -> bool:
    try:
        with open(pdf, "rb") as file:
            file.seek(max(0, pdf.stat().st_size - 1024))
            return b"%%EOF" in file.read()
    except OSError:
        return False


def _last_words(stderr: str) -> str:
    """'; letzte Meldung: <last meaningful stderr line>' or ''."""
    lines = [line.strip() for line in stderr.splitlines()
             if line.strip() and not line.strip().startswith(_STDERR_NOISE)]
    return f"; letzte Meldung: {lines[-1]}" if lines else ""


def _squeeze(text: str) -> str:
    """Text without whitespace, soft hyphens and hyphen look-alikes, for robust search.

    PDF text extraction breaks lines (and thus identifiers) wherever layout did.
    """
    text = unicodedata.normalize("NFKC", text).replace("\u00ad", "")
    text = text.replace("\u2010", "-").replace("\u2011", "-")
    return "".join(text.split())
