"""InfluxQL text: quoting identifiers and strings, ``OR`` filters, and the rows of a
``/query`` result. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any


def quote_ident(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def any_of(column: str, values: Iterable[str]) -> str:
    return "(" + " OR ".join(f"{quote_ident(column)} = {quote_str(v)}" for v in values) + ")"


def iter_rows(series_list: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for series in series_list:
        tags = series.get("tags") or {}
        columns = series["columns"]
        for values in series.get("values", []):
            row = dict(zip(columns, values, strict=True))
            for k, v in tags.items():
                row.setdefault(k, v)
                if row[k] is None:
                    row[k] = v
            yield row
