"""The archive of signed returns: intake, volume and manifest, published together.

Stage: ``inputs/returns/**`` -> ``outputs/archive/<Kampagne>_<JJJJ-MM-TT>_<n>.pdf`` with
``<name>.manifest.json``, ``<name>.manifest.csv`` and ``<name>/originals/``.

Order of work: validated inputs (roster, campaign), the QR decoder present, the
campaign ledger opened -> reserve the volume's name -> copy, hash, check and
assign every file, splitting scans by their QR codes (``intake``, ``scan``) ->
plan and write the volume (``volume``) -> hash it, write the manifest
(``manifest``) -> publish -> record a ``returned`` and an ``archived`` event per
document in the ledger (``ledger.sqlite``), in one commit, only once the volume
is published.

The closing status table counts what came back over the whole campaign: this
run's documents, and the returns the ledger holds from earlier runs (their files
are usually gone from the returns folder once archived), each shown as such.

Signature pages (VB) are checked against the current agreement
(``current_agreement``): the newest ``outputs/agreement/vereinbarung_<version>.docx``,
the one that went out for signature; only when there is none, the agreement
the current inputs give (as ``kdigital agreement`` would write it now).

Nothing is ever overwritten and nothing is published half: the name is
reserved by creating its hidden staging folder (``mkdir`` fails when taken),
files are published with ``os.link`` (fails when the target exists), the
volume last, so a volume on disk always has its manifest and originals beside
it. An error or interrupt before that removes the staging folder. The inputs
are only read.
"""

from __future__ import annotations

import datetime as dt
import errno
import functools
import hashlib
import logging
import os
import re
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from kdigital.errors import InputError
from kdigital.identifiers import DISTRICT_NAME, KINDS, AgreementVersion, Party, Unnamed, district_ags
from kdigital.intake import Intake, Rejection, ReturnedDocument
from kdigital.volume import Placement

log = logging.getLogger(__name__)

RETURNS = "returns"  # below inputs/
FOLDER = "archive"  # below outputs/
DISTRICT_KIND = "VB"  # the district signs only the agreement
AGREEMENT_KIND = "VB"  # expected only from participants (Interesse ja) and the district


@dataclass(frozen=True)
class EarlierReturn:
    """A return the ledger holds from an earlier run: the volume it was archived into, when it came."""

    ags: str
    kind: str
    volume: str | None  # the volume's name without .pdf; None for a return recorded without one
    received: dt.date

    @property
    def label(self) -> str:
        """Where to find it: 'Band <name>', else 'Eingang <date>'."""
        return f"Band {self.volume}" if self.volume else f"Eingang {self.received:%d.%m.%Y}"


@dataclass(frozen=True)
class PartyStatus:
    """What came back from one party: kind -> number of accepted returns, and the kinds expected from it.

    ``received`` counts this run's documents, ``earlier`` holds per kind the labels
    of the returns of earlier runs (``EarlierReturn.label``). A kind in
    ``received`` but not in ``expected`` is shown only when it came back anyway
    (a signature page from a municipality that did not say ja).
    """

    party: Party
    received: dict[str, int]
    expected: frozenset[str] = frozenset()
    earlier: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def has(self, kind: str) -> bool:
        """True when ``kind`` came back, in this run or an earlier one."""
        return bool(self.received.get(kind) or self.earlier.get(kind))

    def cell(self, kind: str) -> str:
        """The table cell for ``kind``: eingegangen, 2× (doppelt), früher (Band …), both, fehlt, or – (not expected)."""
        count = self.received.get(kind, 0)
        earlier = self.earlier.get(kind, ())
        if count == 0 and not earlier:
            return "fehlt" if kind in self.expected else "–"
        parts = []
        if count:
            parts.append("eingegangen" if count == 1 else f"{count}× (doppelt)")
        if earlier:
            times = f" {len(earlier)}×" if len(earlier) > 1 else ""
            parts.append(f"früher{times} ({', '.join(dict.fromkeys(earlier))})")
        return " + ".join(parts)


def tally(status: Sequence[PartyStatus], kind: str) -> str:
    """The total of a kind's column: '7 von 15' (expected parties that returned it, of those expected).

    Parties counted only for a return of an earlier run are named: '7 von 15 (davon 3 früher)'.
    """
    expected = [s for s in status if kind in s.expected]
    returned = [s for s in expected if s.has(kind)]
    text = f"{len(returned)} von {len(expected)}"
    earlier = sum(1 for s in returned if not s.received.get(kind))
    extra = sum(1 for s in status if kind not in s.expected and s.has(kind))
    return text + (f" (davon {earlier} früher)" if earlier else "") + (f" (+{extra} nicht erwartet)" if extra else "")


@dataclass(frozen=True)
class ArchiveRun:
    """What ``make_archive`` did. ``volume`` is None when no file was accepted."""

    volume: Path | None
    manifest: Path | None
    csv: Path | None
    pages: int
    placements: list[Placement]
    rejected: list[Rejection]
    kinds: tuple[str, ...]  # the document kinds of the status table
    status: list[PartyStatus]

    @property
    def flagged(self) -> list[Placement]:
        """The documents the archivist must look at (an older agreement signed, an unreadable code)."""
        return [p for p in self.placements if p.document.flags]


def parties(roster, campaign) -> dict[str, Party]:
    """The parties a return can belong to: every municipality, and the district (AGS <Kreis>000)."""
    from kdigital.addressing import designation

    result = {m.ags: Party(m.ags, designation(m), m.received, interest=m.interest) for m in roster}
    district = district_ags(result, getattr(campaign, "district_key", "") or "")
    if district:
        result.setdefault(district, Party(district, DISTRICT_NAME, district=True))
    return result


def make_archive(ws, *, returns: Path | None = None, progress=None, now: dt.datetime | None = None) -> ArchiveRun:
    """Archive every file of the returns folder; see the module docstring for the guarantees.

    Rejected files are listed in the result (and the manifest); they do not stop
    the volume of the accepted ones. Raises InputError when there is nothing to
    read or the ledger cannot be opened, ValidationError when the workbooks are
    wrong, MissingDependencyError without the QR decoder.
    """
    from kdigital.batch import Progress
    from kdigital.inputs import load_inputs
    from kdigital.intake import read_returns, sha256_file
    from kdigital.ledger import Ledger
    from kdigital.manifest import VolumeFile, manifest, write_manifest
    from kdigital.scan import require
    from kdigital.volume import VolumeInfo, build_volume, plan

    progress = progress or Progress()
    inputs = load_inputs(ws)
    require()
    folder, files = _returns(ws, returns)
    known = parties(inputs.roster, inputs.campaign)
    now = now or dt.datetime.now().astimezone()
    archive = ws.outputs / FOLDER
    campaign = inputs.campaign.campaign_id
    with Ledger.open(ws.root) as ledger, _Slot(archive, f"{campaign}_{now:%Y-%m-%d}") as slot:
        progress.start("Prüfen", len(files))
        try:
            intake = read_returns(files, folder, known, campaign, slot.originals, slot.work,
                                  shown=lambda p: _shown(p, ws.root), advance=progress.advance,
                                  agreement=functools.partial(current_agreement, ws, inputs),
                                  unnamed=unnamed_kind(ws, campaign, ledger))
        finally:
            progress.finish()
        kinds, status = status_table(known, intake.documents, earlier_returns(ledger, campaign))
        if not intake.documents:
            return ArchiveRun(None, None, None, 0, [], intake.rejected, kinds, status)
        info = VolumeInfo(slot.name, campaign, now, _version(),
                          f"Der Kreisausschuss – {inputs.campaign.unit}".rstrip(" –"))
        placements, index = plan(intake.documents, intake.rejected, info)
        progress.start("Band", len(placements))
        try:
            pages = build_volume(slot.pdf, placements, index, intake.rejected, info, slot.originals, slot.work,
                                 advance=progress.advance)
        finally:
            progress.finish()
        volume = VolumeFile(slot.pdf.name, slot.pdf.stat().st_size, sha256_file(slot.pdf), pages)
        data = manifest(info, volume, placements, intake.rejected, workspace=ws.root,
                        returns=_shown(folder, ws.root))
        write_manifest(data, slot.json, slot.csv)
        shutil.rmtree(slot.work, ignore_errors=True)
        published = slot.publish()
        record_events(ledger, campaign, volume, placements, now)
    return ArchiveRun(published / slot.pdf.name, published / slot.json.name, published / slot.csv.name, pages,
                      placements, intake.rejected, kinds, status)


def classify_returns(ws, *, returns: Path | None = None, progress=None) -> tuple[Intake, tuple, list]:
    """What ``make_archive`` would accept and reject, without writing anything: (intake, kinds, status).

    The copies the checks need go to a temporary folder that is removed again.
    """
    import tempfile

    from kdigital.batch import Progress
    from kdigital.inputs import load_inputs
    from kdigital.intake import read_returns
    from kdigital.scan import require

    progress = progress or Progress()
    inputs = load_inputs(ws)
    require()
    folder, files = _returns(ws, returns)
    known = parties(inputs.roster, inputs.campaign)
    unnamed = unnamed_kind(ws, inputs.campaign.campaign_id)
    earlier = read_earlier_returns(ws, inputs.campaign.campaign_id)
    with tempfile.TemporaryDirectory(prefix="kdigital-intake-") as temp:
        originals, work = Path(temp) / "originals", Path(temp) / "work"
        originals.mkdir()
        work.mkdir()
        progress.start("Prüfen", len(files))
        try:
            intake = read_returns(files, folder, known, inputs.campaign.campaign_id, originals, work,
                                  shown=lambda p: _shown(p, ws.root), advance=progress.advance,
                                  agreement=functools.partial(current_agreement, ws, inputs), unnamed=unnamed)
        finally:
            progress.finish()
    kinds, status = status_table(known, intake.documents, earlier)
    return intake, kinds, status


def _returns(ws, returns: Path | None) -> tuple[Path, list[Path]]:
    """The returns folder and its files; InputError when it is missing or empty."""
    from kdigital.intake import list_returns

    folder = (returns or ws.inputs / RETURNS).resolve()
    if not folder.is_dir():
        raise InputError(f"Eingangsordner {_shown(folder, ws.root)} fehlt. Eingegangene Rückläufe (PDF, Scans, "
                         f"E-Mails) dort ablegen oder mit --returns einen Ordner angeben.")
    files = list_returns(folder)
    if not files:
        raise InputError(f"Im Eingangsordner {_shown(folder, ws.root)} liegen keine Dateien – nichts zu archivieren.")
    return folder, files


def agreement_generated(ws, campaign: str, ledger=None) -> str | None:
    """Where an agreement for signature shows it was generated, in words; None when nothing does.

    Looked for: a file in ``outputs/agreement`` (the agreement, its signature
    pages), or a ``generated`` event of kind VB of this campaign in the ledger
    (``ledger``, else the workspace's, when there is one: it is never created here).
    """
    from kdigital import agreement
    from kdigital.ledger import GENERATED, Ledger

    folder = ws.outputs / agreement.FOLDER
    if folder.is_dir():
        found = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith((".", "~$")))
        if found:
            return _shown(found[0], ws.root)
    if ledger is None:
        if not Ledger.exists(ws.root):
            return None
        with Ledger.open(ws.root) as opened:
            events = opened.events(GENERATED, kind=agreement.KIND)
    else:
        events = ledger.events(GENERATED, kind=agreement.KIND)
    if any(e.campaign in (None, campaign) for e in events):
        return "Kampagnenprotokoll (ledger.sqlite)"
    return None


def unnamed_kind(ws, campaign: str, ledger=None) -> Unnamed:
    """What a return matched by a bare AGS, its kind named nowhere, becomes.

    Before any agreement was generated only the reply form can come back: it is
    taken as one, with a note. Afterwards it may as well be a signature page:
    rejected, with the reason.
    """
    generated = agreement_generated(ws, campaign, ledger)
    if generated is None:
        return Unnamed("IB", "als Rückantwort (IB) angenommen, weil noch keine Vereinbarung erzeugt wurde (nichts "
                             "in outputs/agreement, nichts im Kampagnenprotokoll) – bitte prüfen")
    return Unnamed(None, f"eine Vereinbarung ist bereits erzeugt ({generated}), es kann Rückantwort oder "
                         "Unterschriftsseite sein")


def current_agreement(ws, inputs) -> AgreementVersion | None:
    """The agreement signature pages are checked against (see the module docstring); None when there is none."""
    from kdigital import agreement

    issued = sorted((ws.outputs / agreement.FOLDER).glob("vereinbarung_*.docx"),
                    key=lambda p: (p.stat().st_mtime, p.name))
    for path in reversed(issued):
        fingerprint = _issued_fingerprint(path.read_bytes())
        if fingerprint:
            return AgreementVersion(path.stem.split("_", 1)[1], fingerprint, _shown(path, ws.root))
        log.warning("%s: Fingerprint nicht zu ermitteln – Datei übergangen", _shown(path, ws.root))
    if agreement.check(inputs, ws.roster.name):
        return None  # no agreement can be made from these inputs: nothing to compare with
    from kdigital.render import DocumentTemplate

    templates = [ws.template(agreement.TEMPLATE), ws.template(agreement.SIGNATURE_TEMPLATE)]
    context = agreement.build_context(inputs)
    version = agreement.version_of([t.read_bytes() for t in templates], context)
    draft = DocumentTemplate(templates[0]).render({**context, "version": version, "fingerprint": ""})
    return AgreementVersion(version, agreement.fingerprint_of(draft), "aus den aktuellen Eingaben berechnet")


def _issued_fingerprint(docx: bytes) -> str | None:
    """The fingerprint an issued agreement was made with.

    The fingerprint is computed with itself left empty and then printed in the
    body, so it is the one 12-digit hex word whose removal gives it back.
    """
    from kdigital.agreement import body_text

    text = body_text(docx)
    for word in dict.fromkeys(re.findall(r"(?<![0-9a-f])[0-9a-f]{12}(?![0-9a-f])", text)):
        if hashlib.sha256(text.replace(word, "").encode("utf-8")).hexdigest()[:12] == word:
            return word
    return None


def record_events(ledger, campaign: str, volume, placements: Sequence[Placement], now: dt.datetime) -> None:
    """A ``returned`` and an ``archived`` event per document of a published volume, in one commit.

    ``returned``: the source file (workspace-relative as shown), its SHA-256, how it
    was matched (QR, Dateiname, Text, E-Mail), the pages of the source the
    document is, and the date received with where it comes from (the event's own
    time is when the archive ran). ``archived``: the volume, its SHA-256 and the document's pages in
    it. A ledger that fails here records nothing and leaves the published volume
    as it is; the error is reported as a warning.
    """
    try:
        with ledger.transaction():
            for p in placements:
                d = p.document
                detail = {"matched_by": d.route, "pages": list(d.page_range), "received": d.received.isoformat(),
                          "received_from": d.received_from}
                if d.part:
                    detail["attachment"] = d.part
                if d.flags:
                    detail["flags"] = list(d.flags)
                if d.codes:  # the QR payloads: which version of the agreement a page was signed in
                    detail["codes"] = list(d.codes)
                ledger.record("returned", ags=d.party.ags, kind=d.kind, campaign=campaign, file=d.shown,
                              sha256=d.file_sha256, detail=detail, time=now)
                ledger.record("archived", ags=d.party.ags, kind=d.kind, campaign=campaign, file=volume.name,
                              sha256=volume.sha256, detail={"volume": volume.name, "pages": [p.first, p.last]},
                              time=now)
    except (sqlite3.Error, OSError) as exc:  # the volume is published either way
        log.warning("Band %s veröffentlicht, aber nicht im Kampagnenprotokoll %s vermerkt (%s: %s) – "
                    "„kdigital status“ zeigt diese Rückläufe nicht", volume.name, ledger.path,
                    type(exc).__name__, exc)


def earlier_returns(ledger, campaign: str) -> list[EarlierReturn]:
    """The returns of ``campaign`` the ledger holds (``returned`` events), with the volume each went into.

    A return and its ``archived`` event are recorded together with the same time
    (``record_events``); a ``returned`` event without one (entered otherwise)
    still counts, shown with its date received. Events without a campaign count
    too, as in ``kdigital status``. Only reads.
    """
    from kdigital.ledger import ARCHIVED, RETURNED
    from kdigital.status import received_on

    def ours(e) -> bool:
        return e.campaign in (None, campaign) and e.kind in KINDS

    volumes = {(e.ags, e.kind, e.time): e.detail.get("volume") or e.file
               for e in ledger.events(ARCHIVED) if ours(e)}
    result = []
    for e in ledger.events(RETURNED):
        if ours(e):
            volume = volumes.get((e.ags, e.kind, e.time))
            result.append(EarlierReturn(e.ags, e.kind, Path(volume).stem if volume else None, received_on(e)))
    return result


def read_earlier_returns(ws, campaign: str) -> list[EarlierReturn]:
    """``earlier_returns`` from the workspace's ledger; none when there is none (it is never created here)."""
    from kdigital.ledger import Ledger

    if not Ledger.exists(ws.root):
        return []
    with Ledger.open(ws.root) as ledger:
        return earlier_returns(ledger, campaign)


def status_table(known: dict[str, Party], documents: Sequence[ReturnedDocument],
                 earlier: Sequence[EarlierReturn] = ()):
    """(kinds, one PartyStatus per party in AGS order): IB always, other kinds once any came back.

    ``documents`` are this run's, ``earlier`` the returns of earlier runs (from
    the ledger); both count as received, each shown as what it is. Expected from
    a municipality: every kind shown, except the signature page (VB) from one
    that did not say ja; from the district only its signature page.
    """
    counts: dict[tuple[str, str], int] = {}
    for d in documents:
        counts[(d.party.ags, d.kind)] = counts.get((d.party.ags, d.kind), 0) + 1
    before: dict[tuple[str, str], list[str]] = {}
    for e in sorted(earlier, key=lambda e: (e.received, e.volume or "")):
        if e.ags in known:
            before.setdefault((e.ags, e.kind), []).append(e.label)
    kinds = tuple(k for k in KINDS if k == "IB" or any(kind == k for _, kind in [*counts, *before]))
    rows = []
    for ags in sorted(known):
        party = known[ags]
        if party.district and DISTRICT_KIND not in kinds:
            continue
        relevant = (DISTRICT_KIND,) if party.district else kinds
        expected = frozenset(k for k in relevant if k != AGREEMENT_KIND or party.signs_agreement)
        rows.append(PartyStatus(party, {k: counts.get((ags, k), 0) for k in relevant}, expected,
                                {k: tuple(before[(ags, k)]) for k in relevant if (ags, k) in before}))
    return kinds, rows


def _shown(path: Path, root: Path) -> str:
    """``path`` relative to the workspace when inside it, else absolute; with forward slashes."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("kdigital")
    except Exception:  # running from a source tree without installed metadata
        from kdigital import __version__

        return __version__


class _Slot:
    """A reserved volume name ``<prefix>_<n>`` with its hidden staging folder; publish moves it in place."""

    def __init__(self, folder: Path, prefix: str):
        folder.mkdir(parents=True, exist_ok=True)
        pattern = re.compile(rf"^\.?{re.escape(prefix)}_(\d+)(?:\.|$)")
        taken = [int(m.group(1)) for entry in os.listdir(folder) if (m := pattern.match(entry))]
        number = max(taken, default=0) + 1
        while True:
            self.name = f"{prefix}_{number}"
            self.staging = folder / f".{self.name}.staging"
            try:
                self.staging.mkdir()  # atomic: the reservation
                break
            except FileExistsError:
                number += 1
        self.folder = folder
        self.pdf = self.staging / f"{self.name}.pdf"
        self.json = self.staging / f"{self.name}.manifest.json"
        self.csv = self.staging / f"{self.name}.manifest.csv"
        self.originals = self.staging / self.name / "originals"
        self.work = self.staging / "work"
        self.originals.mkdir(parents=True)
        self.work.mkdir()

    def __enter__(self) -> "_Slot":
        return self

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)

    def publish(self) -> Path:
        """Move folder, manifests and volume (last) into the archive folder; never overwrites."""
        items = [self.staging / self.name, self.json, self.csv, self.pdf]
        for item in items:
            if (self.folder / item.name).exists():
                raise InputError(f"{self.folder / item.name} existiert bereits – nichts überschrieben.")
        done: list[Path] = []
        try:
            os.rename(items[0], self.folder / self.name)
            done.append(self.folder / self.name)
            for item in items[1:]:
                _link(item, self.folder / item.name)
                done.append(self.folder / item.name)
        except BaseException:
            for path in reversed(done):
                if path.is_dir():
                    os.rename(path, items[0])
                else:
                    path.unlink(missing_ok=True)
            raise
        return self.folder


def _link(source: Path, target: Path) -> None:
    """Publish ``source`` as ``target``; fails instead of replacing an existing file."""
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno in (errno.EEXIST,):
            raise InputError(f"{target} existiert bereits – nichts überschrieben.")
        # File systems without hard links: check, then rename (a race here is as unlikely as harmless).
        if target.exists():
            raise InputError(f"{target} existiert bereits – nichts überschrieben.")
        os.replace(source, target)
        return
    source.unlink()
