"""The cost model: rates of the letter computed from the workbook, exactly."""

from __future__ import annotations

from decimal import Decimal

from conftest import edit_sheet, roster_row
from kdigital import formatting
from kdigital.costs import letter_rates
from kdigital.inputs import load_inputs


def rates(ws):
    inputs = load_inputs(ws)
    return letter_rates(inputs.cost_model, inputs.roster)


def test_shipped_model_gives_the_letters_rates(workspace):
    all_members, comparison = rates(workspace)
    assert all_members.members == 22 and all_members.population == 242_805
    assert comparison.members == 15
    assert formatting.money(all_members.rate) == "1,22\xa0€"
    assert formatting.money(comparison.rate) == "1,70\xa0€"
    assert isinstance(all_members.rate, Decimal)
    assert all_members.net_cost == Decimal("295950.0")


def test_changing_a_cost_item_changes_the_rates(workspace):
    # Row 2 is the new OZG position (1 × 78.500 €); 100.000 € more lifts both rates.
    edit_sheet(workspace.cost_model, "Kosten", {(2, "Betrag je Einheit (EUR/Jahr)"): 178500})
    all_members, comparison = rates(workspace)
    assert formatting.money(all_members.rate) == "1,63\xa0€"  # 395.950 / 242.805
    assert formatting.money(comparison.rate) == "2,27\xa0€"  # 395.950 / 174.088


def test_switching_on_the_funding_lowers_the_rates(workspace):
    edit_sheet(workspace.cost_model, "Kosten", {(10, "Berücksichtigen"): "ja"})
    all_members, _ = rates(workspace)
    assert all_members.net_cost == Decimal("195950.0")
    assert formatting.money(all_members.rate) == "0,81\xa0€"


def test_changing_a_population_changes_the_rates(workspace):
    row = roster_row(workspace, "06534014")
    edit_sheet(workspace.roster, "Kommunen", {(row, "Einwohner"): 173_544})  # Marburg +100.000
    all_members, comparison = rates(workspace)
    assert all_members.population == 342_805
    assert formatting.money(all_members.rate) == "0,86\xa0€"
    assert formatting.money(comparison.rate) == "1,08\xa0€"


def test_rounding_is_half_up_not_half_even():
    assert formatting.money(Decimal("1.225")) == "1,23\xa0€"
    assert formatting.money(Decimal("1.235")) == "1,24\xa0€"
    assert formatting.money(Decimal("0.005")) == "0,01\xa0€"
    assert formatting.round_half_up(Decimal("2.5"), 0) == 3
