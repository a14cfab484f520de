"""CSV import of the subscriber directory: everything checked first, then one transaction.

Header `contract_number,number` with optional `region` (east/west, empty = none) and
`active` (1/0, empty = 1). Rows are upserted by number, so importing a file twice changes
nothing the second time; numbers absent from the file are left alone. A column absent from
the header is not touched on numbers already in the directory. Any bad line rejects the
whole file, and every bad line is reported with its line number.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite

from store.models import REGIONS, SubscriberRow

REQUIRED = ("contract_number", "number")
OPTIONAL = ("region", "active")
_DIGITS = re.compile(r"[0-9]{1,32}")
_BATCH = 1000


@dataclass(frozen=True)
class LineError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class ImportRejected(ValueError):
    """The file has bad lines; nothing of it was applied."""

    def __init__(self, errors: list[LineError]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} bad line(s); nothing imported")


@dataclass(frozen=True)
class ImportResult:
    numbers: int
    contracts: int


def _header(row: list[str]) -> tuple[list[str], list[LineError]]:
    names = [name.strip() for name in row]
    errors = []
    for name in names:
        if name not in REQUIRED + OPTIONAL:
            errors.append(LineError(1, f"unknown column {name!r}"))
    for name in REQUIRED:
        if name not in names:
            errors.append(LineError(1, f"missing column {name!r}"))
    for name in {n for n in names if names.count(n) > 1}:
        errors.append(LineError(1, f"column {name!r} appears twice"))
    return names, errors


def _row(names: list[str], cells: list[str]) -> tuple[dict[str, Any] | None, list[str]]:
    """One data row as column values, or the reasons it is bad."""
    if len(cells) != len(names):
        return None, [f"expected {len(names)} fields, found {len(cells)}"]
    values = dict(zip(names, (c.strip() for c in cells), strict=True))
    problems = []
    for name in REQUIRED:
        if not values[name]:
            problems.append(f"{name} is missing")
        elif not _DIGITS.fullmatch(values[name]):
            problems.append(f"{name} must be 1-32 digits 0-9")
    row: dict[str, Any] = {"number": values["number"], "contract_number": values["contract_number"]}
    if "region" in values:
        region = values["region"]
        if region and region not in REGIONS:
            problems.append("region must be east, west or empty")
        row["region"] = region or None
    if "active" in values:
        if values["active"] not in ("", "1", "0"):
            problems.append("active must be 1, 0 or empty")
        row["active"] = values["active"] != "0"
    return (None if problems else row), problems


def parse(text: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The header and the distinct rows of a file; ImportRejected lists every bad line."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    errors: list[LineError] = []
    try:
        first = next(reader, None)
        if first is None:
            raise ImportRejected([LineError(1, "empty file: expected a header")])
        names, errors = _header(first)
        if errors:
            raise ImportRejected(errors)
        rows: dict[str, tuple[int, dict[str, Any]]] = {}
        for cells in reader:
            line = reader.line_num
            if not cells or all(not c.strip() for c in cells):
                continue
            row, problems = _row(names, cells)
            errors.extend(LineError(line, p) for p in problems)
            if row is None:
                continue
            seen = rows.get(row["number"])
            if seen is None:
                rows[row["number"]] = (line, row)
            elif seen[1] != row:
                errors.append(
                    LineError(
                        line, f"number {row['number']} already on line {seen[0]} with other data"
                    )
                )
    except csv.Error as exc:
        errors.append(LineError(reader.line_num, f"not valid CSV: {exc}"))
    if errors:
        raise ImportRejected(errors)
    return names, [row for _, row in rows.values()]


def _upsert(engine: Engine, names: list[str]) -> Any:
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(SubscriberRow)
    updated = [n for n in ("contract_number", "region", "active") if n in names]
    return stmt.on_conflict_do_update(
        index_elements=[SubscriberRow.number],
        set_={name: stmt.excluded[name] for name in updated},
    )


def import_rows(engine: Engine, names: list[str], rows: list[dict[str, Any]]) -> ImportResult:
    """Upsert the rows in one transaction, as batched bulk statements."""
    if engine.dialect.name not in ("postgresql", "sqlite"):
        raise ValueError(f"import supports PostgreSQL and SQLite, not {engine.dialect.name}")
    stmt = _upsert(engine, names)
    with engine.begin() as conn:
        for start in range(0, len(rows), _BATCH):
            conn.execute(stmt, rows[start : start + _BATCH])
    return ImportResult(len(rows), len({row["contract_number"] for row in rows}))


def import_csv(engine: Engine, path: Path) -> ImportResult:
    """Check the whole file, then apply it all or (ImportRejected) nothing."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRejected([LineError(text_line(path, exc.start), "not UTF-8")]) from None
    names, rows = parse(text)
    return import_rows(engine, names, rows)


def text_line(path: Path, offset: int) -> int:
    """The 1-based line number of a byte offset (for a decoding error)."""
    return Path(path).read_bytes()[:offset].count(b"\n") + 1
