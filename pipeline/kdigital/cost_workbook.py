"""Reading and validating the cost model workbook (``cost_model.xlsx``).

Every problem becomes a finding with workbook, sheet, row, column and value,
so that all of them are reported at once, as for the roster.
"""

from __future__ import annotations

import re

from decimal import Decimal, InvalidOperation
from typing import Any

from kdigital.costs import ALL, CATEGORIES, IKZ, INTEREST, SCENARIO_SHEET, Contribution, CostItem, CostModel
from kdigital.errors import Finding
from kdigital.workbook import normalize_header, read_settings, read_table

COST_SHEET = "Kosten"
IKZ_SHEET = "IKZ-Beiträge"
PARAMETER_SHEET = "Parameter"
COST_COLUMNS = ["Position", "Kategorie", "Menge", "Betrag je Einheit (EUR/Jahr)", "Berücksichtigen", "Quelle / Annahme"]
COST_OPTIONAL = ["Entgeltgruppe"]
IKZ_COLUMNS = ["IKZ", "Berechnung", "Betrag (EUR/Jahr)", "Quelle / Annahme"]
METHODS = {"je einwohner": True, "pauschal": False}
MAX_FTE = Decimal(10)
COMPARISON_KEY = "Vergleichsszenario im Brief"


_GERMAN_NUMBER = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$")


def _decimal(value: Any) -> Decimal | None:
    """A number cell as Decimal; accepts numbers and German-formatted text ('78.500,00', '84.000').

    Text is read the German way: the comma is the decimal sign, dots group thousands.
    A dot that cannot be a thousands separator ('84.5') makes the text ambiguous: None.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, Decimal)):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))  # the shortest repr is what Excel showed, not the binary fraction
    else:
        text = str(value).strip().replace("€", "").replace("\xa0", "").replace(" ", "")
        if not _GERMAN_NUMBER.match(text):
            return None
        text = text.replace(".", "").replace(",", ".")
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
    # 'NaN' and 'Infinity' are Decimals too, but no amount; NaN would even fail the comparison with 0.
    return number if number.is_finite() else None


def read_cost_model(wb, source: str, known_ags: set[str] | None = None) -> tuple[CostModel | None, list[Finding]]:
    """Read the cost model from an open workbook: the model (None if unusable) and every finding.

    With ``known_ags`` (every AGS of the roster) scenario members the roster does
    not know are reported here too, beside every other finding of the workbook.
    """
    findings: list[Finding] = []
    items = _read_items(wb, source, findings)
    contributions = _read_contributions(wb, source, findings)
    scenarios, scenario_rows = _read_scenarios(wb, source, findings)
    if known_ags is not None:
        findings += [Finding(source, f"AGS {ags} aus Szenario „{name}“ steht nicht im Verzeichnis der Kommunen",
                             SCENARIO_SHEET, scenario_rows.get((name, ags)), "AGS", ags)
                     for name, members in scenarios.items() for ags in members if ags not in known_ags]
    comparison = _read_comparison(wb, source, scenarios, findings)
    if findings:
        return None, findings
    model = CostModel(tuple(items), scenarios, comparison, tuple(contributions), scenario_rows)
    if model.net_cost <= 0:
        findings.append(Finding(source, "Die Netto-Jahreskosten sind nicht positiv (Einnahmen ≥ Kosten)", COST_SHEET,
                                value=str(model.net_cost)))
        return None, findings
    return model, findings


def _read_items(wb, source: str, findings: list[Finding]) -> list[CostItem]:
    table = read_table(wb, source, COST_SHEET, COST_COLUMNS, COST_OPTIONAL)
    items = []
    for row in table.rows:
        position = row.get("Position")
        if position is None:
            table.finding(row, "Position", "Pflichtfeld ist leer")
        category = row.get("Kategorie")
        if category not in CATEGORIES:
            table.finding(row, "Kategorie", f"unbekannter Wert; erlaubt: {', '.join(CATEGORIES)}", category)
        quantity = _decimal(row.get("Menge"))
        if quantity is None or quantity < 0:
            table.finding(row, "Menge", "muss eine Zahl ≥ 0 sein", row.get("Menge"))
        elif category == "Personal" and quantity > MAX_FTE:
            table.finding(row, "Menge", f"Stellenanteil (VZÄ) muss zwischen 0 und {MAX_FTE} liegen", row.get("Menge"))
        amount = _decimal(row.get("Betrag je Einheit (EUR/Jahr)"))
        if amount is None or amount < 0:
            table.finding(row, "Betrag je Einheit (EUR/Jahr)", "muss ein Betrag ≥ 0 sein",
                          row.get("Betrag je Einheit (EUR/Jahr)"))
        switch = str(row.get("Berücksichtigen") or "").strip().casefold()
        if switch not in ("ja", "nein"):
            table.finding(row, "Berücksichtigen", "unbekannter Wert; erlaubt: ja, nein", row.get("Berücksichtigen"))
        note = row.get("Quelle / Annahme")
        if note is None:
            table.finding(row, "Quelle / Annahme", "jede Zahl braucht eine Quelle oder den Vermerk „Annahme“")
        if quantity is not None and amount is not None:
            items.append(CostItem(str(position), str(category), quantity, amount, switch == "ja",
                                  str(note or ""), str(row.get("Entgeltgruppe") or ""), row.number))
    findings += table.findings
    return items


def _read_contributions(wb, source: str, findings: list[Finding]) -> list[Contribution]:
    table = read_table(wb, source, IKZ_SHEET, IKZ_COLUMNS)
    result: dict[str, Contribution] = {}
    keys = {k.casefold(): k for k in IKZ}
    for row in table.rows:
        ikz = keys.get(str(row.get("IKZ") or "").strip().casefold())
        if ikz is None:
            table.finding(row, "IKZ", f"unbekannte IKZ; erlaubt: {', '.join(IKZ)}", row.get("IKZ"))
        elif ikz in result:
            table.finding(row, "IKZ", f"IKZ {ikz} steht schon in Zeile {result[ikz].row}", row.get("IKZ"))
        method = METHODS.get(str(row.get("Berechnung") or "").strip().casefold())
        if method is None:
            table.finding(row, "Berechnung", "unbekannter Wert; erlaubt: je Einwohner, pauschal", row.get("Berechnung"))
        amount = _decimal(row.get("Betrag (EUR/Jahr)"))
        if amount is None or amount < 0:
            table.finding(row, "Betrag (EUR/Jahr)", "muss ein Betrag ≥ 0 sein", row.get("Betrag (EUR/Jahr)"))
        note = row.get("Quelle / Annahme")
        if note is None:
            table.finding(row, "Quelle / Annahme", "jede Zahl braucht eine Quelle oder den Vermerk „Annahme“")
        if ikz and ikz not in result and method is not None and amount is not None:
            result[ikz] = Contribution(ikz, method, amount, str(note or ""), row.number)
    findings += table.findings
    return [result[k] for k in IKZ if k in result]


def _read_scenarios(wb, source: str, findings: list[Finding]) -> tuple[dict[str, tuple[str, ...]], dict]:
    """Named scenarios: one row per member; a row with a name and no AGS declares an empty one."""
    table = read_table(wb, source, SCENARIO_SHEET, ["Szenario", "AGS"], ["Name"])
    scenarios: dict[str, list[str]] = {}
    rows: dict[tuple[str, str], int] = {}
    first_row: dict[str, int] = {}
    for row in table.rows:
        name = row.get("Szenario")
        ags = row.get("AGS")
        if name is None:
            table.finding(row, "Szenario", "Pflichtfeld ist leer", ags)
            continue
        name = str(name).strip()
        if name.casefold() in (ALL.casefold(), INTEREST.casefold()):
            table.finding(row, "Szenario", f"„{name}“ ist reserviert (ergibt sich aus dem Verzeichnis der Kommunen)", name)
            continue
        first_row.setdefault(name, row.number)
        members = scenarios.setdefault(name, [])
        if ags is None:
            continue
        if isinstance(ags, (int, float)) and not isinstance(ags, bool):
            ags = str(int(ags)).zfill(8)
        ags = str(ags).strip()
        if not (ags.isascii() and ags.isdigit() and len(ags) == 8):
            table.finding(row, "AGS", "muss aus genau 8 Ziffern bestehen", ags)
            continue
        if (name, ags) in rows:
            table.finding(row, "AGS", f"steht in Szenario „{name}“ schon in Zeile {rows[(name, ags)]}", ags)
            continue
        members.append(ags)
        rows[(name, ags)] = row.number
    for name, members in scenarios.items():
        if not members:
            findings.append(Finding(source, f"Szenario „{name}“ hat keine Mitglieder", SCENARIO_SHEET,
                                    first_row[name], "AGS"))
    findings += table.findings  # after the rows: a bad row must not silently shrink a scenario
    return {k: tuple(v) for k, v in scenarios.items()}, rows


def _read_comparison(wb, source: str, scenarios: dict, findings: list[Finding]) -> str:
    settings, setting_findings = read_settings(wb, source, PARAMETER_SHEET)
    findings += setting_findings
    comparison = settings.get(normalize_header(COMPARISON_KEY))
    name = str(comparison.value).strip() if comparison and comparison.value else ""
    if not setting_findings and name not in scenarios:
        findings.append(Finding(
            source, f"„{COMPARISON_KEY}“ nennt kein Szenario aus dem Blatt „{SCENARIO_SHEET}“ "
                    f"(vorhanden: {', '.join(scenarios) or 'keine'})",
            PARAMETER_SHEET, comparison.row if comparison else None, "Wert", name or None))
    return name
