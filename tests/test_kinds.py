"""The kinds table is the one home of follow-up kinds: the schema, the config, the templates and
the channel table agree with it, and the migrations build exactly the schema models.py declares."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from refmail import config, kinds, wiring
from refmail import models as m
from refmail.db import migrate


def migrated(tmp_path: Path) -> object:
    engine = create_engine(f"sqlite:///{tmp_path / 'k.db'}")
    migrate(engine)
    return engine


def test_the_migrated_check_constraint_lists_exactly_the_kinds_in_the_table(
    tmp_path: Path,
) -> None:
    engine = migrated(tmp_path)
    with engine.connect() as connection:  # type: ignore[attr-defined]
        sql = connection.execute(
            text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'follow_up'")
        ).scalar_one()
    check = re.search(r"kind IN \(([^)]*)\)", sql)
    assert check is not None, sql
    assert tuple(re.findall(r"'(\w+)'", check.group(1))) == kinds.NAMES


def test_migrations_build_the_schema_models_declare(tmp_path: Path) -> None:
    engine = migrated(tmp_path)
    with engine.connect() as connection:  # type: ignore[attr-defined]
        diff = compare_metadata(MigrationContext.configure(connection), m.Base.metadata)
    assert diff == []


def test_config_per_kind_delivery_and_merge_follow_the_table() -> None:
    assert tuple(f for f in config.KindDelivery.__dataclass_fields__) == kinds.NAMES
    assert set(config.Caps().merge) == {k.name for k in kinds.KINDS if k.merge}


def test_every_kind_has_its_templates() -> None:
    bundled = resources.files("refmail.templates") / "email"
    for kind in kinds.KINDS:
        assert (bundled / f"{kind.name}.txt.j2").is_file(), kind.name
        if not kind.to_owner:  # what goes to a contact has an HTML part too
            assert (bundled / f"{kind.name}.html.j2").is_file(), kind.name


def test_the_channel_table_serves_every_channel_the_config_accepts() -> None:
    assert set(wiring.CHANNELS) == set(config.CHANNELS)
