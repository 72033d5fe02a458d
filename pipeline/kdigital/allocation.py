"""Apportioning a scenario's net cost to its members, to the cent.

The net annual cost is shared in proportion to population by the largest-remainder
method: every member gets its exact share rounded down to the cent, and the cents
left over go to the largest remainders (ties: larger population first, then AGS).
The amounts add up exactly to the net cost, each is within one cent of the exact
share, and a larger population never pays less.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Mapping, Sequence

from kdigital.costs import ALL, INTEREST, CostModel, members_of, scenario_names
from kdigital.roster import Municipality

CENT = Decimal("0.01")


def apportion(total: Decimal, weights: Mapping[str, int]) -> dict[str, Decimal]:
    """Split ``total`` (cents) over ``weights`` proportionally; the parts add up to ``total``."""
    if total != total.quantize(CENT):
        raise ValueError(f"total {total} is not a whole number of cents")
    whole = sum(weights.values())
    if whole <= 0:
        raise ValueError("weights add up to zero")
    cents = int(total / CENT)
    shares: dict[str, int] = {}
    remainders = []
    for key, weight in weights.items():
        exact_num = cents * weight  # exact share in cents = exact_num / whole
        floor, rest = divmod(exact_num, whole)
        shares[key] = floor
        remainders.append((rest, weight, key))
    left = cents - sum(shares.values())
    # Largest remainder first; equal remainders: larger weight first, then key (deterministic).
    remainders.sort(key=lambda r: (-r[0], -r[1], r[2]))
    for _, _, key in remainders[:left]:
        shares[key] += 1
    return {key: Decimal(value) * CENT for key, value in shares.items()}


@dataclass(frozen=True)
class Scenario:
    """One scenario computed: its members, population, rate and every member's annual amount."""

    key: str  # 'alle', a named scenario, 'Interesse'
    label: str  # as shown: 'Alle Kommunen', '15 Kommunen (IKZ Cybersicherheit)', 'Interesse (Rückmeldungen ja)'
    members: tuple[str, ...]
    population: int
    net_cost: Decimal
    rate: Decimal | None  # exact; None without members
    amounts: Mapping[str, Decimal]  # AGS -> annual contribution, to the cent

    def amount(self, ags: str) -> Decimal | None:
        return self.amounts.get(ags)


def label(key: str) -> str:
    """How a scenario is named in documents."""
    if key == ALL:
        return "Alle Kommunen"
    if key == INTEREST:
        return "Interesse (Rückmeldung „ja“)"
    return key


def compute(model: CostModel, roster: Sequence[Municipality]) -> list[Scenario]:
    """Every scenario of ``model`` over ``roster``: all, the named ones, Interesse (maybe empty)."""
    net = model.net_cost.quantize(CENT, rounding=ROUND_HALF_UP)  # kaufmännisch, as everywhere
    result = []
    for key in scenario_names(model):
        members = members_of(model, key, roster)
        population = sum(m.population for m in members)
        amounts = apportion(net, {m.ags: m.population for m in members}) if population else {}
        rate = net / population if population else None
        result.append(Scenario(key, label(key), tuple(m.ags for m in members), population, net, rate, amounts))
    return result


@dataclass(frozen=True)
class Savings:
    """What a municipality pays now for the former IKZ and stops paying when it joins."""

    items: tuple[tuple[str, bool, str, Decimal], ...]  # (label, takes part, method, amount)
    total: Decimal


def savings(model: CostModel, m: Municipality) -> Savings:
    """The former IKZ contributions of ``m`` (0 where it does not take part)."""
    items = []
    for c in model.contributions:
        method = "je Einwohner/in" if c.per_inhabitant else "pauschal"
        items.append((c.label, c.takes_part(m), method, c.annual(m)))
    return Savings(tuple(items), sum((i[3] for i in items), Decimal("0.00")))
