"""The campaign status: rows from roster and ledger, the table, the workbook and the HTML page in a browser."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from conftest import clear_answers, edit_sheet, roster_row
from kdigital.cli import cli
from kdigital.ledger import GENERATED, RETURNED, SENT, Event, Ledger
from kdigital.letters import example_municipality
from kdigital.status import StatusRow, build_rows, load_status
from kdigital.status_views import render_html

TODAY = dt.date(2022, 4, 11)  # three days after the shipped Rückmeldefrist 08.04.2022
DEADLINE = dt.date(2022, 4, 8)

YES_AGS = ("06534001", "06534014")  # Amöneburg (agreement page returned), Marburg
NO_AGS = "06534002"  # Angelburg
PHONE_AGS = "06534009"  # Fronhausen: said yes on the phone, entered in the roster
RETURNED_AGS = "06534004"  # Biedenkopf: reply form returned, not yet entered in the roster
RECEIVED_AGS = "06534012"  # Lahntal: Eingang entered, Interesse not yet (e.g. asked questions)
OVERDUE_AGS = {"06534003", "06534005", "06534006", "06534007", "06534008", "06534010", "06534011", "06534013",
               "06534015", "06534016", "06534017", "06534018", "06534019", "06534020", "06534021", "06534022"}


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def campaign(workspace):
    """The shipped workspace with yes/no/open answers and returns recorded in the ledger."""
    clear_answers(workspace)
    edits = {}
    for ags, answer, received in [(YES_AGS[0], "ja", dt.datetime(2022, 3, 28)),
                                  (YES_AGS[1], "ja", dt.datetime(2022, 3, 30)),
                                  (NO_AGS, "nein", dt.datetime(2022, 3, 29)),
                                  (PHONE_AGS, "ja", None),
                                  (RECEIVED_AGS, None, dt.datetime(2022, 4, 7))]:
        row = roster_row(workspace, ags)
        edits[(row, "Interesse")] = answer
        edits[(row, "Eingang")] = received
    edit_sheet(workspace.roster, "Kommunen", edits)
    with Ledger.open(workspace.root) as ledger:
        ledger.record(SENT, ags=RETURNED_AGS, kind="IB", campaign="KD-2022", channel="E-Mail")
        ledger.record(RETURNED, ags=RETURNED_AGS, kind="IB", campaign="KD-2022", file="scan_0042.pdf",
                      sha256="ab" * 32, detail={"matched_by": "qr"},
                      time=dt.datetime(2022, 4, 6, 9, 30, tzinfo=dt.timezone.utc))
        ledger.record(RETURNED, ags=YES_AGS[0], kind="VB", campaign="KD-2022", file="06534001_vb.pdf",
                      detail={"matched_by": "filename"})
        # Another campaign's form does not count; the district's own signature page does, in its own row.
        ledger.record(RETURNED, ags="06534011", kind="IB", campaign="KD-2019", detail={"matched_by": "qr"})
        ledger.record(RETURNED, ags="06534000", kind="VB", campaign="KD-2022")
    return workspace


def by_ags(rows) -> dict[str, StatusRow]:
    return {r.ags: r for r in rows}


# -- the rows ------------------------------------------------------------------------------


def event(n: int, ags: str, kind: str, what: str = RETURNED, **detail) -> Event:
    return Event(n, dt.datetime(2022, 4, 1, 8, n, tzinfo=dt.timezone.utc), "KD-2022", ags, kind, what,
                 detail=detail)


def test_rows_from_answers_and_returns():
    base = example_municipality()
    roster = [replace(base, ags="00000001", interest=True),
              replace(base, ags="00000002", interest=False),
              replace(base, ags="00000003", interest=None),
              replace(base, ags="00000004", interest=None),
              replace(base, ags="00000005", interest=None, received=dt.date(2022, 4, 1))]
    events = [event(1, "00000004", "IB", matched_by="text"), event(2, "00000001", "VB"),
              event(3, "00000004", "IB", matched_by="qr"), event(4, "00000003", "KB"),
              event(5, "00000003", "IB", GENERATED), event(6, "00000003", "ER", GENERATED, datum="2022-04-11")]
    rows = by_ags(build_rows(roster, events, DEADLINE, TODAY))
    assert [rows[a].answer for a in sorted(rows)] == ["ja", "nein", "offen", "offen", "offen"]
    assert [a for a in sorted(rows) if rows[a].overdue] == ["00000003"]
    assert rows["00000001"].agreement_returned and not rows["00000001"].reply_returned
    # The first return counts, with how it was recognised.
    assert rows["00000004"].reply_returned and rows["00000004"].matched_by == "Text"
    assert rows["00000004"].reply_received == dt.date(2022, 4, 1)  # no date received recorded: the event's
    assert rows["00000003"].reminded == TODAY
    assert rows["00000001"].name == "Gemeinde Fronhausen"


@pytest.mark.parametrize("today, overdue", [(DEADLINE - dt.timedelta(days=1), False), (DEADLINE, False),
                                            (DEADLINE + dt.timedelta(days=1), True)])
def test_overdue_only_after_the_deadline_day(today, overdue):
    rows = build_rows([replace(example_municipality(), interest=None)], [], DEADLINE, today)
    assert rows[0].overdue is overdue


def test_load_status_of_the_workspace(campaign):
    report = load_status(campaign, TODAY)
    rows = by_ags(report.rows)
    assert len(rows) == 22
    assert {a for a, r in rows.items() if r.overdue} == OVERDUE_AGS
    assert rows[RETURNED_AGS].answer == "offen" and rows[RETURNED_AGS].reply_returned
    assert rows[RECEIVED_AGS].answer == "offen" and not rows[RECEIVED_AGS].overdue
    assert rows[PHONE_AGS].answer == "ja" and not rows[PHONE_AGS].reply_returned
    assert rows["06534011"].overdue  # the other campaign's return does not count
    t = report.totals
    assert (t.yes, t.no, t.open, t.overdue, t.replies, t.agreements) == (3, 1, 18, 16, 1, 2)
    # signature pages are expected from the three that said ja and from the district
    assert (t.agreements_expected, t.agreements_unexpected) == (4, 0)
    assert (report.district.ags, report.district.agreement_returned) == ("06534000", True)
    shown = {r.ags: r.agreement for r in report.all_rows}
    assert [shown[a] for a in (YES_AGS[0], YES_AGS[1], NO_AGS, "06534000")] == ["ja", "nein", "–", "ja"]


# -- the command ---------------------------------------------------------------------------


def test_status_prints_the_table_and_exits_0(campaign):
    result = invoke("-w", campaign.root, "status", "--stichtag", "11.04.2022")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == ["AGS", "Kommune", "Antwort", "Rückantwort", "Vereinbarung", "überfällig"]
    table = {line.split()[0]: re.split(r"\s{2,}", line) for line in lines[1:24]}
    assert table["06534001"] == ["06534001", "Stadt Amöneburg", "ja", "nein", "ja"]
    assert table["06534014"] == ["06534014", "Universitätsstadt Marburg", "ja", "nein", "nein"]
    # a signature page is not expected from those who did not say ja
    assert table["06534002"] == ["06534002", "Gemeinde Angelburg", "nein", "nein", "–"]
    assert table["06534004"] == ["06534004", "Stadt Biedenkopf", "offen", "ja", "–"]
    assert table["06534011"] == ["06534011", "Stadt Kirchhain", "offen", "nein", "–", "ÜBERFÄLLIG"]
    assert table["06534000"] == ["06534000", "Landkreis (Kreisausschuss)", "–", "–", "ja"]  # the last row
    assert {ags for ags, cells in table.items() if cells[-1] == "ÜBERFÄLLIG"} == OVERDUE_AGS
    assert lines[25:] == [
        "22 Kommunen: 3 ja, 1 nein, 18 offen",
        "Rückantwortformulare eingegangen: 1, Unterschriftenseiten der Vereinbarung: 2 von 4 erwartet "
        "(3 Kommunen mit „ja“ und der Landkreis)",
        "Rückmeldefrist 08.04.2022 (abgelaufen am Stichtag 11.04.2022): 16 überfällig",
    ]


def test_status_defaults_to_today(campaign):
    result = invoke("-w", campaign.root, "status")
    assert result.exit_code == 0
    assert f"am Stichtag {dt.date.today():%d.%m.%Y}): 16 überfällig" in result.stdout


def test_status_before_the_deadline_has_nobody_overdue(campaign):
    result = invoke("-w", campaign.root, "status", "--stichtag", "2022-04-01")
    assert result.exit_code == 0
    assert "ÜBERFÄLLIG" not in result.stdout
    assert "Rückmeldefrist 08.04.2022 (läuft noch am Stichtag 01.04.2022): 0 überfällig" in result.stdout


def test_status_never_creates_the_ledger(workspace):
    result = invoke("-w", workspace.root, "status", "--stichtag", "11.04.2022")
    assert result.exit_code == 0
    assert "Rückantwortformulare eingegangen: 0" in result.stdout
    assert not Ledger.exists(workspace.root)


def test_status_rejects_a_bad_date(workspace):
    result = invoke("-w", workspace.root, "status", "--stichtag", "11.13.2022")
    assert result.exit_code == 2
    assert "ist kein Datum" in result.output


# -- the workbook --------------------------------------------------------------------------


def test_xlsx_reads_back(campaign, tmp_path):
    target = tmp_path / "stand" / "stand.xlsx"
    result = invoke("-w", campaign.root, "status", "--stichtag", "11.04.2022", "--xlsx", target)
    assert result.exit_code == 0, result.output
    wb = openpyxl.load_workbook(target)
    sheet = wb["Status"]
    assert sheet.freeze_panes == "C2"
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("AGS", "Kommune", "Antwort", "Eingang laut Verzeichnis", "Rückantwort eingegangen",
                       "Rückantwort am", "erkannt über", "Unterschriftenseite Vereinbarung",
                       "Unterschriftenseite am", "überfällig", "Erinnerung vom", "Fassung der Unterschriftenseite")
    data = {r[0]: r for r in rows[1:]}
    assert len(data) == 23  # the municipalities and the district
    assert data["06534001"][:5] == ("06534001", "Stadt Amöneburg", "ja", dt.datetime(2022, 3, 28), "nein")
    assert data["06534001"][7] == "ja"
    assert data["06534001"][11] == "nicht geprüft"  # matched by file name: its version is on record nowhere
    assert data["06534002"][7] == "–" and data["06534014"][7] == "nein"
    assert data["06534000"][1:3] == ("Landkreis (Kreisausschuss)", "–") and data["06534000"][7] == "ja"
    # no date received recorded: the day of the event (09:30 UTC is 11:30 in Marburg, the same day)
    assert data["06534004"][4:7] == ("ja", dt.datetime(2022, 4, 6), "QR-Code")
    assert sheet.cell(2, 6).number_format == "DD.MM.YYYY"
    assert {ags for ags, r in data.items() if r[9] == "ja"} == OVERDUE_AGS
    summary = dict(wb["Übersicht"].iter_rows(values_only=True))
    assert summary["Kommunen"] == 22 and summary["überfällig"] == 16 and summary["Antwort ja"] == 3
    assert summary["Unterschriftenseiten Vereinbarung eingegangen"] == 2
    assert summary["Unterschriftenseiten Vereinbarung erwartet"] == 4
    assert summary["Stichtag"] == dt.datetime(2022, 4, 11)
    assert not list(target.parent.glob(".*"))  # written by rename, no temporary file left


# -- the HTML page -------------------------------------------------------------------------


def test_html_is_self_contained(campaign):
    page = render_html(load_status(campaign, TODAY))
    assert "<style>" in page and '<svg id="fortschritt"' in page
    # Nothing to fetch: no src/href attributes, no CSS url(), no @import; only the SVG namespace names a URL.
    assert not re.search(r"\b(src|href)\s*=|url\(|@import", page)
    assert re.findall(r"https?://[^\s\"']+", page) == ["http://www.w3.org/2000/svg"]
    assert page.count("<tr data-ags=") == 23  # the municipalities and the district
    assert '<tr data-ags="06534000" class="district">' in page


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("KDIGITAL_REQUIRE_CHROMIUM") == "1":
            pytest.fail("Chromium fehlt, KDIGITAL_REQUIRE_CHROMIUM=1 verlangt es (apt-get install chromium)")
        pytest.skip("Chromium nicht installiert (apt-get install chromium)")
    return path


def _run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
               f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=90)


def test_html_in_a_real_browser(campaign, tmp_path):
    binary = _chromium()
    page = tmp_path / "stand.html"
    result = invoke("-w", campaign.root, "status", "--stichtag", "11.04.2022", "--html", page)
    assert result.exit_code == 0, result.output

    dom = _run_chromium(binary, tmp_path / "profile-dom", "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert len(re.findall(r'<tr data-ags="\d{8}"', html)) == 23
    assert len(re.findall(r'<tr data-ags="\d{8}" class="overdue"', html)) == 16
    assert "Stadt Biedenkopf" in html and "Universitätsstadt Marburg" in html
    assert '<svg id="fortschritt"' in html
    segments = dict(re.findall(r'data-key="([^"]+)" data-count="(\d+)"', html))
    assert segments["ja"] == "3" and segments["nein"] == "1" and segments["überfällig"] == "16"
    # the agreement bar counts as the tables: 2 of the 4 expected (3 that said ja and the district)
    assert segments["Seite eingegangen"] == "2"
    assert "Vereinbarung (4 erwartet)" in html
    assert "2 von 4 erwartet (3 Kommunen mit „ja“ und der Landkreis)" in html

    shot = tmp_path / "stand.png"
    run = _run_chromium(binary, tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1200,900",
                        "--hide-scrollbars", page.as_uri())
    assert run.returncode == 0 and shot.is_file(), run.stderr[-2000:]
    from PIL import Image

    with Image.open(shot) as image:
        rgb = image.convert("RGB")
        assert rgb.size == (1200, 900)
        colours = rgb.getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 20, "the screenshot is blank"
    counts = {colour: n for n, colour in colours}
    # The chart is drawn: solid areas in the colours of "ja", "überfällig" and "eingegangen".
    for hex_colour in ("#2e7d32", "#ef6c00", "#1565c0"):
        rgb_colour = tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
        assert counts.get(rgb_colour, 0) > 200, f"no {hex_colour} area in the screenshot"


# -- dates received, Stichtag, older agreement versions ---------------------------------------


ARCHIVE_RUN = dt.datetime(2022, 4, 20, 7, 0, tzinfo=dt.timezone.utc)  # when `kdigital archive` ran


def returned(ledger, ags, kind, received, **detail):
    return ledger.record(RETURNED, ags=ags, kind=kind, campaign="KD-2022", file=f"inputs/returns/{ags}{kind}.pdf",
                         detail={"matched_by": "QR", "pages": [1, 1], "received": received, **detail},
                         time=ARCHIVE_RUN)


def status_cells(root, day: str, tmp_path) -> tuple[dict, dict, str]:
    """(text table rows by AGS, workbook rows by AGS, HTML page) of `status --stichtag day`."""
    result = invoke("-w", root, "status", "--stichtag", day, "--xlsx", tmp_path / "s.xlsx", "--html",
                    tmp_path / "s.html")
    assert result.exit_code == 0, result.output
    table = {line.split()[0]: re.split(r"\s{2,}", line) for line in result.stdout.splitlines()[1:24]}
    sheet = openpyxl.load_workbook(tmp_path / "s.xlsx")["Status"]
    workbook = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    return table, workbook, (tmp_path / "s.html").read_text(encoding="utf-8")


def html_row(page: str, ags: str) -> str:
    return re.search(rf'<tr data-ags="{ags}".*?</tr>', page).group(0)


def test_returns_show_their_date_received_and_count_from_it(campaign, tmp_path):
    with Ledger.open(campaign.root) as ledger:
        returned(ledger, YES_AGS[1], "IB", "2022-04-05")
        returned(ledger, YES_AGS[1], "VB", "2022-04-12")
    table, workbook, page = status_cells(campaign.root, "11.04.2022", tmp_path)
    # the date received, not the day the archive ran (20.04.2022)
    assert workbook[YES_AGS[1]][4:7] == ("ja", dt.datetime(2022, 4, 5), "QR-Code")
    assert "<td>05.04.2022</td>" in html_row(page, YES_AGS[1])
    # received after the Stichtag: not yet there
    assert table[YES_AGS[1]][3:5] == ["ja", "nein"] and workbook[YES_AGS[1]][7:9] == ("nein", None)

    table, workbook, page = status_cells(campaign.root, "12.04.2022", tmp_path)
    assert table[YES_AGS[1]][3:5] == ["ja", "ja"] and workbook[YES_AGS[1]][7:9] == ("ja", dt.datetime(2022, 4, 12))
    assert "<td>12.04.2022</td>" in html_row(page, YES_AGS[1])


def test_a_signature_page_of_an_older_version_is_shown_as_such(campaign, tmp_path):
    flag = "ältere Fassung unterschrieben (Fingerprint 6ce65b7659a7, aktuell eeba7a33f373 laut …)"
    with Ledger.open(campaign.root) as ledger:
        returned(ledger, YES_AGS[1], "VB", "2022-04-04", flags=[flag])
        returned(ledger, PHONE_AGS, "VB", "2022-04-04", flags=[flag])
        returned(ledger, PHONE_AGS, "VB", "2022-04-07")  # the current version came after it
    table, workbook, page = status_cells(campaign.root, "11.04.2022", tmp_path)
    assert table[YES_AGS[1]][4] == "ja (ältere Fassung)" and table[PHONE_AGS][4] == "ja"
    assert workbook[YES_AGS[1]][7:9] == ("ja (ältere Fassung)", dt.datetime(2022, 4, 4))
    assert workbook[PHONE_AGS][7:9] == ("ja", dt.datetime(2022, 4, 7))
    assert "<td>04.04.2022 (ältere Fassung)</td>" in html_row(page, YES_AGS[1])
    assert "<td>07.04.2022</td>" in html_row(page, PHONE_AGS)


def test_returns_archived_before_the_ledger_held_the_date_take_it_from_the_manifest(campaign, tmp_path):
    import json

    with Ledger.open(campaign.root) as ledger:
        ledger.record(RETURNED, ags=YES_AGS[1], kind="IB", campaign="KD-2022", file="inputs/returns/scan.pdf",
                      detail={"matched_by": "QR", "pages": [2, 2]}, time=ARCHIVE_RUN)
        ledger.record("archived", ags=YES_AGS[1], kind="IB", campaign="KD-2022", file="KD-2022_2022-04-20_1.pdf",
                      detail={"volume": "KD-2022_2022-04-20_1.pdf", "pages": [3, 3]}, time=ARCHIVE_RUN)
    folder = campaign.outputs / "archive"
    folder.mkdir(parents=True)
    sources = [{"path": "inputs/returns/scan.pdf", "part": None, "ags": other, "kind": "IB", "source_range": pages,
                "received": received} for other, pages, received in (
                   (YES_AGS[0], [1, 1], "2022-03-28"), (YES_AGS[1], [2, 2], "2022-03-30"))]
    (folder / "KD-2022_2022-04-20_1.manifest.json").write_text(json.dumps({"sources": sources}), encoding="utf-8")
    _, workbook, _ = status_cells(campaign.root, "11.04.2022", tmp_path)
    assert workbook[YES_AGS[1]][4:6] == ("ja", dt.datetime(2022, 3, 30))


def test_archive_then_status_count_from_the_date_received(workspace, tmp_path):
    import os

    from kdigital.archive import make_archive
    from test_archive import FIXED_TIME, MTIME, text_pdf

    returns = workspace.inputs / "returns"
    path = text_pdf(returns / "KD-2022-VB-06534014.pdf", "Unterschriftsseite KD-2022-VB-06534014")
    os.utime(path, (MTIME, MTIME))  # received 09.04.2022
    make_archive(workspace, now=FIXED_TIME)  # archived 11.04.2022
    result = invoke("-w", workspace.root, "status", "--stichtag", "08.04.2022")
    assert re.search(r"06534014\s+Universitätsstadt Marburg\s+ja\s+nein\s+nein\n", result.stdout)
    _, workbook, page = status_cells(workspace.root, "11.04.2022", tmp_path)
    assert workbook["06534014"][7:9] == ("ja", dt.datetime(2022, 4, 9))
    assert "<td>09.04.2022</td>" in html_row(page, "06534014")


# -- a new version of the agreement -----------------------------------------------------------


VERSION_A, VERSION_B = "aaaa1111", "bbbb2222"
FINGERPRINT_A, FINGERPRINT_B = "a1" * 6, "b2" * 6


def generated(n: int, ags: str, version: str, day: int, name: str = "") -> Event:
    """A ``generated`` VB event as ``kdigital agreement`` records it: the version only in the file name."""
    file = f"outputs/agreement/{name or 'signatures/' + ags + '_kommune'}_{version}.docx"
    return Event(n, dt.datetime(2022, 4, day, 8, 0, tzinfo=dt.timezone.utc), "KD-2022", ags, "VB", GENERATED,
                 file=file, sha256="00" * 32)


def page(n: int, ags: str, day: int, **detail) -> Event:
    """A ``returned`` VB event archived on ``day`` (and received then)."""
    return Event(n, dt.datetime(2022, 4, day, 12, 0, tzinfo=dt.timezone.utc), "KD-2022", ags, "VB", RETURNED,
                 detail={"matched_by": "QR", "received": f"2022-04-{day:02d}", **detail})


def code(ags: str, version: str, fingerprint: str) -> str:
    return f"KD-2022-VB-{ags};P=1;V={version};F={fingerprint}"


def test_only_a_page_of_the_current_agreement_version_counts():
    base = example_municipality()
    roster = [replace(base, ags=f"0000000{n}", interest=True) for n in range(1, 7)]
    events = [generated(1, "00000001", VERSION_A, 1), generated(2, "00000002", VERSION_A, 1),
              # 1: signed A, archived while A was current (its code says A, no flag then)
              page(3, "00000001", 2, qr_codes=[code("00000001", VERSION_A, FINGERPRINT_A)]),
              # 2: signed A, matched by file name only, archived before B existed
              page(4, "00000002", 3, matched_by="Dateiname"),
              generated(5, "00000001", VERSION_B, 5), generated(6, "00000003", VERSION_B, 5),
              # 3: flagged by intake as older when archived after B
              page(7, "00000003", 6, flags=["ältere Fassung unterschrieben (Version aaaa1111, aktuell bbbb2222 laut "
                                            "outputs/agreement/vereinbarung_bbbb2222.docx; Vertragstext gleich)"]),
              # 4: signed B
              page(8, "00000004", 6, codes=[code("00000004", VERSION_B, FINGERPRINT_B)]),
              # 5: signed A first, then B: the B page counts
              page(9, "00000005", 2, qr_codes=[code("00000005", VERSION_A, FINGERPRINT_A)]),
              page(10, "00000005", 7, qr_codes=[code("00000005", VERSION_B, FINGERPRINT_B)]),
              # 6: matched by file name after B was generated: version unknown, counts as current
              page(11, "00000006", 7, matched_by="Dateiname")]
    rows = by_ags(build_rows(roster, events, DEADLINE, TODAY))
    older = ["00000001", "00000002", "00000003"]
    assert [a for a in sorted(rows) if rows[a].agreement_returned] == ["00000004", "00000005", "00000006"]
    assert [a for a in sorted(rows) if rows[a].agreement_older] == older
    assert {rows[a].agreement for a in older} == {"ja (ältere Fassung)"}
    assert rows["00000001"].agreement_version == VERSION_A and rows["00000003"].agreement_version == VERSION_A
    assert (rows["00000005"].agreement_received, rows["00000005"].agreement_version) == (dt.date(2022, 4, 7),
                                                                                          VERSION_B)
    assert rows["00000006"].agreement_unverified and not rows["00000004"].agreement_unverified
    # the overdue rule is about the reply form alone
    assert not any(r.overdue for r in rows.values())

    # on a date before B was generated, A is the current version and its pages count
    rows = by_ags(build_rows(roster, events, DEADLINE, dt.date(2022, 4, 4)))
    assert [a for a in sorted(rows) if rows[a].agreement_returned] == ["00000001", "00000002", "00000005"]
    assert rows["00000002"].agreement_unverified and not any(r.agreement_older for r in rows.values())


def test_without_a_generated_agreement_only_the_flag_makes_a_page_older():
    roster = [replace(example_municipality(), ags=f"0000000{n}", interest=True) for n in (1, 2)]
    events = [page(1, "00000001", 2, flags=["ältere Fassung unterschrieben (Fingerprint a1a1, aktuell b2b2 …)"]),
              page(2, "00000002", 2, qr_codes=[code("00000002", VERSION_A, FINGERPRINT_A)])]
    rows = by_ags(build_rows(roster, events, DEADLINE, TODAY))
    assert (rows["00000001"].agreement_returned, rows["00000001"].agreement_older) == (False, True)
    assert (rows["00000002"].agreement_returned, rows["00000002"].agreement_older) == (True, False)


def test_status_after_a_new_agreement_version_counts_only_its_pages(campaign, tmp_path):
    """Pages of version A archived before version B was generated: shown as older, not counted, in every view."""
    import json

    agreement = "outputs/agreement"
    parties = ("06534000", *YES_AGS, PHONE_AGS)
    a_run = dt.datetime(2022, 3, 20, 8, 0, tzinfo=dt.timezone.utc)
    b_run = dt.datetime(2022, 4, 5, 8, 0, tzinfo=dt.timezone.utc)
    archive_run = dt.datetime(2022, 4, 2, 7, 0, tzinfo=dt.timezone.utc)
    with Ledger.open(campaign.root) as ledger:
        for version, when in ((VERSION_A, a_run), (VERSION_B, b_run)):
            ledger.record(GENERATED, ags="06534000", kind="VB", campaign="KD-2022",
                          file=f"{agreement}/vereinbarung_{version}.docx", sha256="00" * 32, time=when)
            for ags in parties:
                ledger.record(GENERATED, ags=ags, kind="VB", campaign="KD-2022",
                              file=f"{agreement}/signatures/{ags}_kommune_{version}.docx", sha256="00" * 32, time=when)
        # Marburg signed A (its code, in the manifest, says so), then B; Fronhausen signed A, matched by file name.
        for ags, received in ((YES_AGS[1], "2022-03-30"), (PHONE_AGS, "2022-03-31")):
            ledger.record(RETURNED, ags=ags, kind="VB", campaign="KD-2022", file=f"inputs/returns/{ags}.pdf",
                          detail={"matched_by": "QR", "pages": [1, 1], "received": received}, time=archive_run)
            ledger.record("archived", ags=ags, kind="VB", campaign="KD-2022", file="KD-2022_2022-04-02_1.pdf",
                          detail={"volume": "KD-2022_2022-04-02_1.pdf", "pages": [1, 1]}, time=archive_run)
        returned(ledger, YES_AGS[1], "VB", "2022-04-08", qr_codes=[code(YES_AGS[1], VERSION_B, FINGERPRINT_B)])
    folder = campaign.outputs / "archive"
    folder.mkdir(parents=True)
    sources = [{"path": f"inputs/returns/{YES_AGS[1]}.pdf", "part": None, "ags": YES_AGS[1], "kind": "VB",
                "source_range": [1, 1], "received": "2022-03-30",
                "qr_codes": [code(YES_AGS[1], VERSION_A, FINGERPRINT_A)]},
               {"path": f"inputs/returns/{PHONE_AGS}.pdf", "part": None, "ags": PHONE_AGS, "kind": "VB",
                "source_range": [1, 1], "received": "2022-03-31", "qr_codes": []}]
    (folder / "KD-2022_2022-04-02_1.manifest.json").write_text(json.dumps({"sources": sources}), encoding="utf-8")

    # Before B: every page counts (Amöneburg's and the district's, matched by file name, unchecked).
    result = invoke("-w", campaign.root, "status", "--stichtag", "04.04.2022")
    assert f"Unterschriftenseiten der Vereinbarung (Fassung {VERSION_A}): 4 von 4 erwartet" in result.stdout
    rows = by_ags(load_status(campaign, dt.date(2022, 4, 4)).rows)
    assert rows[YES_AGS[1]].agreement_version == VERSION_A  # from the manifest's code

    # After B: Marburg's B page counts, Fronhausen's A page does not; Amöneburg and the district
    # (archived after B, no version on record) count as current.
    table, workbook, page_html = status_cells(campaign.root, "11.04.2022", tmp_path)
    assert table[PHONE_AGS][4] == "ja (ältere Fassung)" and table[YES_AGS[1]][4] == "ja"
    assert table[YES_AGS[0]][4] == "ja" and table["06534000"][4] == "ja"
    result = invoke("-w", campaign.root, "status", "--stichtag", "11.04.2022")
    assert (f"Unterschriftenseiten der Vereinbarung (Fassung {VERSION_B}): 3 von 4 erwartet (3 Kommunen mit „ja“ "
            "und der Landkreis), 1 davon nur in älterer Fassung (neu zu unterschreiben)") in result.stdout
    assert workbook[PHONE_AGS][7:9] == ("ja (ältere Fassung)", dt.datetime(2022, 3, 31))
    assert workbook[YES_AGS[1]][7:9] == ("ja", dt.datetime(2022, 4, 8)) and workbook[YES_AGS[1]][11] == VERSION_B
    summary = dict(openpyxl.load_workbook(tmp_path / "s.xlsx")["Übersicht"].iter_rows(values_only=True))
    assert summary["Fassung der Vereinbarung"] == VERSION_B
    assert summary["Unterschriftenseiten Vereinbarung eingegangen"] == 3
    assert summary["Unterschriftenseiten nur ältere Fassung (neu zu unterschreiben)"] == 1
    assert "<td>31.03.2022 (ältere Fassung)</td>" in html_row(page_html, PHONE_AGS)
    assert "<td>08.04.2022</td>" in html_row(page_html, YES_AGS[1])
    segments = dict(re.findall(r'data-key="([^"]+)" data-count="(\d+)"', page_html))
    assert (segments["Seite eingegangen"], segments["ältere Fassung"]) == ("3", "1")
    assert "<td>3 von 4, 1 ältere Fassung</td>" in page_html


def test_pages_signed_before_the_agreement_was_regenerated_count_no_more(workspace, tmp_path):
    """The real commands: sign A's pages, archive them, a new participant makes version B."""
    import time

    from kdigital.archive import make_archive
    from test_archive import text_pdf

    clear_answers(workspace)
    row = roster_row(workspace, YES_AGS[0])
    edit_sheet(workspace.roster, "Kommunen", {(row, "Interesse"): "ja"})
    assert invoke("-w", workspace.root, "agreement").exit_code == 0
    returns = workspace.inputs / "returns"
    for ags in ("06534000", YES_AGS[0]):
        text_pdf(returns / f"KD-2022-VB-{ags}.pdf", f"Unterschriftsseite KD-2022-VB-{ags}")
    make_archive(workspace)
    today = dt.date.today() + dt.timedelta(days=1)  # whatever the time zone, everything happened by then
    before = load_status(workspace, today)
    assert before.totals.agreements == 2 and before.totals.agreements_expected == 2

    # The ledger keeps whole seconds: B is generated in a later second than the archive ran.
    time.sleep(1.05 - time.time() % 1)
    edit_sheet(workspace.roster, "Kommunen", {(roster_row(workspace, YES_AGS[1]), "Interesse"): "ja"})
    result = invoke("-w", workspace.root, "agreement")
    assert result.exit_code == 0, result.output
    after = load_status(workspace, today)
    assert after.agreement_version != before.agreement_version
    t = after.totals
    assert (t.agreements, t.agreements_expected, t.agreements_older) == (0, 3, 2)
    assert {r.ags: r.agreement for r in after.all_rows if r.agreement_expected} == {
        YES_AGS[0]: "ja (ältere Fassung)", YES_AGS[1]: "nein", "06534000": "ja (ältere Fassung)"}


def test_a_page_of_another_version_with_the_same_text_counts():
    # a new version whose text is unchanged (say, only the layout of the template changed)
    roster = [replace(example_municipality(), ags=f"0000000{n}", interest=True) for n in (1, 2)]
    newer = replace(generated(2, "00000001", VERSION_B, 5), detail={"version": VERSION_B, "fingerprint": FINGERPRINT_A})
    events = [generated(1, "00000001", VERSION_A, 1), newer,
              page(3, "00000001", 6, codes=[code("00000001", VERSION_A, FINGERPRINT_A)]),
              page(4, "00000002", 6, codes=[code("00000002", VERSION_A, FINGERPRINT_B)])]
    rows = by_ags(build_rows(roster, events, DEADLINE, TODAY))
    assert (rows["00000001"].agreement_returned, rows["00000001"].agreement_older) == (True, False)
    assert (rows["00000002"].agreement_returned, rows["00000002"].agreement_older) == (False, True)


def test_the_agreement_records_its_version_and_fingerprint(campaign):
    from kdigital.agreement import make_agreement

    run = make_agreement(campaign)
    with Ledger.open(campaign.root) as ledger:
        details = {e.file: e.detail for e in ledger.events(GENERATED, kind="VB")}
    assert details and all(d == {"version": run.version, "fingerprint": run.fingerprint} for d in details.values())
