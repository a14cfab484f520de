"""CSV import of the subscriber directory: streamed, checked, applied all or nothing.

Header `contract_number,number` with optional `region` (east/west, empty = none) and
`active` (1/0, empty = 1). Rows are upserted by number, so importing a file twice changes
nothing the second time; numbers absent from the file are left alone. A column absent from
the header is not touched on numbers already in the directory. A contract's contract
number must be an active number of that same contract (its line) whenever the contract
has an active number, in the file and in the directory the file leaves behind. Any bad
line rejects the whole file; the first 100 bad lines are reported with their numbers and
the rest counted. Memory stays bounded whatever the file's size: rows stream through a
staging table (store/csvrows.py, store/import_apply.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from store import import_apply
from store.csvrows import CsvRows, ErrorList, LineError, decoded_lines

__all__ = ["ImportRejected", "ImportResult", "LineError", "import_csv", "import_rows"]


class ImportRejected(ValueError):
    """The file has bad lines (or cannot be read); nothing of it was applied.

    `errors` are the first bad lines (at most 100), `total` how many there were in all.
    """

    def __init__(
        self, errors: list[LineError], total: int | None = None, *, reason: str | None = None
    ) -> None:
        self.errors = errors
        self.total = len(errors) if total is None else total
        if reason is None:
            reason = f"{self.total} bad line(s)"
            if self.total > len(errors):
                reason += f", the first {len(errors)} listed"
        super().__init__(f"{reason}; nothing imported")

    @classmethod
    def from_list(cls, errors: ErrorList) -> ImportRejected:
        return cls(errors.listed(), errors.total)


@dataclass(frozen=True)
class ImportResult:
    numbers: int
    contracts: int


def import_rows(
    engine: Engine,
    names: list[str],
    rows: Iterable[tuple[int, dict[str, Any]]],
    errors: ErrorList | None = None,
) -> ImportResult:
    """Apply (line, row) pairs in one transaction, or raise ImportRejected and apply nothing.

    `errors` may already hold (or, while `rows` is consumed, receive) the parser's errors.
    """
    if engine.dialect.name not in ("postgresql", "sqlite"):
        raise ValueError(f"import supports PostgreSQL and SQLite, not {engine.dialect.name}")
    errors = ErrorList() if errors is None else errors
    with engine.begin() as conn:
        staging = import_apply.stage(conn, rows)
        import_apply.check_repeats(conn, staging, errors)
        if not errors:
            import_apply.upsert(conn, staging, names)
            import_apply.check_contract_lines(conn, staging, errors)
        if errors:
            raise ImportRejected.from_list(errors)  # leaving the block rolls back
        numbers, contracts = import_apply.counts(conn, staging)
    return ImportResult(numbers, contracts)


def import_csv(engine: Engine, path: Path) -> ImportResult:
    """Check the whole file while streaming it in, then apply it all or (ImportRejected) none."""
    try:
        data = Path(path).open("rb")
    except OSError as exc:
        raise ImportRejected([], reason=f"cannot read {path}: {exc.strerror}") from None
    with data:
        errors = ErrorList()
        rows = CsvRows(decoded_lines(data), errors)
        if errors:
            raise ImportRejected.from_list(errors)
        return import_rows(engine, rows.names, rows, errors)
