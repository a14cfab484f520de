"""Reading a directory CSV as a stream: one row in memory at a time, errors capped.

A file of a million rows must not cost memory in proportion to it, so nothing here keeps
the rows: they are checked one by one and handed on (to the importer's staging table),
and bad lines go to an `ErrorList` that keeps the first 100 and counts the rest.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from store.models import REGIONS

REQUIRED = ("contract_number", "number")
OPTIONAL = ("region", "active")
MAX_ERRORS = 100
MAX_LINE_BYTES = 1 << 20
_DIGITS = re.compile(r"[0-9]{1,32}")


@dataclass(frozen=True)
class LineError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class ErrorList:
    """The first `cap` errors in line order, and how many there were in all."""

    cap: int = MAX_ERRORS
    errors: list[LineError] = field(default_factory=list)
    total: int = 0

    def add(self, line: int, message: str) -> None:
        self.total += 1
        self.errors.append(LineError(line, message))
        if len(self.errors) > 2 * self.cap:  # amortised: sort and trim now and then
            self._trim()

    def uncounted(self, count: int) -> None:
        """Errors found (e.g. by a capped query) but not listed: they only count."""
        self.total += count

    def _trim(self) -> None:
        self.errors.sort(key=lambda e: e.line)  # stable: a line's errors keep their order
        del self.errors[self.cap :]

    def listed(self) -> list[LineError]:
        self._trim()
        return list(self.errors)

    def __bool__(self) -> bool:
        return self.total > 0


class Unreadable(Exception):
    """The file stops being readable at a line (not UTF-8, a line too long)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def decoded_lines(data: BinaryIO) -> Iterator[str]:
    """The file's lines as text (BOM dropped); Unreadable names the first bad line."""
    number = 0
    while True:
        raw = data.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise Unreadable(number, f"line longer than {MAX_LINE_BYTES} bytes")
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Unreadable(number, "not UTF-8") from None
        yield line.removeprefix("\ufeff") if number == 1 else line


def header(cells: list[str] | None) -> tuple[list[str], list[LineError]]:
    """The column names of the first row, or why they will not do."""
    if cells is None:
        return [], [LineError(1, "empty file: expected a header")]
    names = [name.strip() for name in cells]
    errors = []
    for name in names:
        if name not in REQUIRED + OPTIONAL:
            errors.append(LineError(1, f"unknown column {name!r}"))
    for name in REQUIRED:
        if name not in names:
            errors.append(LineError(1, f"missing column {name!r}"))
    for name in sorted({n for n in names if names.count(n) > 1}):
        errors.append(LineError(1, f"column {name!r} appears twice"))
    return names, errors


def check_row(names: list[str], cells: list[str]) -> tuple[dict[str, Any] | None, list[str]]:
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


class CsvRows:
    """The good rows of a CSV as (line, row) pairs; bad lines go to `errors` on the way.

    The header is read at construction: `names` are its columns and `header_errors` what
    is wrong with it (then there are no rows). Unreadable input ends the rows and adds
    its error.
    """

    def __init__(self, lines: Iterable[str], errors: ErrorList) -> None:
        self._reader = csv.reader(lines)
        self.errors = errors
        try:
            first = next(self._reader, None)
        except csv.Error as exc:
            first = None
            errors.add(1, f"not valid CSV: {exc}")
        except Unreadable as exc:
            first = []
            errors.add(exc.line, str(exc))
        self.names, self.header_errors = header(first) if first != [] else ([], [])
        for error in self.header_errors:
            errors.add(error.line, error.message)

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        if self.errors:
            return
        reader = self._reader
        while True:
            try:
                cells = next(reader, None)
            except csv.Error as exc:
                self.errors.add(reader.line_num, f"not valid CSV: {exc}")
                return
            except Unreadable as exc:
                self.errors.add(exc.line, str(exc))
                return
            if cells is None:
                return
            if not cells or all(not c.strip() for c in cells):
                continue
            row, problems = check_row(self.names, cells)
            for problem in problems:
                self.errors.add(reader.line_num, problem)
            if row is not None:
                yield reader.line_num, row
