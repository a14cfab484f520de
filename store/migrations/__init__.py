"""Alembic, configured from Python (no alembic.ini): `migrate(url)` upgrades to head."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from store.db import make_engine

HERE = Path(__file__).resolve().parent


def alembic_config(engine: Engine) -> Config:
    """A Config that hands env.py an engine, so URLs never go through configparser."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["engine"] = engine
    return config


def migrate(url: str | Engine) -> None:
    """Bring the directory's schema to the newest revision (idempotent, cheap at head)."""
    engine = make_engine(url) if isinstance(url, str) else url
    try:
        command.upgrade(alembic_config(engine), "head")
    finally:
        if isinstance(url, str):
            engine.dispose()
