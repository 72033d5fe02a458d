"""Campaign settings (sheet ``Kampagne`` of ``roster.xlsx``): what staff change per campaign."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass

from kdigital.errors import Finding
from kdigital.roster import is_email
from kdigital.workbook import Setting, normalize_header, parse_date, read_settings

log = logging.getLogger(__name__)

SHEET = "Kampagne"

# field name -> (key in the sheet, kind, required)
FIELDS: dict[str, tuple[str, str, bool]] = {
    "campaign_id": ("Kampagne-ID", "id", True),
    "letter_date": ("Briefdatum", "date", True),
    "deadline": ("Rückmeldefrist", "date", True),
    "reference_item": ("Bezug TOP", "text", True),
    "reference_meeting": ("Bezug Sitzung", "text", True),
    "reference_date": ("Bezug Datum", "date", True),
    "department": ("Fachbereich", "text", True),
    "unit": ("Fachdienst", "text", True),
    "contact": ("Ansprechpartner/in", "text", True),
    "room": ("Zimmer", "text", True),
    "phone": ("Telefon", "text", True),
    "fax": ("Fax", "text", False),
    "switchboard": ("Vermittlung", "text", True),
    "contact_email": ("E-Mail Ansprechpartner/in", "email", True),
    "unit_email": ("E-Mail Fachdienst", "email", True),
    "signatory": ("Unterzeichner/in", "text", True),
    "signatory_role": ("Funktion Unterzeichner/in", "text", True),
    "mailbox": ("Funktionspostfach", "email", True),
    "mail_subject": ("Betreff E-Mail", "text", False),
    "population_date": ("Einwohner Stichtag", "date", True),
    "population_source": ("Einwohner Quelle", "text", True),
    # Needed for reminders only (checked there): the new deadline they name.
    "reminder_deadline": ("Erinnerungsfrist", "date", False),
    # Needed for the agreement only (checked there): who signs for the district.
    "district_key": ("Kreisschlüssel", "text", False),
    "head_name": ("Landrat/Landrätin", "text", False),
    "head_function": ("Funktion Landrat/Landrätin", "text", False),
    "deputy_name": ("Weiteres Mitglied Kreisausschuss", "text", False),
    "deputy_function": ("Funktion weiteres Mitglied Kreisausschuss", "text", False),
    # The district itself: in the agreement, the e-mails and every document's author.
    "district": ("Landkreis", "text", False),
    "district_seat": ("Sitz des Landkreises", "text", False),
}

# Used when an older workbook has no keys for the district (it was Marburg-Biedenkopf's tool first).
DEFAULT_DISTRICT = "Landkreis Marburg-Biedenkopf"
DEFAULT_SEAT = "Marburg"


@dataclass(frozen=True)
class Campaign:
    """The settings of one campaign."""

    campaign_id: str
    letter_date: dt.date
    deadline: dt.date
    reference_item: str
    reference_meeting: str
    reference_date: dt.date
    department: str
    unit: str
    contact: str
    room: str
    phone: str
    fax: str
    switchboard: str
    contact_email: str
    unit_email: str
    signatory: str
    signatory_role: str
    mailbox: str
    mail_subject: str
    population_date: dt.date
    population_source: str
    reminder_deadline: dt.date | None = None
    district_key: str = ""
    head_name: str = ""
    head_function: str = ""
    deputy_name: str = ""
    deputy_function: str = ""
    district: str = ""
    district_seat: str = ""

    @property
    def district_name(self) -> str:
        """'Landkreis Gießen': the ``Landkreis`` key, or Marburg-Biedenkopf for older workbooks."""
        return self.district or DEFAULT_DISTRICT

    @property
    def seat(self) -> str:
        """Where the district signs: the ``Sitz des Landkreises`` key, or Marburg."""
        return self.district_seat or (DEFAULT_SEAT if not self.district else "")

    def identifier(self, kind: str, ags: str) -> str:
        """The printed document identifier, e.g. 'KD-2022-IB-06534014'."""
        return f"{self.campaign_id}-{kind}-{ags}"


def read_campaign(wb, source: str) -> tuple[Campaign | None, list[Finding]]:
    """Read the ``Kampagne`` sheet of an open workbook: the campaign (None if unusable) and findings."""
    settings, findings = read_settings(wb, source, SHEET)
    return parse_campaign(settings, findings, source), findings


def parse_campaign(settings: dict[str, Setting], findings: list[Finding], source: str) -> Campaign | None:
    """Build a Campaign from key/value settings; problems are appended to ``findings``."""
    values: dict[str, object] = {}
    if not settings and findings:
        return None
    for name, (key, kind, required) in FIELDS.items():
        setting = settings.get(normalize_header(key))
        raw = setting.value if setting else None
        where = dict(sheet=SHEET, row=setting.row if setting else None, column="Wert" if setting else None)
        if raw is None:
            if required:
                message = f"Wert für „{key}“ fehlt" if setting else f"Schlüssel „{key}“ fehlt"
                findings.append(Finding(source, message, **where))
            values[name] = None if kind == "date" else ""
            continue
        if kind == "date":
            parsed = parse_date(raw)
            if parsed is None:
                findings.append(Finding(source, f"„{key}“ ist kein Datum (erwartet z. B. 08.04.2022)", value=raw, **where))
            values[name] = parsed
            continue
        text = str(raw).strip()
        if kind == "id" and not re.fullmatch(r"[A-Za-z0-9]+(-[A-Za-z0-9]+)*", text):
            findings.append(Finding(source, f"„{key}“ darf nur Buchstaben, Ziffern und Bindestriche enthalten", value=raw, **where))
        if kind == "email" and not is_email(text):
            findings.append(Finding(source, f"„{key}“ ist keine gültige E-Mail-Adresse", value=raw, **where))
        values[name] = text
    if any(values[n] is None for n, (_, k, r) in FIELDS.items() if k == "date" and r):
        return None
    campaign = Campaign(**values)
    if campaign.deadline <= campaign.letter_date:
        log.warning(
            "Die Rückmeldefrist (%s) liegt nicht nach dem Briefdatum (%s) – bitte im Blatt „%s“ prüfen.",
            campaign.deadline.strftime("%d.%m.%Y"), campaign.letter_date.strftime("%d.%m.%Y"), SHEET,
        )
    return campaign
