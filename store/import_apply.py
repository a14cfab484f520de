"""Applying an import inside one transaction: staging table, checks in SQL, one upsert.

The rows stream into a temporary table in batches, so the process holds one batch, not
the file; the database checks for conflicting repeats, upserts, then checks the rule
that keeps the directory from naming someone else's line: every contract with an active
number has its contract line (number = contract number) in it, active. The caller rolls
the transaction back on any error, so a rejected file changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    and_,
    exists,
    func,
    not_,
    or_,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite

from store.csvrows import ErrorList
from store.models import SubscriberRow

BATCH = 2000
# A million-row upsert takes longer than the 30 s every other statement gets (store/db.py);
# an import is an operator's batch job, so its statements get minutes, not forever.
STATEMENT_TIMEOUT_MS = 15 * 60 * 1000
COLUMNS = ("number", "contract_number", "region", "active")


def _staging_table() -> Table:
    return Table(
        "ivr_import_staging",
        MetaData(),
        Column("line", Integer, primary_key=True),
        Column("number", String(32), nullable=False),
        Column("contract_number", String(32), nullable=False),
        Column("region", String(8)),
        Column("active", Boolean),
        prefixes=["TEMPORARY"],
        postgresql_on_commit="DROP",
    )


def stage(conn: Connection, rows: Iterable[tuple[int, dict[str, Any]]]) -> Table:
    """Create the staging table and stream the rows into it, BATCH at a time."""
    staging = _staging_table()
    if conn.dialect.name == "postgresql":
        # Imports run one at a time (readers are not blocked), so the checks below see
        # the directory as the upsert leaves it.
        conn.execute(text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
        conn.execute(text("LOCK TABLE subscribers IN SHARE ROW EXCLUSIVE MODE"))
    else:  # SQLite keeps a temporary table for the connection's life, whatever happened
        conn.execute(text("DROP TABLE IF EXISTS temp.ivr_import_staging"))
    staging.create(conn)
    batch: list[dict[str, Any]] = []
    for line, row in rows:
        batch.append({"line": line, "region": None, "active": None, **row})
        if len(batch) >= BATCH:
            conn.execute(staging.insert(), batch)
            batch = []
    if batch:
        conn.execute(staging.insert(), batch)
    Index("ix_ivr_import_staging_number", staging.c.number).create(conn)
    Index("ix_ivr_import_staging_contract", staging.c.contract_number).create(conn)
    conn.execute(text("ANALYZE ivr_import_staging"))  # autovacuum never sees temp tables
    return staging


def _listed(conn: Connection, query: Select[Any], errors: ErrorList) -> list[Any]:
    """The first rows of a check (by line) for the error list; the rest are counted."""
    found = conn.execute(query.order_by(query.selected_columns[0]).limit(errors.cap)).all()
    if len(found) == errors.cap:
        total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        errors.uncounted(int(total) - len(found))
    return list(found)


def check_repeats(conn: Connection, staging: Table, errors: ErrorList) -> None:
    """A number repeated with other data than its first line is an error (same is fine)."""
    repeated = (
        select(staging.c.number, func.min(staging.c.line).label("line"))
        .group_by(staging.c.number)
        .having(func.count() > 1)
        .subquery("repeated")
    )
    later, first = staging.alias("later"), staging.alias("first")
    query = (
        select(later.c.line, later.c.number, first.c.line)
        .select_from(repeated)
        .join(first, first.c.line == repeated.c.line)
        .join(later, and_(later.c.number == repeated.c.number, later.c.line > repeated.c.line))
        .where(
            or_(
                first.c.contract_number != later.c.contract_number,
                first.c.region.is_distinct_from(later.c.region),
                first.c.active.is_distinct_from(later.c.active),
            )
        )
    )
    for line, number, seen in _listed(conn, query, errors):
        errors.add(line, f"number {number} already on line {seen} with other data")


def upsert(conn: Connection, staging: Table, names: list[str]) -> None:
    """Insert or update every number from its first line; absent columns are kept."""
    columns = [name for name in COLUMNS if name in names or name in ("number", "contract_number")]
    first_lines = select(func.min(staging.c.line)).group_by(staging.c.number)
    source = select(*(staging.c[name] for name in columns)).where(staging.c.line.in_(first_lines))
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(SubscriberRow).from_select(columns, source)
    stmt = stmt.on_conflict_do_update(
        index_elements=[SubscriberRow.number],
        set_={name: stmt.excluded[name] for name in columns if name != "number"},
    )
    conn.execute(stmt)


def check_contract_lines(conn: Connection, staging: Table, errors: ErrorList) -> None:
    """After the upsert: each contract the file names keeps an active line of its own.

    Reported on the file's lines: an active number whose contract number is missing, a
    number of another contract, or inactive; and a contract line made inactive or moved
    to another contract while its contract still has active numbers.
    """
    subs = SubscriberRow.__table__
    own, line = subs.alias("own"), subs.alias("line_row")
    member = subs.alias("member")
    members = staging.join(own, own.c.number == staging.c.number).outerjoin(
        line, line.c.number == staging.c.contract_number
    )
    query = (
        select(staging.c.line, staging.c.contract_number, line.c.number, line.c.contract_number)
        .select_from(members)
        .where(staging.c.number != staging.c.contract_number, own.c.active)
        .where(
            or_(
                line.c.number.is_(None),
                line.c.contract_number != staging.c.contract_number,
                not_(line.c.active),
            )
        )
    )
    for row_line, contract, found, its_contract in _listed(conn, query, errors):
        if found is None:
            why = "is not a number in the directory or this file"
        elif its_contract != contract:
            why = f"is a number of contract {its_contract}, not a line of its own"
        else:
            why = "is inactive"
        errors.add(row_line, f"contract number {contract} {why}")
    has_active = exists().where(member.c.contract_number == staging.c.number, member.c.active)
    query = (
        select(staging.c.line, staging.c.number, line.c.contract_number)
        .select_from(staging.join(line, line.c.number == staging.c.number))
        .where(has_active)
        .where(or_(line.c.contract_number != staging.c.number, not_(line.c.active)))
    )
    for row_line, number, its_contract in _listed(conn, query, errors):
        state = f"belongs to contract {its_contract}" if its_contract != number else "is inactive"
        errors.add(row_line, f"number {number} {state}, yet contract {number} has active numbers")


def counts(conn: Connection, staging: Table) -> tuple[int, int]:
    """Distinct numbers and contracts of the file."""
    query = select(
        func.count(staging.c.number.distinct()), func.count(staging.c.contract_number.distinct())
    )
    numbers, contracts = conn.execute(query).one()
    return int(numbers), int(contracts)
