"""The partner count JSON: fields, localisation, ETag/304, caching headers, CORS, bad input."""

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

URL = "/api/v1/letters/{}/count"


def test_count_fields_and_sentence(
    client: TestClient, letter: str, sign: Callable[..., Any]
) -> None:
    sign(letter, "Access Now")
    sign(letter, "Front Line Defenders")
    sign(letter, "Secret Org", anonymous=True)
    response = client.get(URL.format(letter), params={"locale": "fr"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "letter",
        "total",
        "named",
        "anonymous",
        "awaiting_verification",  # selfsign: self-signatures waiting for a coordinator
        "updated_at",
        "locale",
        "text",
    }
    assert (body["letter"], body["total"], body["named"], body["anonymous"]) == (letter, 3, 2, 1)
    assert body["locale"] == "fr"
    assert body["text"] == "3 organisations ont signé, dont une anonymement"
    assert "Secret Org" not in response.text
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", body["updated_at"])


def test_caching_headers_cors_and_no_cookies(
    client: TestClient, letter: str, override_settings: Callable[..., None]
) -> None:
    override_settings(count_max_age=7, count_stale_if_error=600)
    response = client.get(URL.format(letter), params={"locale": "en"})
    assert response.headers["cache-control"] == (
        "public, max-age=7, stale-while-revalidate=14, stale-if-error=600"
    )
    assert response.headers["access-control-allow-origin"] == "*"
    assert "set-cookie" not in response.headers
    assert re.fullmatch(r'"[0-9a-f]{32}"', response.headers["etag"])
    assert int(response.headers["age"]) <= 1
    assert "vary" not in response.headers  # the URL names the locale
    negotiated = client.get(URL.format(letter), headers={"Accept-Language": "ru"})
    assert negotiated.json()["locale"] == "ru"
    assert negotiated.headers["vary"] == "Accept-Language"


def test_preflight_allows_if_none_match(client: TestClient, letter: str) -> None:
    response = client.options(
        URL.format(letter),
        headers={
            "Origin": "https://partner.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "if-none-match",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "If-None-Match" in response.headers["access-control-allow-headers"]


def test_etag_304_and_changes_exactly_with_the_counts(
    client: TestClient, letter: str, sign: Callable[..., Any]
) -> None:
    first_sig = sign(letter, "Access Now")
    first = client.get(URL.format(letter), params={"locale": "en"})
    etag = first.headers["etag"]
    again = client.get(URL.format(letter), params={"locale": "en"}, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"].startswith("public, max-age=")
    weak = client.get(
        URL.format(letter), params={"locale": "en"}, headers={"If-None-Match": f'"x", W/{etag}'}
    )
    assert weak.status_code == 304
    # Signing again for the same organisation changes no count: same representation, same ETag.
    assert sign(letter, "ACCESS now")["id"] == first_sig["id"]
    assert client.get(URL.format(letter), params={"locale": "en"}).headers["etag"] == etag
    # Another locale is another representation.
    assert client.get(URL.format(letter), params={"locale": "de"}).headers["etag"] != etag
    # A new signature changes the count and the ETag at once (eviction on commit).
    sign(letter, "Front Line Defenders")
    changed = client.get(
        URL.format(letter), params={"locale": "en"}, headers={"If-None-Match": etag}
    )
    assert changed.status_code == 200
    assert changed.json()["total"] == 2
    assert changed.headers["etag"] != etag


def test_withdrawal_is_visible_at_once(
    client: TestClient, letter: str, sign: Callable[..., Any], coordinator_headers: dict[str, str]
) -> None:
    signature = sign(letter, "Access Now")
    assert client.get(URL.format(letter)).json()["total"] == 1
    deleted = client.delete(
        f"/api/v1/letters/{letter}/signatures/{signature['id']}", headers=coordinator_headers
    )
    assert deleted.status_code in (200, 204), deleted.text
    assert client.get(URL.format(letter)).json()["total"] == 0


def withdraw_behind_this_process(engine: Engine, *, letter: str, announce: bool) -> None:
    """Withdraw the first signature as another worker would, without this process's session
    (so no eviction hook runs here); `announce`: move the letter's revision too."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE signature SET withdrawn_at = CURRENT_TIMESTAMP WHERE id = "
                "(SELECT MIN(id) FROM signature)"
            )
        )
        if announce:
            conn.execute(
                text("UPDATE letter SET revision = revision + 1 WHERE slug = :slug"),
                {"slug": letter},
            )


def test_write_by_another_process_is_seen_within_the_cache_ttl(
    client: TestClient,
    engine: Engine,
    letter: str,
    sign: Callable[..., Any],
    override_settings: Callable[..., None],
) -> None:
    """Another worker's write does not reach this process's eviction hook: the revision check does."""
    override_settings(count_cache_ttl=0.3)
    sign(letter, "Access Now")
    sign(letter, "Front Line Defenders")
    assert client.get(URL.format(letter)).json()["total"] == 2
    # What another worker's withdrawal commits, written without this process's ORM session.
    withdraw_behind_this_process(engine, letter=letter, announce=True)
    stale = client.get(URL.format(letter))
    assert stale.json()["total"] == 2  # served from memory, within the TTL…
    time.sleep(0.35)
    # After the TTL the next request starts the re-check (it may still get the old entry, with
    # its true Age, while the read runs); within two TTLs the new count is served.
    deadline = time.monotonic() + 0.6
    while (fresh := client.get(URL.format(letter))).json()["total"] != 1:
        assert time.monotonic() < deadline, "another process's write was not picked up"
        time.sleep(0.02)
    # Age counts (rounded up) from that re-check, so a client's max-age ends by max-age after it.
    assert fresh.headers["age"] in ("0", "1")


def test_a_write_no_revision_announced_is_counted_by_the_fold(
    client: TestClient,
    engine: Engine,
    letter: str,
    sign: Callable[..., Any],
    override_settings: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker killed between a signature's COMMIT and the revision it moves just after
    (decision 0109): other workers' caches recount within RECOUNT_AFTER all the same."""
    from app.embed import cache

    override_settings(count_cache_ttl=0.1)
    sign(letter, "Access Now")
    sign(letter, "Front Line Defenders")
    assert client.get(URL.format(letter)).json()["total"] == 2
    # Withdrawn by "another process" that died before moving the revision.
    withdraw_behind_this_process(engine, letter=letter, announce=False)
    time.sleep(0.15)
    for _ in range(3):
        client.get(URL.format(letter))  # the revision did not move: still 2
    assert client.get(URL.format(letter)).json()["total"] == 2
    monkeypatch.setattr(cache, "RECOUNT_AFTER", 0.2)
    deadline = time.monotonic() + 2
    while client.get(URL.format(letter)).json()["total"] != 1:
        assert time.monotonic() < deadline, "the fold never recounted"
        time.sleep(0.05)


def test_draft_and_unknown_letters_are_404_json(
    client: TestClient, make_letter: Callable[..., Any], coordinator_headers: dict[str, str]
) -> None:
    make_letter(coordinator_headers, slug="secret-draft", status="draft")
    for slug in ("secret-draft", "no-such-letter"):
        response = client.get(URL.format(slug), headers=coordinator_headers)
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
        assert response.json()["field"] == "slug"
        assert response.headers["access-control-allow-origin"] == "*"


def test_opening_a_draft_makes_it_public(
    client: TestClient, make_letter: Callable[..., Any], coordinator_headers: dict[str, str]
) -> None:
    make_letter(coordinator_headers, slug="soon-open", status="draft")
    assert client.get(URL.format("soon-open")).status_code == 404
    opened = client.patch(
        "/api/v1/letters/soon-open", json={"status": "open"}, headers=coordinator_headers
    )
    assert opened.status_code == 200
    assert client.get(URL.format("soon-open")).status_code == 200


def test_hostile_input_is_400_and_never_echoed(client: TestClient, letter: str) -> None:
    hostile = '<script>alert("x")</script>'
    for params in ({"locale": hostile}, {"lang": hostile}, {"locale": "zz"}):
        response = client.get(URL.format(letter), params=params)
        assert response.status_code == 400
        body = response.json()
        assert body["error"] == "invalid_locale"
        assert body["field"] == next(iter(params))
        assert "<script>" not in response.text
    for slug in ("<svg onload=x>", "A" * 100, "ab", "UPPER-case"):
        response = client.get(URL.format(slug))
        assert response.status_code == 400
        assert response.json()["field"] == "slug"
        assert "<svg" not in response.text


def test_every_locale_for_the_seed_letter(client: TestClient, seeded: str) -> None:
    expected = {
        "en": "320 organisations have signed, 39 of them anonymously",
        "ru": "Письмо подписали 320 организаций, из них 39 — анонимно",
        "ar": "وقّعت 320 منظمة، منها 39 منظمة دون الكشف عن هويتها",
        "zh-Hant": "已有320個組織連署，其中39個為匿名連署",
        "ja": "320団体が署名しました（うち39団体は匿名）",
    }
    for locale, sentence in expected.items():
        body = client.get(URL.format(seeded), params={"locale": locale}).json()
        assert (body["total"], body["named"], body["anonymous"]) == (320, 281, 39)
        assert (body["locale"], body["text"]) == (locale, sentence)


def test_openapi_documents_the_negotiation_parameters(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/api/v1/letters/{slug}/count"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"slug", "locale", "lang", "Accept-Language", "If-None-Match"} <= names
    assert "/embed/{slug}" in spec["paths"] and "/letters/{slug}" in spec["paths"]


def test_concurrent_misses_share_one_database_read(
    engine: Engine, letter: str, monkeypatch: Any
) -> None:
    """Single flight: many requests arriving when the entry expired cause one revision check."""
    import asyncio

    import httpx

    from app.embed.cache import count_cache
    from app.main import app

    calls = []
    refresh = count_cache.refresh

    def slow_refresh(slug: str) -> Any:
        calls.append(slug)
        time.sleep(0.05)
        return refresh(slug)

    monkeypatch.setattr(count_cache, "refresh", slow_refresh)

    async def burst() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            responses = await asyncio.gather(
                *(http.get(URL.format(letter), params={"locale": "en"}) for _ in range(20))
            )
        return [r.status_code for r in responses]

    assert asyncio.run(burst()) == [200] * 20
    assert calls == [letter]
