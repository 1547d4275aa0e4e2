"""Migrations are reversible: upgrade head → downgrade base → upgrade head, on both databases."""

from alembic import command
from sqlalchemy import inspect

from app.db import make_engine, metadata
from tests.conftest import alembic_config


def test_upgrade_downgrade_upgrade(database_url: str, _engine) -> None:
    config = alembic_config(database_url)
    _engine.dispose()
    command.downgrade(config, "base")
    engine = make_engine(database_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    command.upgrade(config, "head")
    engine = make_engine(database_url)
    try:
        assert {t.name for t in metadata.sorted_tables} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
