"""The directory's look-ups and its migration, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from store.db import make_engine, normalise_url
from store.directory import AsyncDirectory, Directory
from store.importer import import_csv
from store.migrations import migrate
from store.types import Subscriber

CSV = """contract_number,number,region,active
0664806000,0664806000,west,1
0664806000,0664806001,west,1
0664806000,0664806009,west,0
0312345678,0312345678,east,
"""


@pytest.fixture
def directory(engine: Engine, tmp_path: Path) -> Directory:
    path = tmp_path / "subs.csv"
    path.write_text(CSV)
    import_csv(engine, path)
    return Directory(engine)


def test_lookup(directory: Directory) -> None:
    assert directory.lookup("0664806001") == Subscriber("0664806001", "0664806000", "west", True)
    assert directory.lookup("0664806009") == Subscriber("0664806009", "0664806000", "west", False)
    assert directory.lookup("0312345678").is_contract  # type: ignore[union-attr]
    assert directory.lookup("0999999999") is None


def test_find_in_contract(directory: Directory) -> None:
    found = directory.find_in_contract("0664806000", "0664806001")
    assert found is not None and found.number == "0664806001"
    assert directory.find_in_contract("0664806000", "0312345678") is None  # other contract
    assert directory.find_in_contract("0664806000", "0664806009") is None  # inactive
    assert directory.find_in_contract("0664806000", "0999999999") is None


def test_numbers_of_and_all(directory: Directory) -> None:
    assert [s.number for s in directory.numbers_of("0664806000")] == [
        "0664806000",
        "0664806001",
        "0664806009",
    ]
    assert directory.numbers_of("0999999999") == []
    assert [s.number for s in directory.all()] == [
        "0312345678",
        "0664806000",
        "0664806001",
        "0664806009",
    ]


async def test_async_directory(directory: Directory) -> None:
    adir = AsyncDirectory(directory)
    assert (await adir.lookup("0664806000")).is_contract  # type: ignore[union-attr]
    assert await adir.find_in_contract("0312345678", "0312345678") is not None
    assert await adir.find_in_contract("0312345678", "0664806001") is None
    assert len(await adir.numbers_of("0664806000")) == 3


def test_migrate_is_idempotent_and_creates_schema(sql_url: str, engine: Engine) -> None:
    migrate(sql_url)
    migrate(sql_url)
    inspector = inspect(engine)
    assert {c["name"] for c in inspector.get_columns("subscribers")} == {
        "number",
        "contract_number",
        "region",
        "active",
    }
    assert "ix_subscribers_contract_number" in {
        i["name"] for i in inspector.get_indexes("subscribers")
    }
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"


def test_region_constraint(engine: Engine) -> None:
    with pytest.raises(Exception, match="(?i)check|constraint"), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO subscribers (number, contract_number, region, active) "
                "VALUES ('1', '1', 'north', true)"
            )
        )


def test_sqlite_default_url_creates_the_state_dir(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh' / 'ivr.db'}"
    migrate(url)
    assert (tmp_path / "fresh" / "ivr.db").exists()
    assert Directory.from_url(url).lookup("1") is None


def test_postgres_urls_use_psycopg3() -> None:
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"
    assert make_engine("postgresql://u@127.0.0.1/db").dialect.driver == "psycopg"
