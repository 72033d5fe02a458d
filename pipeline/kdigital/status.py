"""Where the campaign stands: answers, returned forms and who is overdue, per municipality.

``build_rows`` is the pure part: roster + ledger events + a date -> one ``StatusRow``
per municipality. Around it: ``load_status`` reads the roster and the ledger
(a workspace without a ledger has nothing returned yet; the report never creates
one). ``kdigital.status_views`` shows the result: a text table, a workbook for
the office and a self-contained HTML page with a progress chart.

Overdue means: the deadline (``Rückmeldefrist``) is before the report date, the
roster records no answer (neither ``Interesse`` nor an ``Eingang`` date – an answer
by e-mail or telephone entered there counts) and no reply form was returned.

A return counts from its date received (``kdigital archive`` records it in the
ledger; for returns archived before it did, it is read from the volume's
manifest), not from when the archive ran: a report on a date (``--stichtag``)
leaves out what was received after it. A return with no date received on
record (entered by other means) counts, shown with the date of its event. A signature page of the agreement is
expected from the municipalities that said ja and from the district (its row
follows the municipalities'); from the others it is shown only when it came
anyway.

A signature page counts only for the current version of the agreement: the
version of the newest ``generated`` event of kind VB on the report date (its
detail, else the file name ``…_<version>.docx``). A page of another version –
by the code read from it (the event's detail, else the volume's manifest), by
intake's flag "ältere Fassung unterschrieben", or because it was archived or
received before the current version was first generated – is shown as
"ja (ältere Fassung)" and not counted: the party still has to sign the current
text. A page whose version cannot be told (matched by file name, no code) counts
as current and is marked as not checked (``agreement_unverified``). Without a
generated agreement in the ledger only intake's flag makes a page older.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from kdigital import addressing, qr
from kdigital.campaign import Campaign
from kdigital.identifiers import DISTRICT_NAME, district_ags
from kdigital.ledger import ARCHIVED, GENERATED, RETURNED, Event
from kdigital.roster import Municipality
from kdigital.workspace import Workspace

REPLY_KIND = "IB"  # the reply form travels with the interest request letter
AGREEMENT_KIND = "VB"  # a signature page of the agreement
REMINDER_KIND = "ER"  # a reminder letter (kdigital.reminders.KIND)
YES, NO, OPEN = "ja", "nein", "offen"
_ANSWERS = {True: YES, False: NO, None: OPEN}


NOT_EXPECTED = "–"
OLDER_VERSION = "ältere Fassung"  # the start of intake's flag "ältere Fassung unterschrieben (…)"


@dataclass(frozen=True)
class StatusRow:
    """The state of one municipality (or of the district, ``district``) on the report date."""

    ags: str
    name: str  # 'Gemeinde Fronhausen'
    answer: str  # ja / nein / offen, from the roster's Interesse ('–' for the district)
    reply_returned: bool  # a reply form (IB) is in the ledger as returned
    agreement_returned: bool  # a signature page (VB) of the current agreement version is in the ledger as returned
    overdue: bool
    received: dt.date | None = None  # the roster's Eingang
    reply_received: dt.date | None = None  # date received of the first reply form returned
    matched_by: str = ""  # how that return was recognised: QR code, file name, text
    agreement_received: dt.date | None = None  # date received of the signature page shown (current or older)
    reminded: dt.date | None = None  # date of the last reminder written (ledger, kind ER)
    agreement_expected: bool = False  # a participant (Interesse ja) or the district
    agreement_older: bool = False  # no page of the current version, only of another one came back (not counted)
    agreement_unverified: bool = False  # the page counted has no version on record: taken as current
    agreement_version: str | None = None  # the version of the page shown, where on record
    district: bool = False

    @property
    def agreement_any(self) -> bool:
        """A signature page came back, of whatever version."""
        return self.agreement_returned or self.agreement_older

    @property
    def agreement(self) -> str:
        """The signature page in words: ja, ja (ältere Fassung), nein (expected, missing) or – (not expected)."""
        if self.agreement_returned:
            return YES
        if self.agreement_older:
            return f"{YES} ({OLDER_VERSION})"
        return NO if self.agreement_expected else NOT_EXPECTED


@dataclass(frozen=True)
class Totals:
    """Counts over all rows; ``agreements`` counts the expected signature pages of the current version returned."""

    municipalities: int
    yes: int
    no: int
    open: int
    overdue: int
    replies: int
    agreements: int
    agreements_expected: int = 0  # the municipalities that said ja, and the district
    agreements_unexpected: int = 0  # returned anyway (current version) by a municipality that did not say ja
    district: bool = False  # the district is one of the expected
    agreements_older: int = 0  # expected, but only a page of another version came back: still to sign


@dataclass(frozen=True)
class StatusReport:
    """The rows and what they were computed against; ``district`` is the district's row (signature page only)."""

    campaign_id: str
    deadline: dt.date
    today: dt.date
    rows: list[StatusRow]
    district: StatusRow | None = None
    agreement_version: str | None = None  # the current version of the agreement, when one was generated

    @property
    def deadline_passed(self) -> bool:
        return self.today > self.deadline

    @property
    def all_rows(self) -> list[StatusRow]:
        """The municipalities' rows, then the district's."""
        return self.rows + ([self.district] if self.district else [])

    @property
    def totals(self) -> Totals:
        rows = self.rows
        parties = self.all_rows
        return Totals(len(rows), sum(r.answer == YES for r in rows), sum(r.answer == NO for r in rows),
                      sum(r.answer == OPEN for r in rows), sum(r.overdue for r in rows),
                      sum(r.reply_returned for r in rows),
                      sum(r.agreement_returned and r.agreement_expected for r in parties),
                      sum(r.agreement_expected for r in parties),
                      sum(r.agreement_returned and not r.agreement_expected for r in parties),
                      self.district is not None,
                      sum(r.agreement_older and r.agreement_expected for r in parties))

    def agreements_text(self) -> str:
        """'2 von 4 erwartet (3 Kommunen mit „ja“ und der Landkreis)', those of an older version, the unexpected."""
        t = self.totals
        who = f"{t.yes} Kommunen mit „ja“" + (" und der Landkreis" if t.district else "")
        text = f"{t.agreements} von {t.agreements_expected} erwartet ({who})"
        if t.agreements_older:
            text += f", {t.agreements_older} davon nur in älterer Fassung (neu zu unterschreiben)"
        if t.agreements_unexpected:
            text += f", dazu {t.agreements_unexpected} ohne „ja“"
        return text


@dataclass(frozen=True)
class _Returns:
    """The returns that count on the report date: the first reply form and the signature page to show.

    ``standing`` says per AGS how that page stands against the current version:
    ``CURRENT``, ``UNVERIFIED`` (no version on record, counts) or ``OLDER``.
    """

    reply: dict[str, Event]
    agreement: dict[str, Event]
    standing: dict[str, str]
    version: str | None = None  # the current agreement version, when one was generated


CURRENT, UNVERIFIED, OLDER = "current", "unverified", "older"
_RANK = {CURRENT: 0, UNVERIFIED: 1, OLDER: 2}  # which page a row shows: a current one before an older one


@dataclass(frozen=True)
class _Agreement:
    """The current agreement on the report date: its version, fingerprint (when on record), first generated."""

    version: str
    fingerprint: str | None
    since: dt.datetime  # the first ``generated`` event of this version


_VERSION_IN_NAME = re.compile(r"_(?P<version>[0-9a-f]{8})\.(?:docx|pdf)$")
_FLAG_VERSION = re.compile(r"\bVersion (?P<version>[0-9a-f]+)")
_FLAG_FINGERPRINT = re.compile(r"\bFingerprint (?P<fingerprint>[0-9a-f]+)")


def generated_version(e: Event) -> str | None:
    """The agreement version a ``generated`` VB event is of: its detail, else its file name (``…_<version>.docx``)."""
    version = e.detail.get("version")
    if version:
        return str(version)
    match = _VERSION_IN_NAME.search(Path(e.file or "").name)
    return match["version"] if match else None


def current_agreement(events: Iterable[Event], today: dt.date) -> _Agreement | None:
    """The version of the newest agreement generated by ``today``; None when the ledger shows none."""
    generated = sorted((e for e in events if e.event == GENERATED and e.kind == AGREEMENT_KIND
                        and e.time.astimezone(_timezone()).date() <= today and generated_version(e)),
                       key=lambda e: (e.time, e.id))
    if not generated:
        return None
    newest = generated[-1]
    version = generated_version(newest)
    same = [e for e in generated if generated_version(e) == version]
    fingerprint = next((str(e.detail["fingerprint"]) for e in reversed(same) if e.detail.get("fingerprint")), None)
    return _Agreement(version, fingerprint, same[0].time)


def page_version(e: Event) -> tuple[str | None, str | None]:
    """(version, fingerprint) a returned signature page is of, as far as its event tells; None for unknown.

    Looked for: ``version``/``fingerprint`` in the detail, the QR codes read from it
    (``codes``/``qr_codes``, payloads ``…;V=<version>;F=<fingerprint>``), then intake's
    flag "ältere Fassung unterschrieben (Version …" or "(Fingerprint …".
    """
    version = e.detail.get("version") or None
    fingerprint = e.detail.get("fingerprint") or None
    codes = e.detail.get("codes") or e.detail.get("qr_codes") or ()
    for text in [codes] if isinstance(codes, str) else codes:
        code = qr.parse(str(text))
        if code and (code.version or code.fingerprint):
            version, fingerprint = version or code.version, fingerprint or code.fingerprint
            break
    for flag in _older_flags(e):
        if not version and (match := _FLAG_VERSION.search(flag)):
            version = match["version"]
        if not fingerprint and (match := _FLAG_FINGERPRINT.search(flag)):
            fingerprint = match["fingerprint"]
    return (str(version) if version else None), (str(fingerprint) if fingerprint else None)


def recorded_received(e: Event) -> dt.date | None:
    """The date received recorded with a return (``kdigital archive``, or its manifest); None when none is."""
    try:
        return dt.date.fromisoformat(str(e.detail["received"]))
    except (KeyError, ValueError):
        return None


def received_on(e: Event) -> dt.date:
    """The date a returned document was received: as recorded with it, else the day of the event."""
    return recorded_received(e) or e.time.astimezone(_timezone()).date()


def _received_by(e: Event, today: dt.date) -> bool:
    # Without a recorded date received a return counts: the event's own time (when it was
    # archived or entered) says only that it came in before then.
    recorded = recorded_received(e)
    return recorded is None or recorded <= today


def _older_flags(e: Event) -> list[str]:
    return [str(flag) for flag in e.detail.get("flags") or () if str(flag).startswith(OLDER_VERSION)]


def standing(e: Event, current: _Agreement | None) -> str:
    """How a returned signature page stands against the current agreement: CURRENT, UNVERIFIED or OLDER."""
    version, fingerprint = page_version(e)
    if current is None:  # no agreement generated on record: only intake's flag can tell
        return OLDER if _older_flags(e) else CURRENT if version or fingerprint else UNVERIFIED
    if fingerprint and current.fingerprint and fingerprint == current.fingerprint:
        return CURRENT  # the same text, whatever the version says (e.g. only the layout changed)
    if version:
        return CURRENT if version == current.version else OLDER
    if fingerprint and current.fingerprint:
        return CURRENT if fingerprint == current.fingerprint else OLDER
    if _older_flags(e):
        return OLDER
    # No version on record: a page archived, or received, before the current version
    # existed cannot be of it.
    received = recorded_received(e)
    if e.time < current.since or (received and received < current.since.astimezone(_timezone()).date()):
        return OLDER
    return UNVERIFIED


def _returns(events: Iterable[Event], today: dt.date) -> tuple[_Returns, dict[str, dt.date]]:
    """(the returns received by ``today``, AGS -> date of the last reminder)."""
    events = list(events)
    current = current_agreement(events, today)
    reply: dict[str, Event] = {}
    agreement: dict[str, Event] = {}
    standings: dict[str, str] = {}
    reminded: dict[str, dt.date] = {}
    returned = []
    for e in sorted(events, key=lambda e: (e.time, e.id)):
        if e.event == RETURNED and e.kind in (REPLY_KIND, AGREEMENT_KIND) and _received_by(e, today):
            returned.append(e)
        elif e.event == GENERATED and e.kind == REMINDER_KIND:
            reminded[e.ags] = _reminder_date(e)
    for e in sorted(returned, key=lambda e: (received_on(e), e.time, e.id)):
        if e.kind == REPLY_KIND:
            reply.setdefault(e.ags, e)
            continue
        state = standing(e, current)
        if e.ags not in agreement or _RANK[state] < _RANK[standings[e.ags]]:
            agreement[e.ags] = e  # the first of the current version, else the first one
            standings[e.ags] = state
    return _Returns(reply, agreement, standings, current.version if current else None), reminded


def _agreement_fields(returns: _Returns, ags: str) -> dict:
    """The StatusRow fields of the signature page shown for ``ags``."""
    page = returns.agreement.get(ags)
    if page is None:
        return {"agreement_returned": False}
    state = returns.standing[ags]
    return {"agreement_returned": state != OLDER, "agreement_older": state == OLDER,
            "agreement_unverified": state == UNVERIFIED, "agreement_received": received_on(page),
            "agreement_version": page_version(page)[0]}


def build_rows(roster: Sequence[Municipality], events: Iterable[Event], deadline: dt.date,
               today: dt.date) -> list[StatusRow]:
    """One row per municipality, in roster order, from its answer and the ledger's events.

    ``events`` may hold anything; only ``returned`` events of kind IB and VB
    received by ``today`` and ``generated`` events of kind ER and VB (the current
    agreement version) count. Events for AGS not in the roster are ignored.
    """
    returns, reminded = _returns(events, today)
    rows = []
    for m in roster:
        reply = returns.reply.get(m.ags)
        answered = m.interest is not None or m.received is not None
        rows.append(StatusRow(
            ags=m.ags,
            name=addressing.designation(m),
            answer=_ANSWERS[m.interest],
            reply_returned=reply is not None,
            overdue=today > deadline and not answered and reply is None,
            received=m.received,
            reply_received=received_on(reply) if reply else None,
            matched_by=_matched_by(reply),
            reminded=reminded.get(m.ags),
            agreement_expected=m.interest is True,
            **_agreement_fields(returns, m.ags),
        ))
    return rows


def district_row(ags: str, events: Iterable[Event], today: dt.date) -> StatusRow:
    """The district's row: it signs the agreement and answers nothing else."""
    returns, _ = _returns(events, today)
    return StatusRow(ags=ags, name=DISTRICT_NAME, answer=NOT_EXPECTED, reply_returned=False, overdue=False,
                     matched_by="", agreement_expected=True, district=True, **_agreement_fields(returns, ags))


def _reminder_date(e: Event) -> dt.date:
    # The reminder's own date (its Stichtag) is in the detail; the event time is when it was written.
    try:
        return dt.date.fromisoformat(str(e.detail["datum"]))
    except (KeyError, ValueError):
        return e.time.astimezone(_timezone()).date()


_MATCHED_BY = {"qr": "QR-Code", "filename": "Dateiname", "file_name": "Dateiname", "name": "Dateiname",
               "text": "Text"}


def _matched_by(e: Event | None) -> str:
    if e is None:
        return ""
    raw = str(e.detail.get("matched_by") or "")
    return _MATCHED_BY.get(raw.casefold(), raw)


def _timezone():
    from kdigital.dispatch import TIMEZONE

    return TIMEZONE


# -- reading ---------------------------------------------------------------------------


def read_events(ws: Workspace, campaign_id: str) -> list[Event]:
    """The ledger's returned, reminder and agreement-generated events of this campaign; none without a ledger.

    Events without a campaign count too: the ledger belongs to the workspace, and
    the workspace to one campaign.
    """
    from kdigital.ledger import Ledger

    if not Ledger.exists(ws.root):  # a report must not create the ledger
        return []
    with Ledger.open(ws.root) as ledger:
        events = (ledger.events(RETURNED) + ledger.events(GENERATED, kind=REMINDER_KIND)
                  + ledger.events(GENERATED, kind=AGREEMENT_KIND))
        archived = ledger.events(ARCHIVED)
    events = [e for e in events if e.campaign in (None, campaign_id)]
    return _with_received_dates(ws, events, archived)


def _with_received_dates(ws: Workspace, events: list[Event], archived: list[Event]) -> list[Event]:
    """``events`` with what the ledger does not hold of a return taken from the volume's manifest.

    That is the date received (returns recorded before the ledger held it) and,
    for a signature page, the QR codes read from it (``qr_codes``: they carry
    the agreement version it was signed in). A ``returned`` event and the
    ``archived`` event of the same run share its time; the latter names the
    volume, whose manifest records both for each source. Where neither has the
    date, the day of archiving stands in (``received_on``).
    """
    import json
    from dataclasses import replace

    volumes = {(e.ags, e.kind, e.time): e.detail.get("volume") for e in archived}
    manifests: dict[str, list[dict]] = {}
    result = []
    for e in events:
        wanted = {"received"} - e.detail.keys()
        if e.event == RETURNED and e.kind == AGREEMENT_KIND and page_version(e) == (None, None):
            wanted.add("qr_codes")
        volume = volumes.get((e.ags, e.kind, e.time)) if e.event == RETURNED and wanted else None
        if volume:
            if volume not in manifests:
                path = ws.outputs / "archive" / f"{Path(volume).stem}.manifest.json"
                try:
                    manifests[volume] = json.loads(path.read_text(encoding="utf-8")).get("sources", [])
                except (OSError, ValueError, AttributeError):
                    manifests[volume] = []
            pages = e.detail.get("pages")
            for source in manifests[volume]:
                if (source.get("path"), source.get("ags"), source.get("kind"), source.get("part")) == (
                        e.file, e.ags, e.kind, e.detail.get("attachment")) and (
                        pages is None or source.get("source_range") == pages):
                    found = {key: source[key] for key in wanted if source.get(key)}
                    if found:
                        e = replace(e, detail={**e.detail, **found})
                        break
        result.append(e)
    return result


def read_roster_and_campaign(ws: Workspace) -> tuple[list[Municipality], Campaign]:
    """Roster and campaign from ``roster.xlsx`` (the cost model is not needed for a report)."""
    from kdigital.campaign import read_campaign
    from kdigital.errors import ValidationError
    from kdigital.roster import read_roster
    from kdigital.workbook import open_workbook

    wb = open_workbook(ws.roster)
    try:
        roster, findings = read_roster(wb, ws.roster.name)
        campaign, campaign_findings = read_campaign(wb, ws.roster.name)
    finally:
        wb.close()
    findings += campaign_findings
    if findings:
        raise ValidationError(findings, f"{len(findings)} Fehler im Verzeichnis der Kommunen – kein Bericht")
    return roster, campaign


def load_status(ws: Workspace, today: dt.date | None = None) -> StatusReport:
    """The status of every municipality of the workspace on ``today`` (default: the current date)."""
    today = today or dt.date.today()
    roster, campaign = read_roster_and_campaign(ws)
    events = read_events(ws, campaign.campaign_id)
    rows = build_rows(roster, events, campaign.deadline, today)
    current = current_agreement(events, today)
    district = district_ags([m.ags for m in roster], getattr(campaign, "district_key", "") or "")
    if district in {m.ags for m in roster}:
        district = None  # a roster that names the district as a municipality: it has its row already
    return StatusReport(campaign.campaign_id, campaign.deadline, today, rows,
                        district_row(district, events, today) if district else None,
                        current.version if current else None)
