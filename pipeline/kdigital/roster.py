"""The roster of municipalities (sheet ``Kommunen`` of ``roster.xlsx``).

``read_roster`` reads and validates the whole sheet and returns the
municipalities together with every problem found, so that the caller can
report the problems of all workbooks at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from kdigital.errors import Finding, warn_some
from kdigital.workbook import Row, Table, parse_date, read_table

log = logging.getLogger(__name__)

SHEET = "Kommunen"

COLUMNS = [
    "AGS", "Name", "Art", "Amt", "Titel", "Vorname", "Nachname", "Straße", "PLZ", "Ort",
    "E-Mail", "Versand", "Einwohner", "IKZ Cybersicherheit", "IKZ GDI", "IKZ OZG",
    "Interesse", "Eingang",
]
# Columns whose cells must not be empty.
REQUIRED_VALUES = [
    "AGS", "Name", "Art", "Amt", "Vorname", "Nachname", "Straße", "PLZ", "Ort",
    "Versand", "Einwohner", "IKZ Cybersicherheit", "IKZ GDI", "IKZ OZG",
]
IKZ_COLUMNS = ("IKZ Cybersicherheit", "IKZ GDI", "IKZ OZG")
# Optional: the second signatory under § 71 (2) HGO, needed (and checked) for the agreement only.
SECOND_SIGNATORY = ("Zweite Unterschrift Name", "Zweite Unterschrift Funktion")

KINDS = ("Stadt", "Gemeinde", "Universitätsstadt")
OFFICES = ("Bürgermeister", "Bürgermeisterin", "Oberbürgermeister", "Oberbürgermeisterin")
CHANNELS = {"e-mail": "E-Mail", "post": "Post", "e-mail und post": "E-Mail und Post"}
_CHANNEL_ALIASES = {"email": "e-mail", "email und post": "e-mail und post", "post und e-mail": "e-mail und post",
                    "post und email": "e-mail und post", "e-mail + post": "e-mail und post"}
_YES_NO = {"ja": True, "nein": False}
_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


def is_email(text: str) -> bool:
    """True for a plausible single e-mail address (local@domain.tld)."""
    return bool(_EMAIL.match(text))


@dataclass(frozen=True)
class Municipality:
    """One municipality of the roster, validated."""

    ags: str
    name: str  # "Marburg" – the name without the kind
    kind: str  # Art: Stadt / Gemeinde / Universitätsstadt
    office: str  # Amt: Bürgermeister, Bürgermeisterin, Oberbürgermeister, Oberbürgermeisterin
    title: str  # Titel, "" when none
    first_name: str
    last_name: str
    street: str
    postcode: str
    town: str
    email: str
    channel: str  # Versand: E-Mail / Post / E-Mail und Post
    population: int
    ikz_cyber: bool
    ikz_gdi: bool
    ikz_ozg: bool
    interest: bool | None  # None: no answer yet
    received: dt.date | None
    row: int  # Excel row, for messages
    second_signatory: str = ""  # a further member of the Gemeindevorstand/Magistrat (§ 71 (2) HGO)
    second_function: str = ""

    @property
    def by_email(self) -> bool:
        return "E-Mail" in self.channel

    @property
    def by_post(self) -> bool:
        return "Post" in self.channel


def read_roster(wb, source: str, seen_ags: set[str] | None = None) -> tuple[list[Municipality], list[Finding]]:
    """Read the ``Kommunen`` sheet of an open workbook: municipalities and every finding.

    ``seen_ags``, when given, receives the AGS of every row, valid or not, so that
    other workbooks can be checked against the roster in the same run.
    """
    table = read_table(wb, source, SHEET, COLUMNS, SECOND_SIGNATORY)
    municipalities = validate_rows(table)
    _warn_about_kind_in_name(municipalities, source)
    if seen_ags is not None:
        for row in table.rows:
            value = row.get("AGS")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = str(int(value)).zfill(8)
            if value is not None:
                seen_ags.add(str(value).strip())
    if not table.rows and not table.findings:
        table.findings.append(Finding(source, "Das Blatt enthält keine Kommunen", table.sheet))
    return municipalities, table.findings


def _warn_about_kind_in_name(municipalities: list[Municipality], source: str) -> None:
    """Warn where the name repeats the Art, as official lists write it ('Gießen, Universitätsstadt').

    Documents put the Art before the name, which would read 'Universitätsstadt
    Gießen, Universitätsstadt'. A warning, not an error: the name may be meant so.
    """
    warn_some(log, [f"{source}, Blatt „{SHEET}“, Zeile {m.row}, Spalte „Name“: „{m.name}“ enthält die Art "
                    f"„{m.kind}“, die in der Spalte „Art“ steht – in den Dokumenten stünde „{m.kind} {m.name}“"
                    for m in municipalities
                    if m.kind and (m.name.endswith(f", {m.kind}") or m.name.startswith(f"{m.kind} "))],
              "Namen, die die Art enthalten")


def validate_rows(table: Table) -> list[Municipality]:
    """Turn the rows of ``table`` into municipalities; problems are added to ``table.findings``."""
    result = []
    seen: dict[str, int] = {}
    for row in table.rows:
        before = len(table.findings)
        m = _municipality(table, row)
        if m is None:
            continue
        # A duplicate is reported even when either row has other problems, so one run shows all.
        if m.ags in seen:
            table.finding(row, "AGS", f"AGS doppelt (schon in Zeile {seen[m.ags]})", m.ags)
            continue
        seen[m.ags] = row.number
        if len(table.findings) == before:
            result.append(m)
    return result


def _text(row: Row, column: str) -> str:
    value = row.get(column)
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return re.sub(r"\s+", " ", str(value)).strip()


def _digits(table: Table, row: Row, column: str, width: int) -> str | None:
    """A code of exactly ``width`` digits; Excel numbers lose leading zeros, so pad those."""
    value = row.get(column)
    if isinstance(value, bool):
        text = None
    elif isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        text = str(int(value)).zfill(width) if value >= 0 else None
    else:
        text = re.sub(r"\s", "", str(value))
    if text is None or not re.fullmatch(rf"[0-9]{{{width}}}", text):  # \d would take any script's digits
        table.finding(row, column, f"muss aus genau {width} Ziffern bestehen", value)
        return None
    return text


def parse_population(value: Any) -> int | None:
    """A positive whole number from 12345, 12345.0 or '12.345'; None when it is none."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not value.is_integer():
            return None
        number = int(value)
    elif isinstance(value, str):
        text = value.strip().replace("\xa0", "").replace(" ", "")
        if re.fullmatch(r"\d{1,3}(\.\d{3})+", text):
            text = text.replace(".", "")
        # Plain digits only: Decimal would also take 'Infinity', 'NaN' and '1e999999999'.
        if not re.fullmatch(r"[+-]?\d+([.,]\d+)?", text):
            return None
        try:
            dec = Decimal(text.replace(",", "."))
        except InvalidOperation:
            return None
        if dec != dec.to_integral_value():
            return None
        number = int(dec)
    else:
        return None
    return number if number > 0 else None


def _choice(table: Table, row: Row, column: str, allowed) -> str | None:
    value = _text(row, column)
    for option in allowed:
        if value.casefold() == option.casefold():
            return option
    table.finding(row, column, f"unbekannter Wert; erlaubt: {', '.join(allowed)}", row.get(column))
    return None


def _yes_no(table: Table, row: Row, column: str, *, empty_ok: bool = False) -> bool | None:
    value = row.get(column)
    if value is None and empty_ok:
        return None
    if isinstance(value, bool):
        return value
    key = _text(row, column).casefold()
    if key in _YES_NO:
        return _YES_NO[key]
    allowed = "ja, nein oder leer" if empty_ok else "ja oder nein"
    table.finding(row, column, f"unbekannter Wert; erlaubt: {allowed}", value)
    return None


def _municipality(table: Table, row: Row) -> Municipality | None:
    cols = table.columns
    for column in REQUIRED_VALUES:
        if column in cols and row.get(column) is None:
            table.finding(row, column, "Pflichtfeld ist leer")
    # With columns missing, the cells that are there are still checked.
    missing = lambda c: c not in cols or row.get(c) is None  # noqa: E731

    ags = None if missing("AGS") else _digits(table, row, "AGS", 8)
    postcode = None if missing("PLZ") else _digits(table, row, "PLZ", 5)
    kind = None if missing("Art") else _choice(table, row, "Art", KINDS)
    office = None if missing("Amt") else _choice(table, row, "Amt", OFFICES)

    channel = None
    if not missing("Versand"):
        key = _text(row, "Versand").casefold()
        key = _CHANNEL_ALIASES.get(key, key)
        channel = CHANNELS.get(key)
        if channel is None:
            table.finding(row, "Versand", "unbekannter Wert; erlaubt: E-Mail, Post, E-Mail und Post", row.get("Versand"))

    email = _text(row, "E-Mail") if "E-Mail" in cols else ""
    if email and not is_email(email):
        table.finding(row, "E-Mail", "ist keine gültige E-Mail-Adresse", email)
    elif not email and channel and "E-Mail" in channel and "E-Mail" in cols:
        table.finding(row, "E-Mail", f"fehlt, obwohl Versand „{channel}“ ist")

    population = None
    if not missing("Einwohner"):
        population = parse_population(row.get("Einwohner"))
        if population is None:
            table.finding(row, "Einwohner", "muss eine positive ganze Zahl sein", row.get("Einwohner"))

    flags = {c: (None if missing(c) else _yes_no(table, row, c)) for c in IKZ_COLUMNS}
    interest = _yes_no(table, row, "Interesse", empty_ok=True) if "Interesse" in cols else None
    received = None
    if "Eingang" in cols and row.get("Eingang") is not None:
        received = parse_date(row.get("Eingang"))
        if received is None:
            table.finding(row, "Eingang", "ist kein Datum (erwartet z. B. 08.04.2022)", row.get("Eingang"))

    if ags is None:
        return None
    return Municipality(
        ags=ags,
        name=_text(row, "Name"),
        kind=kind or "",
        office=office or "",
        title=_text(row, "Titel") if "Titel" in cols else "",
        first_name=_text(row, "Vorname"),
        last_name=_text(row, "Nachname"),
        street=_text(row, "Straße"),
        postcode=postcode or "",
        town=_text(row, "Ort"),
        email=email,
        channel=channel or "",
        population=population or 0,
        ikz_cyber=bool(flags["IKZ Cybersicherheit"]),
        ikz_gdi=bool(flags["IKZ GDI"]),
        ikz_ozg=bool(flags["IKZ OZG"]),
        interest=interest,
        received=received,
        row=row.number,
        second_signatory=_text(row, SECOND_SIGNATORY[0]),
        second_function=_text(row, SECOND_SIGNATORY[1]),
    )
