"""Alembic environment: prodml hands it an open connection (see prodml.store.database)."""

from alembic import context

from prodml.store.tables import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
