"""Reading workbooks: the quick inline-string path gives what openpyxl's own reader gives."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import openpyxl
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont

from kdigital.workbook import open_workbook


def _values_with_openpyxls_own_text(path: Path) -> list[tuple]:
    from openpyxl.cell.text import Text
    from openpyxl.worksheet import _reader

    quick, _reader.Text = _reader.Text, Text
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            return list(wb.active.iter_rows(values_only=True))
        finally:
            wb.close()
    finally:
        _reader.Text = quick


def test_inline_strings_read_quickly_equal_openpyxls_reading(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["AGS", "Name", "Einwohner"])
    ws.append(["06534014", "  Marburg (Lahn) ", 73544])
    ws.append(["06534009", CellRichText("Fron", TextBlock(InlineFont(b=True), "hausen"), " a. d. Lahn"), 4108])
    ws.append(["", "Straße & „Zeichen“ <x>", 1.5])
    path = tmp_path / "roster.xlsx"
    wb.save(path)
    # a phonetic run (Japanese furigana) and a run without text, which Text.content leaves out
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    sheet = members["xl/worksheets/sheet1.xml"].decode()
    assert "<is><t>Stra&#223;e" in sheet
    sheet = sheet.replace("<is><t>Stra&#223;e",
                          "<is><r><rPr><b/></rPr></r><rPh sb=\"0\" eb=\"1\"><t>ふり</t></rPh><t>Stra&#223;e")
    members["xl/worksheets/sheet1.xml"] = sheet.encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    path.write_bytes(buffer.getvalue())

    expected = _values_with_openpyxls_own_text(path)
    quick = open_workbook(path)
    try:
        values = list(quick.active.iter_rows(values_only=True))
    finally:
        quick.close()
    assert values == expected
    assert values[2][1] == "Fronhausen a. d. Lahn" and values[1][1] == "  Marburg (Lahn) "
    assert values[3][1] == "Straße & „Zeichen“ <x>"
