"""The public-id key: the migration stores it, and the suite's wipe between tests empties
that table; a fixed key keeps ids stable and spares a signing transaction from creating it."""

from collections.abc import Iterator

import pytest

from app.opendata import publicid


@pytest.fixture(autouse=True)
def _public_id_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(publicid, "_key", b"opendata-tests-key-0123456789abc")
    yield
