"""The subscriber directory as SQLAlchemy 2.0 models (the schema Alembic migrates to)."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, String, true
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from store.types import Subscriber

REGIONS = ("east", "west")


class Base(DeclarativeBase):
    pass


class SubscriberRow(Base):
    """One directory number; the row whose number equals its contract number is the line."""

    __tablename__ = "subscribers"
    __table_args__ = (
        CheckConstraint("region IS NULL OR region IN ('east', 'west')", name="ck_region"),
    )

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    contract_number: Mapped[str] = mapped_column(String(32), index=True)
    region: Mapped[str | None] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())

    def to_subscriber(self) -> Subscriber:
        return Subscriber(self.number, self.contract_number, self.region, bool(self.active))
