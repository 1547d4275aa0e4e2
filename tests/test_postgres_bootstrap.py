"""`make test` needs no PostgreSQL set up by hand: it starts a throwaway one when none lets it in."""

import pytest

from tests import postgres


@pytest.fixture
def unset_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(postgres.ENV, raising=False)


def test_nothing_on_the_default_port_starts_a_throwaway_server_and_removes_it(
    unset_url: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import free_port

    monkeypatch.setattr(
        postgres, "DEFAULT_URL", f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    )
    url, server = postgres.choose()
    assert server is not None and url == server.url != postgres.DEFAULT_URL
    try:
        assert postgres.accepts(url)
    finally:
        server.stop()
    assert not postgres.accepts(url)
    assert not server.directory.exists()


def test_a_server_that_asks_for_a_password_is_not_used(
    unset_url: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    guarded = postgres.ThrowawayServer.start(password="not-known-to-the-tests")
    try:
        assert not postgres.accepts(guarded.url)
        assert postgres.accepts(
            guarded.url.replace("postgres@", "postgres:not-known-to-the-tests@")
        )
        monkeypatch.setattr(postgres, "DEFAULT_URL", guarded.url)
        url, server = postgres.choose()
        assert server is not None and url != guarded.url
        try:
            assert postgres.accepts(url)
        finally:
            server.stop()
    finally:
        guarded.stop()


def test_a_given_url_is_used_as_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(postgres.ENV, "postgresql://someone@db.invalid:5432/postgres")
    assert postgres.choose() == ("postgresql://someone@db.invalid:5432/postgres", None)
