"""Reports as files: CSV (UTF-8 with a byte-order mark, so spreadsheet programs read the
letters right) and XLSX (one sheet per table, numbers as numbers)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import date, datetime

from openpyxl import Workbook  # type: ignore[import-untyped, unused-ignore]
from openpyxl.styles import Font  # type: ignore[import-untyped, unused-ignore]

from services.reporting.tables import Tables

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _csv_cell(value: object) -> object:
    # A cell starting with = + - @ would be read as a formula by a spreadsheet: quote it.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") and not _is_number(value):
        return "'" + value
    return "" if value is None else value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def to_csv(report: Tables, *, meta: Sequence[tuple[str, str]] = ()) -> bytes:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow([report.title])
    for key, value in meta:
        out.writerow([key, value])
    for table in report.tables:
        out.writerow([])
        out.writerow([table.title])
        out.writerow([c.label for c in table.columns])
        for row in table.rows:
            out.writerow([_csv_cell(v) for v in row])
        if table.note:
            out.writerow([table.note])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


_SHEET_UNSAFE = re.compile(r"[\[\]:*?/\\]")


def _sheet_name(title: str, taken: set[str]) -> str:
    base = _SHEET_UNSAFE.sub(" ", title).strip()[:28] or "Sheet"
    name, n = base, 2
    while name.lower() in taken:
        name = f"{base[:25]} {n}"
        n += 1
    taken.add(name.lower())
    return name


def to_xlsx(report: Tables, *, meta: Sequence[tuple[str, str]] = ()) -> bytes:
    wb = Workbook()
    info = wb.active
    info.title = _sheet_name(report.title, set())
    taken = {info.title.lower()}
    info.append([report.title])
    info["A1"].font = Font(bold=True)
    for key, value in meta:
        info.append([key, value])
    formats = {"percent": "0.0", "number": "0.0##", "int": "0"}
    for table in report.tables:
        ws = wb.create_sheet(_sheet_name(table.title, taken))
        ws.append([table.title])
        ws["A1"].font = Font(bold=True)
        ws.append([c.label for c in table.columns])
        for cell in ws[2]:
            cell.font = Font(bold=True)
        for row in table.rows:
            ws.append([_xlsx_cell(v, c.kind) for v, c in zip(row, table.columns, strict=False)])
            for cell, column in zip(ws[ws.max_row], table.columns, strict=False):
                fmt = formats.get(column.kind)
                if fmt and isinstance(cell.value, (int, float)):
                    cell.number_format = fmt
        if table.note:
            ws.append([])
            ws.append([table.note])
        for i, column in enumerate(table.columns):
            width = max([len(column.label), *(len(str(r[i])) for r in table.rows if i < len(r) and r[i] is not None)])
            ws.column_dimensions[ws.cell(row=2, column=i + 1).column_letter].width = min(60, max(8, width + 2))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _xlsx_cell(value: object, kind: str) -> object:
    if isinstance(value, str) and kind in ("date", "datetime"):
        try:
            parsed = datetime.fromisoformat(value) if kind == "datetime" else date.fromisoformat(value)
        except ValueError:
            return value
        # Excel has no time zones: write the Finnish wall-clock time.
        if isinstance(parsed, datetime) and parsed.tzinfo is not None:
            from services.reporting.metrics import ZONE

            return parsed.astimezone(ZONE).replace(tzinfo=None)
        return parsed
    if isinstance(value, str) and value[:1] in ("=",):
        return "'" + value
    return value
