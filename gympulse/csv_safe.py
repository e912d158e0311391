"""CSV cells that a spreadsheet never runs as a formula (OWASP "CSV Injection").

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
read by Excel, LibreOffice and Google Sheets as a formula (``=HYPERLINK(...)``,
``=cmd|' /C calc'!A0``, ``@SUM(...)``). Such a cell gets a leading single quote, which the
spreadsheet shows as text; the csv module quotes fields and doubles embedded quotes. Only
text is touched: numbers (a negative float is a number, not a formula) stay numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value``, with a leading ``'`` if it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in row]
