"""Alembic environment: runs online against the engine `store.migrations` put in config."""

from __future__ import annotations

from alembic import context

from store.models import Base

config = context.config
engine = config.attributes["engine"]

# Several servers starting at once (a cluster) must not both create the schema: on
# PostgreSQL the upgrade holds a transaction-scoped advisory lock (any fixed key).
MIGRATION_LOCK = 0x1F2E3D4C

with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
