"""Alembic environment: runs on the connection handed in by adapters.db.engine.migrate (online only)."""

from __future__ import annotations

from alembic import context

from autodialer.adapters.db.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through autodialer.adapters.db.engine.migrate (or `autodialer migrate`)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    compare_type=True,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
