"""Alembic environment: runs on the connection refmail hands it (see refmail.db.migrate)."""

from alembic import context

from refmail.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic -x url=...` from a shell, for developers
    from sqlalchemy import create_engine

    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///refmail.db")
    connection = create_engine(url).connect()

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
