"""Cost sheets (Kostenblatt): one per municipality, and the overview workbook.

Stage: validated inputs -> scenarios computed once -> contexts with a chart of
their own -> rendered .docx in ``outputs/costs`` and ``kostenuebersicht.xlsx``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Sequence

from kdigital import addressing, formatting
from kdigital.allocation import Savings, Scenario, compute, savings
from kdigital.batch import Progress
from kdigital.campaign import Campaign
from kdigital.contexts import campaign_context, document_properties, municipality_context
from kdigital.costs import INTEREST, CostModel
from kdigital.roster import Municipality
from kdigital.workspace import Workspace

TEMPLATE = "kostenblatt.docx"
KIND = "KB"
FOLDER = "costs"
OVERVIEW = "kostenuebersicht.xlsx"
TITLE = "Kostenblatt Kompetenzcenter kommunal digital"
CHART_WIDTH_MM = 160
NO_ANSWERS = "Noch keine Rückmeldungen: das Szenario „Interesse“ ist leer."
NO_INTEREST = "Noch keine Interessensbekundung („ja“): das Szenario „Interesse“ ist leer."


@dataclass(frozen=True)
class CostRun:
    """What ``make_costs`` wrote."""

    folder: Path
    documents: list[Path]
    overview: Path
    scenarios: list[Scenario]
    pdfs: list[Path]
    pdf_failures: dict[str, str]
    answers: int | None = None  # municipalities that answered (ja or nein)
    removed: list[Path] = field(default_factory=list)  # out-of-date sheets of earlier runs


def signed_money(value: Decimal) -> str:
    """'+48.351,39 €' / '−1.234,00 €' (typographic minus) / '0,00 €'."""
    if value > 0:
        return "+" + formatting.money(value)
    if value < 0:
        return "\u2212" + formatting.money(-value)
    return formatting.money(value)


def interest_note(interest: Scenario, answers: int | None) -> str:
    """Why the Interesse scenario is empty ('' when it is not): no answers yet, or no "ja" among them.

    ``answers`` is the number of municipalities that answered; unknown (None) gets the
    note that holds either way.
    """
    if interest.members:
        return ""
    return NO_ANSWERS if answers == 0 else NO_INTEREST


def answer_count(roster: Sequence[Municipality]) -> int:
    """How many municipalities answered the Interessensbekundung, "ja" or "nein"."""
    return sum(m.interest is not None for m in roster)


def assumptions(model: CostModel) -> list[str]:
    """Every cost item and former-IKZ contribution with its figure and source, for the sheet."""
    lines = []
    for item in model.items:
        quantity = formatting.decimal_number(item.quantity, 2).rstrip("0").rstrip(",")
        unit = f"{quantity} VZÄ" if item.category == "Personal" else quantity
        grade = f" {item.pay_grade}" if item.pay_grade else ""
        state = "" if item.active else " – nicht berücksichtigt"
        lines.append(f"{item.category}: {item.position}: {unit}{grade} × "
                     f"{formatting.money(item.unit_amount)} = {formatting.money(item.annual)}{state} ({item.source})")
    for c in model.contributions:
        basis = "je Einwohner/in" if c.per_inhabitant else "pauschal je Kommune"
        lines.append(f"Bisheriger Beitrag {c.label}: {formatting.money(c.amount)} {basis} ({c.source})")
    return lines


class CostSheetJob:
    """Turns a municipality into (file name, context); scenarios and chart are shared."""

    def __init__(self, campaign: Campaign, model: CostModel, scenarios: list[Scenario], chart,
                 answers: int | None = None):
        self.campaign = campaign
        self.model = model
        self.scenarios = scenarios
        self.chart = chart
        self.markers = {s.key: m for s, m in zip(scenarios, chart_markers(scenarios))} if chart else {}
        interest = next(s for s in scenarios if s.key == INTEREST)
        self.shared = {
            "kampagne": campaign_context(campaign),
            "kosten": {
                "brutto": formatting.money(model.gross_cost),
                "einnahmen": formatting.money(model.income),
                "netto": formatting.money(model.net_cost),
            },
            "annahmen": assumptions(model),
            "interesse_hinweis": interest_note(interest, answers),
        }

    @staticmethod
    def filename(m: Municipality) -> str:
        return f"{addressing.file_stem(m)}.docx"

    def rows(self, m: Municipality, saved: Savings) -> list[dict[str, str]]:
        """The scenario table of ``m``: formatted strings, '–' where it is not a member."""
        rows = []
        for s in self.scenarios:
            amount = s.amount(m.ags)
            rows.append({
                "name": s.label,
                "mitglieder": formatting.integer(len(s.members)),
                "einwohner": formatting.integer(s.population) if s.members else "–",
                "netto": formatting.money(s.net_cost),
                "satz": formatting.money(s.rate) if s.rate is not None else "–",
                "satz4": formatting.money(s.rate, 4) if s.rate is not None else "–",
                "beteiligt": "ja" if amount is not None else "nein",
                "beitrag": formatting.money(amount) if amount is not None else "–",
                "wegfall": formatting.money(saved.total) if amount is not None else "–",
                "saldo": signed_money(amount - saved.total) if amount is not None else "–",
            })
        return rows

    def __call__(self, m: Municipality) -> tuple[str, dict[str, Any], dict[str, str]]:
        saved = savings(self.model, m)
        context = dict(self.shared)
        context.update(municipality_context(m))
        context["kennung"] = self.campaign.identifier(KIND, m.ags)
        context["szenarien"] = self.rows(m, saved)
        context["wegfall"] = [
            {"ikz": name, "teilnahme": "ja" if part else "nein", "berechnung": method, "betrag": formatting.money(amount)}
            for name, part, method, amount in saved.items
        ]
        context["wegfall_summe"] = formatting.money(saved.total)
        if self.chart is not None:
            from kdigital.render import Image

            own = [(self.markers[s.key], s.amount(m.ags)) for s in self.scenarios]
            png = self.chart.png(addressing.designation(m), m.population, own)
            context["diagramm"] = Image(png, CHART_WIDTH_MM)
        return self.filename(m), context, document_properties(TITLE, context["kennung"], m, "Kostenblatt",
                                                                     self.campaign.district_name)


def chart_markers(scenarios: list[Scenario]):
    from kdigital.chart import Marker

    return [Marker(s.label if s.key != INTEREST else "Interesse", len(s.members), s.rate or Decimal(0))
            for s in scenarios]


def make_chart(model: CostModel, roster: Sequence[Municipality], scenarios: list[Scenario]):
    """The run's chart, drawn once (the band depends on every population)."""
    from kdigital.chart import RateChart

    return RateChart([m.population for m in roster], model.net_cost, chart_markers(scenarios))


def example_context() -> dict[str, Any]:
    """A complete context from example data, for checking the template without inputs."""
    from kdigital.costs import Contribution, CostItem
    from kdigital.letters import example_campaign, example_municipality
    from kdigital.render import Image

    m = example_municipality()
    model = CostModel((CostItem("Stelle", "Personal", Decimal(1), Decimal(50000), True, "Annahme", "E 10"),),
                      {"Beispiel": (m.ags,)}, "Beispiel", (Contribution("GDI", True, Decimal("0.25"), "Annahme"),))
    scenarios = compute(model, [m])
    job = CostSheetJob(example_campaign(), model, scenarios, None)
    context = job(m)[1]
    context["diagramm"] = Image(b"", CHART_WIDTH_MM)
    return context


def make_costs(
    ws: Workspace,
    *,
    only: Sequence[str] | None = None,
    pdf: bool = False,
    workers: int | None = None,
    progress: Progress | None = None,
) -> CostRun:
    """Validate everything, then write the cost sheets and the overview into ``outputs/costs`` atomically."""
    from kdigital.batch import render_batch
    from kdigital.inputs import load_inputs, select
    from kdigital.ledger import record_generated
    from kdigital.pdf import convert_and_check
    from kdigital.output import Staging, prune
    from kdigital.render import DocumentTemplate

    progress = progress or Progress()
    inputs = load_inputs(ws)
    selected = select(inputs.roster, only, ws.roster.name)
    template = DocumentTemplate(ws.template(TEMPLATE))
    scenarios = compute(inputs.cost_model, inputs.roster)
    answers = answer_count(inputs.roster)
    probe = CostSheetJob(inputs.campaign, inputs.cost_model, scenarios, None, answers)
    sample = probe(selected[0])[1]
    sample["diagramm"] = ""
    template.require_placeholders(sample)
    job = CostSheetJob(inputs.campaign, inputs.cost_model, scenarios,
                       make_chart(inputs.cost_model, inputs.roster, scenarios), answers)
    folder = ws.outputs / FOLDER
    names = [job.filename(m) for m in selected]
    with Staging(folder) as staging:
        progress.start("Kostenblätter", len(selected))
        try:
            hashes = render_batch(template, selected, job, staging.path, workers=workers, progress=progress.advance)
        finally:
            progress.finish()
        from kdigital.overview import write_overview

        write_overview(staging.path / OVERVIEW, inputs.roster, inputs.cost_model, scenarios, inputs.campaign.letter_date)
        pdfs: list[str] = []
        failures: dict[str, str] = {}
        if pdf:
            expected = {job.filename(m): (inputs.campaign.identifier(KIND, m.ags), None) for m in selected}
            pdfs, failures = convert_and_check(staging.path, expected, progress, workers)
        published = staging.publish(names + [OVERVIEW] + pdfs)
    # sheets of renamed or removed municipalities, and PDFs of sheets rewritten without --pdf, go
    removed = prune(folder, published, None if not only else {m.ags for m in selected})
    by_stem = {addressing.file_stem(m): m.ags for m in selected}
    record_generated(ws.root, inputs.campaign.campaign_id, KIND,
                     [(by_stem[p.stem], p) for p in published if p.stem in by_stem], hashes)
    # e-mail drafts that attach a cost sheet must attach this one (or none, without --pdf)
    from kdigital.letters import refresh_drafts

    refresh_drafts(ws, inputs.roster, inputs.campaign, None if not only else {m.ags for m in selected})
    return CostRun(folder, published[:len(names)], published[len(names)], scenarios,
                   published[len(names) + 1:], failures, answers, removed)


def summary_rows(scenarios: list[Scenario], answers: int | None = None) -> list[tuple[str, str, str, str, str]]:
    """(scenario, members, population, net cost, rate) per scenario, formatted for the CLI table.

    ``answers`` (``CostRun.answers``) tells an empty Interesse scenario without any answers
    from one with answers but no "ja"; without it the note says what holds in both cases.
    """
    empty = "– (keine Rückmeldungen)" if answers == 0 else "– (noch kein „ja“)"
    return [
        (s.label, formatting.integer(len(s.members)), formatting.integer(s.population),
         formatting.money(s.net_cost), formatting.money(s.rate) if s.rate is not None else empty)
        for s in scenarios
    ]

