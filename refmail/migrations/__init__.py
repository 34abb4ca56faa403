"""Alembic migrations for refmail's schema; run by `refmail.db.migrate`, never by hand."""
