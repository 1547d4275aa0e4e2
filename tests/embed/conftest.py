"""Helpers for the partner-facing tests: settings overrides and signing through the API."""

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import get_settings
from app.signatures import counting
from tests import factories


@pytest.fixture
def override_settings() -> Iterator[Callable[..., None]]:
    """Set UNDERSIGNED_* settings for this test (get_settings is cached: it is reset around)."""
    saved: dict[str, str | None] = {}

    def _set(**values: Any) -> None:
        for key, value in values.items():
            name = f"UNDERSIGNED_{key.upper()}"
            saved.setdefault(name, os.environ.get(name))
            os.environ[name] = str(value)
        get_settings.cache_clear()

    yield _set
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    get_settings.cache_clear()


@pytest.fixture
def sign(client: TestClient, coordinator_headers: dict[str, str]) -> Callable[..., Any]:
    def _sign(slug: str, name: str | None = None, *, anonymous: bool = False) -> Any:
        signed = factories.sign(client, coordinator_headers, slug, name=name, anonymous=anonymous)
        # The letter's revision as every worker will see it: moved by this process's bumper a
        # moment after the commit (decision 0121), not in the middle of a test's reads.
        counting.settle_bumps()
        return signed

    return _sign


@pytest.fixture
def letter(make_letter: Callable[..., Any], coordinator_headers: dict[str, str]) -> str:
    """An open letter in English with French and Arabic translations; returns its slug."""
    make_letter(
        coordinator_headers,
        slug="partner-letter",
        title="Free the press",
        translations=[
            {"lang": "fr", "title": "Libérez la presse", "body": "Nous demandons."},
            {"lang": "ar", "title": "أطلقوا سراح الصحافة", "body": "نطالب."},
        ],
    )
    return "partner-letter"
