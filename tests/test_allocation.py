"""Apportioning to the cent: properties for any populations and net cost."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from conftest import clear_answers
from kdigital.allocation import apportion, compute
from kdigital.inputs import load_inputs

populations = st.dictionaries(
    st.text("0123456789", min_size=8, max_size=8), st.integers(min_value=1, max_value=4_000_000),
    min_size=1, max_size=60,
)
totals = st.integers(min_value=0, max_value=10**11).map(lambda cents: Decimal(cents) / 100)


@settings(max_examples=300)
@given(populations, totals)
def test_parts_add_up_exactly(weights, total):
    parts = apportion(total, weights)
    assert sum(parts.values(), Decimal(0)) == total
    assert set(parts) == set(weights)


@settings(max_examples=300)
@given(populations, totals)
def test_every_part_within_one_cent_of_its_exact_share(weights, total):
    parts = apportion(total, weights)
    whole = sum(weights.values())
    for key, amount in parts.items():
        exact = total * weights[key] / whole
        assert abs(amount - exact) < Decimal("0.01")
        assert amount == amount.quantize(Decimal("0.01"))


@settings(max_examples=300)
@given(populations, totals)
def test_larger_population_never_pays_less(weights, total):
    parts = apportion(total, weights)
    ordered = sorted(weights, key=weights.get)
    for smaller, larger in zip(ordered, ordered[1:]):
        if weights[larger] > weights[smaller]:
            assert parts[larger] >= parts[smaller]
        else:
            assert abs(parts[larger] - parts[smaller]) <= Decimal("0.01")


def test_remainder_cents_go_to_the_largest_remainders():
    # 1,00 € over three equal weights: 0,34 + 0,33 + 0,33, the extra cent deterministically first by key.
    assert apportion(Decimal("1.00"), {"b": 1, "a": 1, "c": 1}) == {
        "a": Decimal("0.34"), "b": Decimal("0.33"), "c": Decimal("0.33")}
    # 10,00 € over 1:2: exact 3,333… and 6,666…: the larger remainder (6,666…) gets the cent.
    assert apportion(Decimal("10.00"), {"x": 1, "y": 2}) == {"x": Decimal("3.33"), "y": Decimal("6.67")}


def test_fractions_of_a_cent_are_refused():
    with pytest.raises(ValueError, match="not a whole number of cents"):
        apportion(Decimal("1.005"), {"a": 1})


def test_nothing_to_apportion_over_is_refused():
    with pytest.raises(ValueError, match="weights add up to zero"):
        apportion(Decimal("10.00"), {"a": 0, "b": 0})
    with pytest.raises(ValueError, match="weights add up to zero"):
        apportion(Decimal("10.00"), {})


def test_a_scenario_of_no_inhabitants_is_a_finding(workspace):
    # The roster admits only positive populations, so this guards other callers of the model
    # (a roster read elsewhere, a programme's own scenario): a total of zero cannot be apportioned.
    import dataclasses

    from kdigital.costs import check_against_roster

    inputs = load_inputs(workspace)
    roster = [dataclasses.replace(m, population=0) if m.ags in inputs.cost_model.scenarios[inputs.cost_model.comparison]
              else m for m in inputs.roster]
    findings = check_against_roster(inputs.cost_model, roster, "cost_model.xlsx")
    assert [f.message for f in findings] == [f"Szenario „{inputs.cost_model.comparison}“ hat zusammen 0 Einwohner/innen"]
    assert findings[0].sheet == "Szenarien"


def test_shipped_scenarios(workspace):
    inputs = load_inputs(workspace)
    scenarios = {s.key: s for s in compute(inputs.cost_model, inputs.roster)}
    alle, fifteen, interest = scenarios["alle"], scenarios["15 Kommunen (IKZ Cybersicherheit)"], scenarios["Interesse"]
    assert sum(alle.amounts.values()) == Decimal("295950.00") == sum(fifteen.amounts.values())
    assert len(alle.members) == 22 and len(fifteen.members) == 15
    assert len(interest.members) == 14  # the shipped roster records 14 answers "ja"
    assert sum(interest.amounts.values()) == Decimal("295950.00")
    # Checked by hand: 29.595.000 cents × population / 242.805, rounded down, leave 12 cents; they go to
    # the 12 largest remainders. Marburg: 8.964.126,27… cents, remainder 0,27, stays at 89.641,26 €;
    # Bad Endbach (7.933): 966.936,98… cents, the largest remainder, gets the cent: 9.669,37 €.
    assert alle.amount("06534014") == Decimal("89641.26")
    assert alle.amount("06534003") == Decimal("9669.37")
    # Wohratal (2.142 inhabitants) in the 15-member scenario: 295.950 × 2.142 / 174.088 = 3.641,40… €
    assert fifteen.amount("06534022") == Decimal("3641.40")


def test_no_answers_give_an_empty_interest_scenario(workspace):
    clear_answers(workspace)
    inputs = load_inputs(workspace)
    interest = next(s for s in compute(inputs.cost_model, inputs.roster) if s.key == "Interesse")
    assert interest.members == () and interest.rate is None and interest.amounts == {}


def test_doubling_every_population_halves_the_rates(workspace):
    from dataclasses import replace

    inputs = load_inputs(workspace)
    before = {s.key: s.rate for s in compute(inputs.cost_model, inputs.roster)}
    doubled = [replace(m, population=2 * m.population) for m in inputs.roster]
    after = {s.key: s.rate for s in compute(inputs.cost_model, doubled)}
    for key, rate in before.items():
        if rate is not None:
            assert abs(after[key] - rate / 2) < Decimal("1e-20")
