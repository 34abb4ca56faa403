"""The schema has one home (`tables`); `models` maps its ORM classes onto those tables: every
class maps the table it names, column for column, and declares each column (and relationship)
as a `Mapped[...]` annotation, so the types mypy sees are the schema's; the mapped classes keep
the keyword constructor that refuses unknown names."""

from __future__ import annotations

from typing import get_origin

import pytest
from sqlalchemy import inspect
from sqlalchemy.orm import Mapped, Mapper

from refmail import models as m
from refmail import tables


def mapped_classes() -> list[type[m.Base]]:
    mappers = [mapper for registry in m.REGISTRIES for mapper in registry.mappers]
    return sorted((mapper.class_ for mapper in mappers), key=lambda c: c.__name__)


def test_every_table_is_mapped_by_one_class_that_names_it() -> None:
    by_table = {cls.__table__.name: cls for cls in mapped_classes()}
    assert len(by_table) == len(mapped_classes())
    assert set(by_table) == set(tables.metadata.tables)
    for name, cls in by_table.items():
        mapper: Mapper[m.Base] = inspect(cls)
        assert mapper.local_table is tables.metadata.tables[name]
        assert mapper.local_table is cls.__table__


@pytest.mark.parametrize("cls", mapped_classes(), ids=lambda cls: cls.__name__)
def test_a_class_annotates_exactly_its_columns_and_relationships(cls: type[m.Base]) -> None:
    mapper: Mapper[m.Base] = inspect(cls)
    annotated = {name for name, hint in cls.__annotations__.items() if get_origin(hint) is Mapped}
    assert annotated == set(cls.__table__.columns.keys()) | set(mapper.relationships.keys())
    assert set(mapper.column_attrs.keys()) == set(cls.__table__.columns.keys())


def test_the_constructor_takes_columns_and_relationships_and_refuses_other_names() -> None:
    contact = m.Contact(email="pat@partner.example", name="Pat")
    intro = m.Introduction(shape="owner_intro", introducer=contact)
    assert (contact.email, contact.name) == ("pat@partner.example", "Pat")
    assert intro.introducer is contact
    with pytest.raises(TypeError, match="emial"):
        m.Contact(emial="pat@partner.example")
