"""Cost sheets and the cost overview: figures checked by hand, chart, determinism."""

from __future__ import annotations

import re
from decimal import Decimal

import docx
import openpyxl
import pytest
from click.testing import CliRunner

from conftest import answer, clear_answers, edit_sheet, files_under
from kdigital.cli import cli
from kdigital.chart import Marker, RateChart
from kdigital.costsheets import (NO_ANSWERS, NO_INTEREST, TEMPLATE, CostSheetJob, chart_markers, make_chart,
                                  make_costs, summary_rows)
from kdigital.allocation import compute
from kdigital.inputs import load_inputs
from kdigital.render import DocumentTemplate, render_naive
from test_render import assert_same_content


def text_of(path) -> str:
    d = docx.Document(path)
    parts = [p.text for p in d.paragraphs]
    parts += [c.text for t in d.tables for r in t.rows for c in r.cells]
    for section in d.sections:
        parts += [p.text for p in section.footer.paragraphs]
        parts += [c.text for t in section.footer.tables for r in t.rows for c in r.cells]
    return re.sub(r"\s+", " ", " ".join(parts).replace("\xa0", " "))


def scenario_rows(path) -> dict[str, list[str]]:
    """The scenario table of a cost sheet: first cell -> all cells, texts normalised."""
    d = docx.Document(path)
    table = next(t for t in d.tables if "Ihr Jahresbeitrag" in " ".join(c.text for c in t.rows[0].cells))
    rows = {}
    for r in table.rows[1:]:
        cells = [re.sub(r"\s+", " ", c.text.replace("\xa0", " ")).strip() for c in r.cells]
        rows[cells[0]] = cells
    return rows


@pytest.fixture(scope="module")
def shipped_costs(tmp_path_factory):
    from kdigital.workspace import init_workspace, shipped_workspace

    ws = init_workspace(tmp_path_factory.mktemp("costs") / "ws", shipped_workspace())
    return ws, make_costs(ws)


def test_one_sheet_per_municipality_and_the_overview(shipped_costs):
    ws, run = shipped_costs
    assert len(run.documents) == 22
    assert run.overview.name == "kostenuebersicht.xlsx"
    assert sorted(p.name for p in (ws.outputs / "costs").iterdir()) == sorted(
        [p.name for p in run.documents] + ["kostenuebersicht.xlsx"])


def test_marburg_figures_checked_by_hand(shipped_costs):
    _, run = shipped_costs
    path = next(p for p in run.documents if p.name.startswith("06534014"))
    rows = scenario_rows(path)
    alle = rows["Alle Kommunen"]
    # 295.950 € × 73.544 / 242.805 = 89.641,26… €; Marburg pays now: Cybersicherheit 0,30 € × 73.544
    # = 22.063,20 €, no GDI, OZG 1.500 € flat: 23.563,20 €; saldo +66.078,06 €.
    assert alle[1:] == ["22", "242.805", "295.950,00 €", "1,22 €", "89.641,26 €", "23.563,20 €", "+66.078,06 €"]
    fifteen = rows["15 Kommunen (IKZ Cybersicherheit)"]
    assert fifteen[4] == "1,70 €"
    text = text_of(path)
    assert "KD-2022-KB-06534014" in text
    assert "Universitätsstadt Marburg" in text and "73.544" in text
    assert NO_ANSWERS not in text  # the shipped roster records answers
    interest = next(v for k, v in rows.items() if k.startswith("Interesse"))
    assert interest[1] == "14"


def test_wohratal_figures_checked_by_hand(shipped_costs):
    _, run = shipped_costs
    path = next(p for p in run.documents if p.name.startswith("06534022"))
    rows = scenario_rows(path)
    # 29.595.000 cents × 2.142 / 242.805 = 261.083,96 cents: among the 12 largest remainders -> 2.610,84 €.
    # Wohratal pays now 0,30 × 2.142 = 642,60 € (Cyber) + 0,25 × 2.142 = 535,50 € (GDI), no OZG: 1.178,10 €.
    assert rows["Alle Kommunen"][5:] == ["2.610,84 €", "1.178,10 €", "+1.432,74 €"]
    # In the 15-member scenario: 29.595.000 × 2.142 / 174.088 = 364.140,49 cents -> 3.641,40 €.
    assert rows["15 Kommunen (IKZ Cybersicherheit)"][5] == "3.641,40 €"
    savings = text_of(path)
    assert "642,60 €" in savings and "535,50 €" in savings


def test_non_member_shows_no_contribution(shipped_costs):
    _, run = shipped_costs
    path = next(p for p in run.documents if p.name.startswith("06534018"))  # Stadtallendorf: not in the 15
    fifteen = scenario_rows(path)["15 Kommunen (IKZ Cybersicherheit)"]
    assert fifteen[5:] == ["–", "–", "–"]


def test_every_sheet_has_its_own_chart(shipped_costs):
    _, run = shipped_costs
    images = []
    for path in run.documents[:3]:
        d = docx.Document(path)
        assert len(d.inline_shapes) == 1
        blob = d.inline_shapes[0]._inline.graphic.graphicData.pic.blipFill.blip.embed
        images.append(d.part.related_parts[blob].blob)
    assert all(i.startswith(b"\x89PNG") for i in images)
    assert len(set(images)) == 3


def test_overview_numbers_and_totals(shipped_costs):
    _, run = shipped_costs
    wb = openpyxl.load_workbook(run.overview)
    ws = wb.active
    assert ws.freeze_panes == "A2"
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, (c.value for c in r))) for r in ws.iter_rows(min_row=2)]
    data = [r for r in rows if r["AGS"]]
    totals = {r["Szenario"]: r for r in rows if not r["AGS"]}
    assert len(data) == 22 * 3
    assert totals["Alle Kommunen"]["Jahresbeitrag (EUR)"] == pytest.approx(295950.00)
    members = [r for r in data if r["Szenario"] == "Alle Kommunen"]
    assert sum(Decimal(str(r["Jahresbeitrag (EUR)"])) for r in members) == Decimal("295950.00")
    marburg = next(r for r in members if r["AGS"] == "06534014")
    assert isinstance(marburg["Jahresbeitrag (EUR)"], float) and marburg["Jahresbeitrag (EUR)"] == 89641.26
    assert marburg["Satz je Einwohner/in (EUR)"] == pytest.approx(1.2189)
    cell = ws.cell(2, header.index("Jahresbeitrag (EUR)") + 1)
    assert "€" in cell.number_format and "#,##0.00" in cell.number_format


def test_two_runs_give_identical_bytes(workspace):
    make_costs(workspace, only=["06534014", "06534009"])
    first = files_under(workspace.outputs)
    make_costs(workspace, only=["06534014", "06534009"])
    assert files_under(workspace.outputs) == first
    assert "costs/kostenuebersicht.xlsx" in first


def test_changing_a_cost_item_moves_every_sheet(workspace):
    make_costs(workspace)
    before = files_under(workspace.outputs / "costs")
    edit_sheet(workspace.cost_model, "Kosten", {(2, "Betrag je Einheit (EUR/Jahr)"): 88500})
    make_costs(workspace)
    after = files_under(workspace.outputs / "costs")
    assert before.keys() == after.keys()
    assert all(before[name] != after[name] for name in before)
    marburg = next(p for p in (workspace.outputs / "costs").glob("06534014*.docx"))
    assert scenario_rows(marburg)["Alle Kommunen"][3] == "305.950,00 €"


def test_no_answers_yet(workspace):
    clear_answers(workspace)
    run = make_costs(workspace, only=["06534014"])
    interest = next(v for k, v in scenario_rows(run.documents[0]).items() if k.startswith("Interesse"))
    assert interest[1:] == ["0", "–", "295.950,00 €", "–", "–", "–", "–"]
    assert NO_ANSWERS in text_of(run.documents[0])
    assert run.answers == 0
    assert summary_rows(run.scenarios, run.answers)[-1][4] == "– (keine Rückmeldungen)"


def test_answers_but_no_ja_is_not_called_no_answers(workspace):
    answer(workspace, no=("06534014", "06534009", "06534022"))
    run = make_costs(workspace, only=["06534014"])
    text = text_of(run.documents[0])
    assert NO_INTEREST in text and NO_ANSWERS not in text
    assert run.answers == 3
    assert summary_rows(run.scenarios, run.answers)[-1][4] == "– (noch kein „ja“)"
    result = CliRunner().invoke(cli, ["-w", str(workspace.root), "costs", "--only", "06534014"])
    assert result.exit_code == 0, result.output
    assert "keine Rückmeldungen" not in result.stdout and "noch kein „ja“" in result.stdout


def test_interest_scenario_once_answers_are_in(workspace):
    answer(workspace, yes=("06534014", "06534009", "06534022"))
    run = make_costs(workspace, only=["06534009"])
    rows = scenario_rows(run.documents[0])
    interest = next(v for k, v in rows.items() if k.startswith("Interesse"))
    assert interest[1:3] == ["3", "79.794"]  # 73.544 + 4.108 + 2.142
    text = text_of(run.documents[0])
    assert NO_ANSWERS not in text and NO_INTEREST not in text


def assert_labels_apart(chart, name, population, contributions):
    """No two labels of the chart overlap, and all lie inside the figure."""
    boxes = chart.label_extents(name, population, contributions)
    figure = chart.figure.bbox
    for box in boxes:
        assert figure.x0 <= box.x0 and box.x1 <= figure.x1 and figure.y0 <= box.y0 and box.y1 <= figure.y1, box
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), (a, b)
    return boxes


def test_chart_labels_do_not_overlap_on_any_sheet(workspace):
    # Shipped data: Interesse (14 members, 1,72 €) and the 15-member scenario (1,70 €) sit side by
    # side; Marburg is a member of both, so both its contribution labels are drawn there too.
    inputs = load_inputs(workspace)
    scenarios = compute(inputs.cost_model, inputs.roster)
    chart = make_chart(inputs.cost_model, inputs.roster, scenarios)
    markers = chart_markers(scenarios)
    axes = chart.axis.get_window_extent(chart.canvas.get_renderer())
    for m in inputs.roster:
        own = [(marker, s.amount(m.ags)) for marker, s in zip(markers, scenarios)]
        boxes = assert_labels_apart(chart, m.name, m.population, own)
        assert len(boxes) == 1 + 3 + sum(amount is not None for _, amount in own)
        for box in boxes[:3] + boxes[4:]:  # scenario and contribution labels stay inside the axes
            assert axes.x0 <= box.x0 and box.x1 <= axes.x1 and axes.y0 <= box.y0 and box.y1 <= axes.y1


def test_chart_labels_near_the_left_edge_and_on_one_point():
    populations = [50000, 30000, 20000, 12000, 9000, 8000, 5000, 4000]
    net = Decimal(300000)
    markers = [Marker("Alle Kommunen", 8, net / sum(populations)), Marker("1 Kommune", 1, net / 50000),
               Marker("2 Kommunen (A)", 2, net / 80000), Marker("2 Kommunen (B)", 2, net / 80000),
               Marker("Interesse", 3, net / 100000), Marker("3 Kommunen", 3, net / 99000),
               Marker("Leer", 0, Decimal(0))]
    chart = RateChart(populations, net, markers)
    contributions = [(m, Decimal(123456) if m.members else None) for m in markers]
    boxes = assert_labels_apart(chart, "Gemeinde mit einem recht langen Namen", 50000, contributions)
    assert len(boxes) == 1 + 6 + 6
    axes = chart.axis.get_window_extent(chart.canvas.get_renderer())
    assert all(axes.x0 <= box.x0 for box in boxes)
    assert chart.png("Gemeinde", 50000, contributions).startswith(b"\x89PNG")


def test_fast_route_equals_docxtpl_for_the_cost_sheet(workspace):
    inputs = load_inputs(workspace)
    scenarios = compute(inputs.cost_model, inputs.roster)
    job = CostSheetJob(inputs.campaign, inputs.cost_model, scenarios,
                       make_chart(inputs.cost_model, inputs.roster, scenarios))
    path = workspace.template(TEMPLATE)
    template = DocumentTemplate(path)
    for m in inputs.roster[:2]:
        context = job(m)[1]
        assert_same_content(template.render(context), render_naive(path, context))


def test_cli_prints_the_scenario_table(workspace):
    result = CliRunner().invoke(cli, ["-w", str(workspace.root), "costs", "--only", "06534014"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Szenario", "Kommunen", "Einwohner", "Netto-Jahreskosten", "Satz", "je", "Einw."]
    assert re.search(r"Alle Kommunen\s+22\s+242\.805\s+295\.950,00 €\s+1,22 €", result.stdout.replace("\xa0", " "))
    assert re.search(r"Interesse \(Rückmeldung „ja“\)\s+14\s", result.stdout)
    assert "Kostenblätter (DOCX)" in result.stdout


@pytest.mark.usefixtures("require_soffice")
def test_cost_sheet_pdf(workspace):
    run = make_costs(workspace, only=["06534014"], pdf=True)
    assert run.pdf_failures == {} and len(run.pdfs) == 1
    from pypdf import PdfReader

    reader = PdfReader(run.pdfs[0])
    assert 1 <= len(reader.pages) <= 2
    assert "KD-2022-KB-06534014" in "".join(p.extract_text() for p in reader.pages)
