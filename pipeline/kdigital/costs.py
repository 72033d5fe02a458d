"""The cost model of the Kompetenzcenter (``cost_model.xlsx``) and what follows from it.

Money is ``Decimal`` throughout. The model holds cost items and named scenarios
(sets of municipalities); populations come from the roster only. The net annual
cost divided by the population of a scenario's members is its rate per
inhabitant and year.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable, Mapping, Sequence

from kdigital.errors import Finding
from kdigital.formatting import round_half_up
from kdigital.roster import Municipality

CATEGORIES = ("Personal", "Sachkosten", "Einnahme", "Förderung")  # Förderung: state funding, an income
ALL = "alle"  # the implicit scenario: every municipality of the roster
INTEREST = "Interesse"  # the implicit scenario: those whose roster answer is ja
SCENARIO_SHEET = "Szenarien"
# The former IKZ a municipality stops paying for: key in the cost model -> (label, roster flag).
IKZ = {
    "Cybersicherheit": ("IKZ Cybersicherheit", "ikz_cyber"),
    "GDI": ("IKZ Geodateninfrastruktur (GDI)", "ikz_gdi"),
    "OZG": ("IKZ Modellkommune OZG", "ikz_ozg"),
}


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
        return self.category in ("Einnahme", "Förderung")


@dataclass(frozen=True)
class Contribution:
    """What a member of a former IKZ pays per year: per inhabitant or a flat amount."""

    ikz: str  # key of IKZ
    per_inhabitant: bool
    amount: Decimal
    source: str = ""
    row: int = 0

    @property
    def label(self) -> str:
        return IKZ[self.ikz][0]

    def takes_part(self, m: Municipality) -> bool:
        """Whether the roster says ``m`` takes part in this IKZ."""
        return getattr(m, IKZ[self.ikz][1])

    def annual(self, m: Municipality) -> Decimal:
        """What ``m`` pays now per year (0 when it does not take part), rounded half up to cents."""
        if not self.takes_part(m):
            return Decimal("0.00")
        return round_half_up(self.amount * m.population if self.per_inhabitant else self.amount)


@dataclass(frozen=True)
class CostModel:
    """Cost items and the named scenarios (scenario name -> AGS of its members)."""

    items: tuple[CostItem, ...]
    scenarios: dict[str, tuple[str, ...]]
    comparison: str  # the scenario the letter compares with
    contributions: tuple[Contribution, ...] = ()
    scenario_rows: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (scenario, AGS) -> Excel row

    @property
    def gross_cost(self) -> Decimal:
        return sum((i.annual for i in self.items if i.active and not i.is_income), Decimal(0))

    @property
    def income(self) -> Decimal:
        return sum((i.annual for i in self.items if i.active and i.is_income), Decimal(0))

    @property
    def funding(self) -> Decimal:
        """State funding for the bundling that is switched on (0 when none)."""
        return sum((i.annual for i in self.items if i.active and i.category == "Förderung"), Decimal(0))

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
    """Net cost of ``model`` divided by the population of ``members`` (rate 0 without members)."""
    population = sum(m.population for m in members)
    rate = model.net_cost / Decimal(population) if population else Decimal(0)
    return ScenarioRate(name, len(members), population, model.net_cost, rate)


def members_of(model: CostModel, name: str, roster: Sequence[Municipality]) -> list[Municipality]:
    """The roster's municipalities in scenario ``name`` (``alle``: all; ``Interesse``: answer ja)."""
    if name == ALL:
        return list(roster)
    if name == INTEREST:
        return [m for m in roster if m.interest]
    wanted = set(model.scenarios[name])
    return [m for m in roster if m.ags in wanted]


def scenario_names(model: CostModel) -> list[str]:
    """Every scenario in the order the documents show them: all, the named ones, Interesse."""
    return [ALL, *model.scenarios, INTEREST]


def letter_rates(model: CostModel, roster: Sequence[Municipality]) -> tuple[ScenarioRate, ScenarioRate]:
    """The two rates the letter quotes: all municipalities, and the comparison scenario."""
    return (
        rate_for(model, ALL, roster),
        rate_for(model, model.comparison, members_of(model, model.comparison, roster)),
    )


def check_against_roster(model: CostModel, roster: Iterable[Municipality], source: str) -> list[Finding]:
    """Scenario members that the roster does not know, and scenarios without inhabitants, as findings."""
    roster = list(roster)
    known = {m.ags for m in roster}
    findings = []
    for name, members in model.scenarios.items():
        for ags in members:
            if ags not in known:
                findings.append(Finding(source, f"AGS {ags} aus Szenario „{name}“ steht nicht im Verzeichnis der Kommunen",
                                        SCENARIO_SHEET, model.scenario_rows.get((name, ags)), "AGS", ags))
    for name in [ALL, *model.scenarios]:
        if roster and not sum(m.population for m in members_of(model, name, roster)):
            findings.append(Finding(source, f"Szenario „{name}“ hat zusammen 0 Einwohner/innen", SCENARIO_SHEET,
                                    value=name))
    return findings


