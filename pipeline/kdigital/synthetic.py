"""Synthetic rosters for scale tests and benchmarks, grown from a real one."""

from __future__ import annotations

from pathlib import Path

# Name forms that stress file naming: commas, parentheses, slashes, umlauts, ß.
NAME_VARIANTS = ["{n}", "{n}, Stadt", "{n} (Hessen)", "{n}/Lahn", "Groß-{n}", "{n} an der Ohm", "Über-{n}"]


def grow_roster(path: Path, size: int) -> None:
    """Rewrite the ``Kommunen`` sheet of the roster at ``path`` to hold ``size`` municipalities.

    The real rows come first and unchanged; further rows copy them round-robin with
    a unique AGS (99xxxxxx) and a varied name. The other sheets stay as they are.
    """
    import openpyxl

    wb = openpyxl.load_workbook(path)
    sheet = wb["Kommunen"]
    header = [c.value for c in sheet[1]]
    base = [list(r) for r in sheet.iter_rows(min_row=2, values_only=True)]
    name_col, ags_col = header.index("Name"), header.index("AGS")
    index = wb.sheetnames.index("Kommunen")
    del wb["Kommunen"]
    target = wb.create_sheet("Kommunen", index)
    target.append(header)
    for i in range(size):
        row = list(base[i % len(base)])
        if i >= len(base):
            row[ags_col] = f"99{i:06d}"
            row[name_col] = NAME_VARIANTS[i % len(NAME_VARIANTS)].format(n=f"{row[name_col]} {i}")
        target.append(row)
    wb.save(path)
