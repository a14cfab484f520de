"""The subscriber directory: the few named look-ups the call flow and operators need."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine, bindparam, delete, select
from sqlalchemy.orm import sessionmaker

from store.db import make_engine
from store.migrations import migrate
from store.models import SubscriberRow
from store.types import Subscriber

__all__ = ["AsyncDirectory", "Directory", "migrate"]

_BY_NUMBER = select(
    SubscriberRow.number, SubscriberRow.contract_number, SubscriberRow.region, SubscriberRow.active
).where(SubscriberRow.number == bindparam("number"))


class Directory:
    """Synchronous look-ups, each in its own short session (no session outlives a call)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str) -> Directory:
        return cls(make_engine(url))

    def ping(self) -> bool:
        """True when the database answers (health checks)."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return True

    def close(self) -> None:
        self.engine.dispose()

    def lookup(self, number: str) -> Subscriber | None:
        """The entry of number, active or not, or None.

        A Core select on a pooled connection, not an ORM session: it runs on every call, and
        the session's identity map and unit of work cost more CPU than the query."""
        with self.engine.connect() as conn:
            row = conn.execute(_BY_NUMBER, {"number": number}).first()
        return None if row is None else Subscriber(row[0], row[1], row[2], bool(row[3]))

    def find_in_contract(self, contract_number: str, number: str) -> Subscriber | None:
        """The active entry of number when it belongs to contract_number, else None."""
        found = self.lookup(number)
        if found is None or found.contract_number != contract_number or not found.active:
            return None
        return found

    def numbers_of(self, contract_number: str) -> list[Subscriber]:
        """Every entry of the contract, active or not, in number order."""
        stmt = (
            select(SubscriberRow)
            .where(SubscriberRow.contract_number == contract_number)
            .order_by(SubscriberRow.number)
        )
        with self._sessions() as session:
            return [row.to_subscriber() for row in session.scalars(stmt)]

    def is_empty(self) -> bool:
        """True when the directory holds no number at all (`make run`'s demo loader)."""
        with self.engine.connect() as conn:
            return conn.execute(select(SubscriberRow.number).limit(1)).first() is None

    def remove(self, numbers: list[str]) -> int:
        """Delete these numbers' entries in one transaction; returns how many there were."""
        removed = 0
        with self.engine.begin() as conn:
            for i in range(0, len(numbers), 500):
                chunk = numbers[i : i + 500]
                removed += conn.execute(
                    delete(SubscriberRow).where(SubscriberRow.number.in_(chunk))
                ).rowcount
        return removed

    def all(self) -> list[Subscriber]:
        """The whole directory, by contract then number (operators' listing)."""
        stmt = select(SubscriberRow).order_by(SubscriberRow.contract_number, SubscriberRow.number)
        with self._sessions() as session:
            return [row.to_subscriber() for row in session.scalars(stmt)]


class AsyncDirectory:
    """ivr.flow.ports.Directory: the same look-ups in a worker thread, off the event loop."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    async def lookup(self, number: str) -> Subscriber | None:
        return await asyncio.to_thread(self.directory.lookup, number)

    async def find_in_contract(self, contract_number: str, number: str) -> Subscriber | None:
        return await asyncio.to_thread(self.directory.find_in_contract, contract_number, number)

    async def numbers_of(self, contract_number: str) -> list[Subscriber]:
        return await asyncio.to_thread(self.directory.numbers_of, contract_number)
