"""The cost model of the Kompetenzcenter (``cost_model.xlsx``) and what follows from it.

Money is ``Decimal`` throughout. The model holds cost items and named scenarios
(sets of municipalities); populations come from the roster only. The net annual
cost divided by the population of a scenario's members is its rate per
inhabitant and year.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping, Sequence

from kdigital.errors import Finding
from kdigital.roster import Municipality
from kdigital.workbook import normalize_header, read_settings, read_table

COST_SHEET = "Kosten"
SCENARIO_SHEET = "Szenarien"
PARAMETER_SHEET = "Parameter"
COST_COLUMNS = ["Position", "Kategorie", "Menge", "Betrag je Einheit (EUR/Jahr)", "Berücksichtigen", "Quelle / Annahme"]
COST_OPTIONAL = ["Entgeltgruppe"]
CATEGORIES = ("Personal", "Sachkosten", "Einnahme")
ALL = "alle"  # the implicit scenario: every municipality of the roster
COMPARISON_KEY = "Vergleichsszenario im Brief"


@dataclass(frozen=True)
class CostItem:
    """One line of the cost sheet: a cost (Personal, Sachkosten) or an income (Einnahme)."""

    position: str
    category: str
    quantity: Decimal
    unit_amount: Decimal
    active: bool
    source: str
    pay_grade: str = ""
    row: int = 0

    @property
    def annual(self) -> Decimal:
        """Amount per year: quantity × amount per unit."""
        return self.quantity * self.unit_amount

    @property
    def is_income(self) -> bool:
        return self.category == "Einnahme"


@dataclass(frozen=True)
class CostModel:
    """Cost items and the named scenarios (scenario name -> AGS of its members)."""

    items: tuple[CostItem, ...]
    scenarios: dict[str, tuple[str, ...]]
    comparison: str  # the scenario the letter compares with
    scenario_rows: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (scenario, AGS) -> Excel row

    @property
    def gross_cost(self) -> Decimal:
        return sum((i.annual for i in self.items if i.active and not i.is_income), Decimal(0))

    @property
    def income(self) -> Decimal:
        return sum((i.annual for i in self.items if i.active and i.is_income), Decimal(0))

    @property
    def net_cost(self) -> Decimal:
        """Net annual cost: costs less income, of the items switched on."""
        return self.gross_cost - self.income


@dataclass(frozen=True)
class ScenarioRate:
    """The rate per inhabitant and year of one scenario (exact; round only to show it)."""

    name: str
    members: int
    population: int
    net_cost: Decimal
    rate: Decimal


def rate_for(model: CostModel, name: str, members: Sequence[Municipality]) -> ScenarioRate:
    """Net cost of ``model`` divided by the population of ``members``."""
    population = sum(m.population for m in members)
    if population <= 0:
        raise ValueError(f"scenario {name!r} has no inhabitants")
    return ScenarioRate(name, len(members), population, model.net_cost, model.net_cost / Decimal(population))


def members_of(model: CostModel, name: str, roster: Sequence[Municipality]) -> list[Municipality]:
    """The roster's municipalities that belong to scenario ``name`` (``alle``: all of them)."""
    if name == ALL:
        return list(roster)
    wanted = set(model.scenarios[name])
    return [m for m in roster if m.ags in wanted]


def letter_rates(model: CostModel, roster: Sequence[Municipality]) -> tuple[ScenarioRate, ScenarioRate]:
    """The two rates the letter quotes: all municipalities, and the comparison scenario."""
    return (
        rate_for(model, ALL, roster),
        rate_for(model, model.comparison, members_of(model, model.comparison, roster)),
    )


def check_against_roster(model: CostModel, roster: Iterable[Municipality], source: str) -> list[Finding]:
    """Scenario members that the roster does not know, as findings."""
    known = {m.ags for m in roster}
    findings = []
    for name, members in model.scenarios.items():
        for ags in members:
            if ags not in known:
                findings.append(Finding(source, f"AGS {ags} aus Szenario „{name}“ steht nicht im Verzeichnis der Kommunen",
                                        SCENARIO_SHEET, model.scenario_rows.get((name, ags)), "AGS", ags))
    return findings


def _decimal(value: Any) -> Decimal | None:
    """A number cell as Decimal; accepts numbers and German-formatted text ('78.500,00')."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, Decimal)):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))  # the shortest repr is what Excel showed, not the binary fraction
    else:
        text = str(value).strip().replace("€", "").replace("\xa0", "").replace(" ", "")
        if "," in text:
            text = text.replace(".", "").replace(",", ".")
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
    # 'NaN' and 'Infinity' are Decimals too, but no amount; NaN would even fail the comparison with 0.
    return number if number.is_finite() else None


def read_cost_model(wb, source: str) -> tuple[CostModel | None, list[Finding]]:
    """Read the cost model from an open workbook: the model (None if unusable) and every finding."""
    table = read_table(wb, source, COST_SHEET, COST_COLUMNS, COST_OPTIONAL)
    findings = table.findings
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
        amount = _decimal(row.get("Betrag je Einheit (EUR/Jahr)"))
        if amount is None or amount < 0:
            table.finding(row, "Betrag je Einheit (EUR/Jahr)", "muss ein Betrag ≥ 0 sein", row.get("Betrag je Einheit (EUR/Jahr)"))
        switch = str(row.get("Berücksichtigen") or "").strip().casefold()
        if switch not in ("ja", "nein"):
            table.finding(row, "Berücksichtigen", "unbekannter Wert; erlaubt: ja, nein", row.get("Berücksichtigen"))
        source_note = row.get("Quelle / Annahme")
        if source_note is None:
            table.finding(row, "Quelle / Annahme", "jede Zahl braucht eine Quelle oder den Vermerk „Annahme“")
        if quantity is not None and amount is not None:
            items.append(CostItem(str(position), str(category), quantity, amount, switch == "ja",
                                  str(source_note or ""), str(row.get("Entgeltgruppe") or ""), row.number))

    scenarios: dict[str, list[str]] = {}
    scenario_rows: dict[tuple[str, str], int] = {}
    stable = read_table(wb, source, SCENARIO_SHEET, ["Szenario", "AGS"], ["Name"])
    for row in stable.rows:
        name = row.get("Szenario")
        ags = row.get("AGS")
        if isinstance(ags, (int, float)) and not isinstance(ags, bool):
            ags = str(int(ags)).zfill(8)
        if name is None or ags is None or not str(ags).isdigit() or len(str(ags)) != 8:
            stable.finding(row, "AGS" if name else "Szenario", "Szenario und 8-stelliger AGS erforderlich", ags or name)
            continue
        if str(name).strip().casefold() == ALL:
            stable.finding(row, "Szenario", f"„{ALL}“ ist reserviert (alle Kommunen des Verzeichnisses)", name)
            continue
        scenarios.setdefault(str(name).strip(), []).append(str(ags))
        scenario_rows.setdefault((str(name).strip(), str(ags)), row.number)
    findings += stable.findings  # after the rows: a bad row must not silently shrink a scenario

    settings, setting_findings = read_settings(wb, source, PARAMETER_SHEET)
    findings += setting_findings
    comparison = settings.get(normalize_header(COMPARISON_KEY))
    comparison_name = str(comparison.value).strip() if comparison and comparison.value else ""
    if not setting_findings and comparison_name not in scenarios:
        findings.append(Finding(
            source, f"„{COMPARISON_KEY}“ nennt kein Szenario aus dem Blatt „{SCENARIO_SHEET}“ "
                    f"(vorhanden: {', '.join(scenarios) or 'keine'})",
            PARAMETER_SHEET, comparison.row if comparison else None, "Wert", comparison_name or None))
    if findings:
        return None, findings
    model = CostModel(tuple(items), {k: tuple(v) for k, v in scenarios.items()}, comparison_name, scenario_rows)
    if model.net_cost <= 0:
        findings.append(Finding(source, "Die Netto-Jahreskosten sind nicht positiv (Einnahmen ≥ Kosten)", COST_SHEET,
                                value=str(model.net_cost)))
        return None, findings
    return model, findings
