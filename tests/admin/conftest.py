"""Admin tests: the duplicate scan's per-process cache is keyed on the registry version, which
the test database wipe resets, so every test starts with an empty cache."""

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _fresh_duplicate_cache() -> Iterator[None]:
    from app.admin import duplicates

    duplicates.reset_cache()
    yield
    duplicates.reset_cache()
