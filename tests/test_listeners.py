"""Session listeners are installed where the application starts, not by importing a module;
writing organisations without them fails loudly instead of leaving versions unstamped."""

from collections.abc import Iterator

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession

from app import listeners
from app.db import open_session
from app.main import create_app
from app.resolution import registry
from app.resolution import service as identity


@pytest.fixture
def removed() -> Iterator[None]:
    for module in listeners._MODULES:
        for name, listener in module.LISTENERS:
            if event.contains(OrmSession, name, listener):
                event.remove(OrmSession, name, listener)
    assert not listeners.installed()
    yield
    listeners.install()


def test_the_app_factory_installs_every_listener(removed: None) -> None:
    create_app()
    assert listeners.installed()


def test_install_is_idempotent() -> None:
    listeners.install()
    listeners.install()
    assert listeners.installed()


def test_writing_organisations_without_listeners_is_refused(engine: object, removed: None) -> None:
    with open_session(write=True) as session, pytest.raises(RuntimeError, match="listeners"):
        registry.create(session, names=identity.parse_names(name="Unstamped Watch"))
