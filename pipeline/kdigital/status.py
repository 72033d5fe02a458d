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
anyway. One whose code shows an older version of the agreement is marked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from kdigital import addressing
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
    agreement_returned: bool  # an agreement signature page (VB) is in the ledger as returned
    overdue: bool
    received: dt.date | None = None  # the roster's Eingang
    reply_received: dt.date | None = None  # date received of the first reply form returned
    matched_by: str = ""  # how that return was recognised: QR code, file name, text
    agreement_received: dt.date | None = None  # date received of the signature page shown
    reminded: dt.date | None = None  # date of the last reminder written (ledger, kind ER)
    agreement_expected: bool = False  # a participant (Interesse ja) or the district
    agreement_older: bool = False  # only signature pages of an older version of the agreement came back
    district: bool = False

    @property
    def agreement(self) -> str:
        """The signature page in words: ja, ja (ältere Fassung), nein (expected, missing) or – (not expected)."""
        if self.agreement_returned:
            return f"{YES} ({OLDER_VERSION})" if self.agreement_older else YES
        return NO if self.agreement_expected else NOT_EXPECTED


@dataclass(frozen=True)
class Totals:
    """Counts over all rows; ``agreements`` counts the expected signature pages returned."""

    municipalities: int
    yes: int
    no: int
    open: int
    overdue: int
    replies: int
    agreements: int
    agreements_expected: int = 0  # the municipalities that said ja, and the district
    agreements_unexpected: int = 0  # returned anyway by a municipality that did not say ja
    district: bool = False  # the district is one of the expected


@dataclass(frozen=True)
class StatusReport:
    """The rows and what they were computed against; ``district`` is the district's row (signature page only)."""

    campaign_id: str
    deadline: dt.date
    today: dt.date
    rows: list[StatusRow]
    district: StatusRow | None = None

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
                      self.district is not None)

    def agreements_text(self) -> str:
        """'2 von 4 erwartet (3 Kommunen mit „ja“ und der Landkreis)', and any that came unexpected."""
        t = self.totals
        who = f"{t.yes} Kommunen mit „ja“" + (" und der Landkreis" if t.district else "")
        text = f"{t.agreements} von {t.agreements_expected} erwartet ({who})"
        if t.agreements_unexpected:
            text += f", dazu {t.agreements_unexpected} ohne „ja“"
        return text


@dataclass(frozen=True)
class _Returns:
    """The returns that count on the report date: the first reply form and the signature page to show."""

    reply: dict[str, Event]
    agreement: dict[str, Event]


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


def _is_older(e: Event) -> bool:
    return any(str(flag).startswith(OLDER_VERSION) for flag in e.detail.get("flags") or ())


def _returns(events: Iterable[Event], today: dt.date) -> tuple[_Returns, dict[str, dt.date]]:
    """(the returns received by ``today``, AGS -> date of the last reminder)."""
    reply: dict[str, Event] = {}
    agreement: dict[str, Event] = {}
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
        elif e.ags not in agreement or (_is_older(agreement[e.ags]) and not _is_older(e)):
            agreement[e.ags] = e  # the first of the current version, else the first one
    return _Returns(reply, agreement), reminded


def build_rows(roster: Sequence[Municipality], events: Iterable[Event], deadline: dt.date,
               today: dt.date) -> list[StatusRow]:
    """One row per municipality, in roster order, from its answer and the ledger's events.

    ``events`` may hold anything; only ``returned`` events of kind IB and VB
    received by ``today`` and ``generated`` events of kind ER count. Events for
    AGS not in the roster are ignored.
    """
    returns, reminded = _returns(events, today)
    rows = []
    for m in roster:
        reply = returns.reply.get(m.ags)
        agreement = returns.agreement.get(m.ags)
        answered = m.interest is not None or m.received is not None
        rows.append(StatusRow(
            ags=m.ags,
            name=addressing.designation(m),
            answer=_ANSWERS[m.interest],
            reply_returned=reply is not None,
            agreement_returned=agreement is not None,
            overdue=today > deadline and not answered and reply is None,
            received=m.received,
            reply_received=received_on(reply) if reply else None,
            matched_by=_matched_by(reply),
            agreement_received=received_on(agreement) if agreement else None,
            reminded=reminded.get(m.ags),
            agreement_expected=m.interest is True,
            agreement_older=agreement is not None and _is_older(agreement),
        ))
    return rows


def district_row(ags: str, events: Iterable[Event], today: dt.date) -> StatusRow:
    """The district's row: it signs the agreement and answers nothing else."""
    returns, _ = _returns(events, today)
    agreement = returns.agreement.get(ags)
    return StatusRow(ags=ags, name=DISTRICT_NAME, answer=NOT_EXPECTED, reply_returned=False,
                     agreement_returned=agreement is not None, overdue=False,
                     agreement_received=received_on(agreement) if agreement else None,
                     matched_by="", agreement_expected=True,
                     agreement_older=agreement is not None and _is_older(agreement), district=True)


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
    """The ledger's returned and reminder events of this campaign; none when there is no ledger yet.

    Events without a campaign count too: the ledger belongs to the workspace, and
    the workspace to one campaign.
    """
    from kdigital.ledger import Ledger

    if not Ledger.exists(ws.root):  # a report must not create the ledger
        return []
    with Ledger.open(ws.root) as ledger:
        events = ledger.events(RETURNED) + ledger.events(GENERATED, kind=REMINDER_KIND)
        archived = ledger.events(ARCHIVED)
    events = [e for e in events if e.campaign in (None, campaign_id)]
    return _with_received_dates(ws, events, archived)


def _with_received_dates(ws: Workspace, events: list[Event], archived: list[Event]) -> list[Event]:
    """``events`` with the date received of returns recorded before the ledger held it, from the manifests.

    A ``returned`` event and the ``archived`` event of the same run share its time;
    the latter names the volume, whose manifest records the date received of each
    source. Where neither has it, the day of archiving stands in (``received_on``).
    """
    import json
    from dataclasses import replace

    volumes = {(e.ags, e.kind, e.time): e.detail.get("volume") for e in archived}
    manifests: dict[str, list[dict]] = {}
    result = []
    for e in events:
        volume = volumes.get((e.ags, e.kind, e.time)) if e.event == RETURNED and "received" not in e.detail else None
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
                        pages is None or source.get("source_range") == pages) and source.get("received"):
                    e = replace(e, detail={**e.detail, "received": source["received"]})
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
    district = district_ags([m.ags for m in roster], getattr(campaign, "district_key", "") or "")
    if district in {m.ags for m in roster}:
        district = None  # a roster that names the district as a municipality: it has its row already
    return StatusReport(campaign.campaign_id, campaign.deadline, today, rows,
                        district_row(district, events, today) if district else None)
