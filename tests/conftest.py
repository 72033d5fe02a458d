"""Shared fixtures: fresh workspaces copied from the shipped inputs, and workbook builders."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from kdigital.workspace import Workspace, init_workspace, shipped_workspace

REPO = Path(__file__).resolve().parents[1]
# The original letter (../shared/seed/), copied into the repository so that a clean clone tests alone.
SEED = REPO / "tests" / "resources" / "interessensbekundung-2022.txt"


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """A new workspace with copies of the shipped inputs and templates."""
    return init_workspace(tmp_path / "ws", shipped_workspace())


def edit_sheet(path: Path, sheet: str, edits: dict[tuple[int, str], Any]) -> None:
    """Set cells of ``sheet`` in the workbook at ``path``: {(excel_row, header): value}.

    Headers are looked up in row 1; a header that is not there is added as a new column.
    """
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    headers = {str(c.value).strip(): c.column for c in ws[1] if c.value is not None}
    for (row, header), value in edits.items():
        if header not in headers:
            col = ws.max_column + 1
            ws.cell(1, col, header)
            headers[header] = col
        ws.cell(row, headers[header]).value = value  # ws.cell(r, c, None) would not clear a cell
    wb.save(path)


def answer(ws: Workspace, yes=(), no=()) -> None:
    """Answers ja for ``yes``, nein for ``no`` (AGS), none for the rest: one workbook write."""
    clear_answers(ws)
    rows = {a: roster_row(ws, a) for a in (*yes, *no)}
    edits = {(rows[a], "Interesse"): "ja" for a in yes}
    edits.update({(rows[a], "Interesse"): "nein" for a in no})
    edit_sheet(ws.roster, "Kommunen", edits)


def clear_answers(ws: Workspace) -> None:
    """Empty the Interesse and Eingang columns, as at the start of a campaign."""
    wb = openpyxl.load_workbook(ws.roster)
    sheet = wb["Kommunen"]
    headers = {c.value: c.column for c in sheet[1]}
    for row in range(2, sheet.max_row + 1):
        sheet.cell(row, headers["Interesse"]).value = None
        sheet.cell(row, headers["Eingang"]).value = None
    wb.save(ws.roster)


def roster_row(ws: Workspace, ags: str) -> int:
    """The Excel row of ``ags`` in the shipped roster of ``ws``."""
    wb = openpyxl.load_workbook(ws.roster, read_only=True)
    for number, values in enumerate(wb["Kommunen"].iter_rows(min_row=2, max_col=1, values_only=True), start=2):
        if str(values[0]) == ags:
            return number
    raise KeyError(ags)


def set_setting(path: Path, sheet: str, key: str, value: Any) -> None:
    """Set the value of ``key`` in a key/value sheet (Kampagne, Parameter)."""
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    for row in ws.iter_rows(min_row=2):
        if row[0].value == key:
            row[1].value = value
            break
    else:
        ws.append([key, value])
    wb.save(path)


def files_under(folder: Path) -> dict[str, bytes]:
    """All files below ``folder`` (relative path -> bytes); empty when it does not exist."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def soffice_available() -> bool:
    return shutil.which(os.environ.get("KDIGITAL_SOFFICE", "soffice")) is not None


@pytest.fixture
def require_soffice() -> None:
    """Skip without LibreOffice – but fail in CI, where KDIGITAL_REQUIRE_SOFFICE=1."""
    if not soffice_available():
        if os.environ.get("KDIGITAL_REQUIRE_SOFFICE") == "1":
            pytest.fail("LibreOffice (soffice) fehlt, KDIGITAL_REQUIRE_SOFFICE=1 verlangt es")
        pytest.skip("LibreOffice (soffice) nicht installiert")
