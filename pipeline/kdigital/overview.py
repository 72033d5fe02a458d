"""The cost overview workbook: one row per municipality and scenario, values as numbers."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Sequence

from kdigital import zipwriter
from kdigital.allocation import Scenario, savings
from kdigital.costs import IKZ, CostModel
from kdigital.roster import Municipality

MONEY = '#,##0.00\\ "€"'
RATE = '#,##0.0000\\ "€"'
COUNT = "#,##0"
HEADERS = [
    ("AGS", None, 11), ("Kommune", None, 30), ("Szenario", None, 34), ("Beteiligt", None, 10),
    ("Einwohner", COUNT, 12), ("Satz je Einwohner/in (EUR)", RATE, 14), ("Jahresbeitrag (EUR)", MONEY, 16),
    *[(f"Wegfall {label} (EUR)", MONEY, 16) for label, _ in IKZ.values()],
    ("Wegfall gesamt (EUR)", MONEY, 16), ("Saldo (EUR)", MONEY, 16),
]


def write_overview(path: Path, roster: Sequence[Municipality], model: CostModel, scenarios: list[Scenario],
                   stamp: dt.date) -> None:
    """Write the overview to ``path``; same inputs, same bytes (fixed dates and ZIP timestamps)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Kosten je Kommune")
    ws.freeze_panes = "A2"
    for i, (_, _, width) in enumerate(HEADERS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    bold = Font(bold=True)

    def cells(values, fmt_bold=False):
        row = []
        for (_, fmt, _), value in zip(HEADERS, values):
            cell = WriteOnlyCell(ws, value=value)
            if fmt and isinstance(value, (int, Decimal)):
                cell.number_format = fmt
            if fmt_bold:
                cell.font = bold
            row.append(cell)
        return row

    ws.append(cells([h for h, _, _ in HEADERS], fmt_bold=True))
    keys = list(IKZ)
    saved = {m.ags: savings(model, m) for m in roster}
    for s in scenarios:
        for m in roster:
            amount = s.amount(m.ags)
            own = saved[m.ags]
            by_ikz = {label: value for label, _, _, value in own.items}
            member = amount is not None
            ws.append(cells([
                m.ags, f"{m.kind} {m.name}", s.label, "ja" if member else "nein", m.population,
                s.rate.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP) if s.rate is not None else None,
                amount,
                *[(by_ikz.get(IKZ[k][0]) if member else None) for k in keys],
                own.total if member else None,
                (amount - own.total) if member else None,
            ]))
    for s in scenarios:
        total = sum(s.amounts.values(), Decimal("0.00"))
        ws.append(cells(["", f"Summe {s.label}", s.label, f"{len(s.members)} Kommunen", s.population,
                         None, total], fmt_bold=True))
    buffer = io.BytesIO()
    wb.properties.creator = "kdigital"
    wb.properties.created = dt.datetime.combine(stamp, dt.time())
    wb.save(buffer)
    path.write_bytes(_deterministic(buffer.getvalue(), stamp))


def _deterministic(data: bytes, stamp: dt.date) -> bytes:
    """Repack an .xlsx with fixed ZIP timestamps and fixed document dates."""
    fixed = f"{stamp.isoformat()}T00:00:00Z"
    members = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            content = archive.read(name)
            if name == "docProps/core.xml":
                text = content.decode("utf-8")
                text = re.sub(r"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)", rf"\g<1>{fixed}\g<2>", text)
                content = text.encode("utf-8")
            members.append(zipwriter.Member.prepare(name, content))
    return zipwriter.build(members)
