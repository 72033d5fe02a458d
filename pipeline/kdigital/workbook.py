"""Reading Excel workbooks: tables with named headers and key/value sheets.

This is the file edge for workbooks: it turns cells into plain Python values
with their location, and leaves the meaning of the values to ``roster`` and
``costs``. Headers are matched by name (trimmed, case-insensitive); column order
is free and extra columns are ignored.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from openpyxl.utils import get_column_letter

from kdigital.errors import Finding, InputError


def normalize_header(value: Any) -> str:
    """Header text for matching: trimmed, inner whitespace collapsed, case-folded."""
    if value is None:
        return ""
    return re.sub(r"\s+", " ", str(value)).strip().casefold()


_SHEET_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


class _InlineText:
    """The text of an inline string cell, as openpyxl's ``Text(...).content`` gives it, quicker.

    openpyxl writes every string inline (``<is><t>…</t></is>``), and its reader builds a
    full rich-text object for each such cell: two thirds of the time of reading a
    10,751-row roster. Here: the plain text plus the text of each run, phonetic runs left
    out – exactly what ``Text.content`` returns (tested against it).
    """

    __slots__ = ("content",)

    def __init__(self, content: str):
        self.content = content

    @classmethod
    def from_tree(cls, node) -> "_InlineText":
        parts = []
        plain = node.find(f"{_SHEET_MAIN}t")
        if plain is not None:
            parts.append(plain.text or "")
        for run in node.findall(f"{_SHEET_MAIN}r"):
            text = run.find(f"{_SHEET_MAIN}t")
            if text is not None:
                parts.append(text.text or "")
        return cls("".join(parts))


def _use_quick_inline_strings() -> None:
    from openpyxl.worksheet import _reader

    if getattr(_reader, "Text", None) is not None and hasattr(_reader.Text, "from_tree"):
        _reader.Text = _InlineText  # the reader's own name only; openpyxl.cell.text.Text is untouched


def open_workbook(path: Path):
    """Open a workbook read-only; a missing or damaged file is an InputError in German."""
    from openpyxl import load_workbook

    _use_quick_inline_strings()

    if not path.exists():
        raise InputError(f"Arbeitsmappe nicht gefunden: {path}")
    if path.is_dir():
        raise InputError(f"{path} ist ein Ordner, keine Arbeitsmappe (.xlsx).")
    try:
        return load_workbook(path, read_only=True, data_only=True)
    except zipfile.BadZipFile as exc:  # its message is English and says nothing to the user
        raise InputError(
            f"Arbeitsmappe {path.name} lässt sich nicht lesen: keine gültige Excel-Datei (.xlsx), "
            f"beschädigt oder in einem anderen Format gespeichert. Bitte in Excel öffnen und als "
            f"„Excel-Arbeitsmappe (.xlsx)“ speichern: {path}"
        ) from exc
    except (KeyError, OSError, ValueError, TypeError) as exc:
        raise InputError(
            f"Arbeitsmappe {path.name} lässt sich nicht lesen (keine gültige .xlsx-Datei?): {exc}"
        ) from exc
    except Exception as exc:  # openpyxl raises assorted errors for damaged files
        raise InputError(f"Arbeitsmappe {path.name} ist beschädigt: {exc}") from exc


@dataclass
class Row:
    """One data row of a table sheet: values by canonical header, with its Excel row number."""

    number: int
    values: dict[str, Any]

    def get(self, column: str) -> Any:
        """The cell value under ``column`` (canonical name), None when absent or empty."""
        value = self.values.get(column)
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value


@dataclass
class Table:
    """A sheet read as a table: rows plus the findings about its structure."""

    source: str
    sheet: str
    columns: set[str]  # canonical names of the columns found
    rows: list[Row] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def finding(self, row: Row | None, column: str | None, message: str, value: Any = None) -> Finding:
        """Record a finding for a cell of this table and return it."""
        found = Finding(self.source, message, self.sheet, row.number if row else None, column, value)
        self.findings.append(found)
        return found


def read_table(wb, source: str, sheet: str, required: list[str], optional: list[str] = ()) -> Table:
    """Read ``sheet`` with headers in row 1 into a Table.

    A missing sheet or required column becomes a finding (not an exception), so that
    all problems of a workbook can be reported at once. Entirely empty rows are skipped.
    """
    wanted = {normalize_header(name): name for name in [*required, *optional]}
    if sheet not in wb.sheetnames:
        match = [s for s in wb.sheetnames if normalize_header(s) == normalize_header(sheet)]
        if not match:
            table = Table(source, sheet, set())
            table.findings.append(
                Finding(source, f"Blatt „{sheet}“ fehlt (vorhanden: {', '.join(wb.sheetnames)})")
            )
            return table
        sheet_name = match[0]
    else:
        sheet_name = sheet
    ws = wb[sheet_name]
    rows = ws.iter_rows(values_only=True)
    header = next(rows, None) or ()
    index: dict[str, int] = {}
    table = Table(source, sheet_name, set())
    for i, cell in enumerate(header):
        key = normalize_header(cell)
        if key in wanted:
            canonical = wanted[key]
            if canonical in table.columns:
                table.findings.append(
                    Finding(source, f"Spalte „{canonical}“ kommt doppelt vor (Spalte {get_column_letter(i + 1)})",
                            sheet_name, 1, canonical)
                )
                continue
            index[canonical] = i
            table.columns.add(canonical)
    for name in required:
        if name not in table.columns:
            table.findings.append(Finding(source, f"Pflichtspalte „{name}“ fehlt in der Kopfzeile", sheet_name, 1, name))
    items = list(index.items())
    for number, values in enumerate(rows, start=2):
        if not any(v is not None and (not isinstance(v, str) or v.strip()) for v in values):
            continue
        width = len(values)
        table.rows.append(Row(number, {name: (values[i] if i < width else None) for name, i in items}))
    return table


@dataclass(frozen=True)
class Setting:
    """One key/value row of a settings sheet such as ``Kampagne``."""

    key: str
    value: Any
    row: int


def read_settings(wb, source: str, sheet: str) -> tuple[dict[str, Setting], list[Finding]]:
    """Read a key/value sheet (key in column A, value in column B, header in row 1)."""
    findings: list[Finding] = []
    if sheet not in wb.sheetnames:
        findings.append(Finding(source, f"Blatt „{sheet}“ fehlt (vorhanden: {', '.join(wb.sheetnames)})"))
        return {}, findings
    settings: dict[str, Setting] = {}
    for number, values in enumerate(wb[sheet].iter_rows(min_row=2, max_col=2, values_only=True), start=2):
        key = values[0] if values else None
        if key is None or not str(key).strip():
            continue
        value = values[1] if len(values) > 1 else None
        if isinstance(value, str):
            value = value.strip() or None
        norm = normalize_header(key)
        if norm in settings:
            findings.append(Finding(source, f"Schlüssel „{key}“ kommt doppelt vor", sheet, number, "A", key))
            continue
        settings[norm] = Setting(str(key).strip(), value, number)
    return settings, findings


_DATE_FORMATS = ("%d.%m.%Y", "%Y-%m-%d", "%d.%m.%y")


def parse_date(value: Any) -> dt.date | None:
    """A cell value as a date, or None when it is not one (Excel dates, '08.04.2022', '2022-04-08')."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        for fmt in _DATE_FORMATS:
            try:
                return dt.datetime.strptime(text, fmt).date()
            except ValueError:
                continue
    return None



def table_workbook(title: str, columns: Sequence[tuple[str, float]], *, wrap_header: bool = False):
    """A new workbook whose sheet ``title`` has a bold header row of ``columns`` (name, width): (wb, ws)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    wb.properties.creator = "kdigital"
    ws = wb.active
    ws.title = title
    ws.append([name for name, _ in columns])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        if wrap_header:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for i, (_, width) in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    return wb, ws


def finish_table(ws, columns: int, freeze: str = "A2") -> None:
    """Freeze the header (and the columns left of ``freeze``) and put a filter on every column."""
    ws.freeze_panes = freeze
    ws.auto_filter.ref = f"A1:{get_column_letter(columns)}{max(ws.max_row, 1)}"
