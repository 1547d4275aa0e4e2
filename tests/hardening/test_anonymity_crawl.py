"""Anonymity crawl: every route, as the public and as another letter's coordinator.

A letter gets anonymous signers whose names, other names, display names and websites carry a
marker string. A real server (uvicorn, child process, debug logging) then answers every GET route
of `/openapi.json` and of the app's route table (so pages left out of the schema are crawled
too), with path parameters filled from the real data (letter slugs, every organisation id
including the anonymous signers', every signature id) and plausible query values, plus every
write route with bodies a hostile coordinator would send, plus error cases. The marker must
appear in no response (body or header) and no line of the server's log; no route may 5xx.

New routes are covered without touching this file: the crawl reads the schema and the routes.
Re-run with your own marker: `UNDERSIGNED_CRAWL_MARKER='Your Marker' pytest tests/hardening`.
"""

import contextlib
import html
import itertools
import json
import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from anyascii import anyascii

from app.resolution.normalise import normalise
from tests.conftest import ADMIN_TOKEN

MARKER = os.environ.get("UNDERSIGNED_CRAWL_MARKER") or f"Qxmark{secrets.token_hex(3)}"
HOST_LABEL = re.sub(r"[^a-z0-9]", "", anyascii(MARKER).lower()) or "qxmarker"
HIDDEN: dict[str, Any] = {
    "name": f"{MARKER} Alpha Watch",
    "other_names": [f"{MARKER} Beta", f"{MARKER}-Gamma ({HOST_LABEL.upper()})"],
    "website": f"https://{HOST_LABEL}-watch.example.org",
    "country": "TW",
    "lang": "en",
}
NEEDLES = sorted({MARKER.casefold(), HOST_LABEL, normalise(MARKER)} - {""}, key=len, reverse=True)
API = "/api/v1"
HOSTILE_STRINGS = ["'; DROP TABLE signature; --", "<script>alert(1)</script>", "..%2F..%2Fetc"]
MISSING_ID = 999_999


def leaks(text: str) -> list[str]:
    """Which marker forms occur in a text, also after URL, HTML or JSON unescaping."""
    forms = [text, unquote(text), html.unescape(text)]
    with contextlib.suppress(ValueError):
        forms.append(json.dumps(json.loads(text), ensure_ascii=False))
    folded = [f.casefold() for f in forms]
    return [n for n in NEEDLES if any(n in f for f in folded)]


@dataclass
class World:
    """What the fixture letter left in the database, for filling path parameters."""

    slugs: list[str]
    organisation_ids: list[int]
    signature_ids: list[int]
    hidden_organisation_ids: list[int]
    hidden_signature_ids: list[int]
    tokens: dict[str, str]
    shared_organisation_id: int
    problems: list[str] = field(default_factory=list)
    requests: int = 0


def _ok(response: httpx.Response, *expected: int) -> dict[str, Any]:
    assert response.status_code in expected, (response.request.url, response.text)
    return dict(response.json())


def build_world(base: str, make_token: Callable[..., str]) -> World:
    """The fixture letters, created through the real server so that its log sees it all."""
    owner = {"Authorization": f"Bearer {make_token('coordinator')}"}
    other = {"Authorization": f"Bearer {make_token('coordinator')}"}
    with httpx.Client(base_url=base + API, timeout=30) as http:

        def letter(headers: dict[str, str], slug: str, status: str = "open") -> None:
            body = {"slug": slug, "title": f"Letter {slug}", "lang": "en", "body": "We ask."}
            _ok(http.post("/letters", json=body | {"status": status}, headers=headers), 201)

        def sign(headers: dict[str, str], slug: str, body: dict[str, Any]) -> Any:
            response = http.post(f"/letters/{slug}/signatures", json=body, headers=headers)
            return _ok(response, 200, 201)

        letter(owner, "crawl-letter")
        letter(owner, "crawl-closed")
        letter(owner, "crawl-draft", status="draft")
        letter(other, "other-letter")
        signatures: list[dict[str, Any]] = []
        hidden: list[dict[str, Any]] = []
        signatures.append(sign(owner, "crawl-letter", {"organisation": {"name": "Open Named Org"}}))
        shared = {"organisation": {"name": "Shared Coalition", "other_names": ["SC Network"]}}
        signatures.append(sign(other, "other-letter", shared))
        signatures.append(sign(other, "other-letter", {"organisation": {"name": "B Named Org"}}))
        # Anonymous signers with an identity: an organisation with every kind of name and a
        # website, an individual, an anonymous display name, and one that is later withdrawn.
        hidden.append(
            sign(
                owner | {"Idempotency-Key": "crawl-hidden-1"},
                "crawl-letter",
                {"organisation": HIDDEN, "anonymous": True},
            )
        )
        person = {"name": f"{MARKER} Person", "kind": "individual", "country": "HK"}
        hidden.append(sign(owner, "crawl-letter", {"organisation": person, "anonymous": True}))
        printed = {
            "organisation": {"name": f"{MARKER} Printed Org"},
            "display_name": f"{MARKER} Printed As",
            "anonymous": True,
        }
        hidden.append(sign(owner, "crawl-letter", printed))
        # Its name shares no part with the others (a name splitter could otherwise resolve it
        # to one of them, and withdrawing it would withdraw that one); the website carries
        # the marker.
        gone_org = {"name": "Withdrawn Later Org", "website": f"https://{HOST_LABEL}-gone.example"}
        gone = sign(owner, "crawl-letter", {"organisation": gone_org, "anonymous": True})
        hidden.append(gone)
        _ok(http.delete(f"/letters/crawl-letter/signatures/{gone['id']}", headers=owner), 200)
        # The shared organisation signs this letter anonymously: its public page must not
        # list this letter.
        signatures.append(sign(owner, "crawl-letter", shared | {"anonymous": True}))
        signatures.append(sign(owner, "crawl-letter", {"anonymous": True}))
        hidden.append(
            sign(
                owner,
                "crawl-closed",
                {"organisation": {"name": f"{MARKER} Closed Org"}, "anonymous": True},
            )
        )
        _ok(http.patch("/letters/crawl-closed", json={"status": "closed"}, headers=owner), 200)
        first_hidden = hidden[0]["organisation_id"]
        _ok(
            http.post(
                f"/organisations/{first_hidden}/names",
                json={"name": f"{MARKER} Delta", "lang": "fr"},
                headers=owner,
            ),
            201,
        )
        # Sanity: the markers really are in the database and visible to their coordinator.
        for signed in hidden:
            page = http.get(f"/organisations/{signed['organisation_id']}", headers=owner)
            assert leaks(page.text), f"organisation {signed['organisation_id']} lacks the marker"
    signatures += hidden
    max_org = max(s["organisation_id"] or 0 for s in signatures)
    max_sig = max(s["id"] for s in signatures)
    return World(
        slugs=["crawl-letter", "crawl-closed", "crawl-draft", "other-letter", "no-such-letter"],
        organisation_ids=[*range(1, max_org + 2), MISSING_ID],
        signature_ids=[*range(1, max_sig + 2), MISSING_ID],
        hidden_organisation_ids=[h["organisation_id"] for h in hidden],
        hidden_signature_ids=[h["id"] for h in hidden],
        tokens={"owner": owner["Authorization"], "other": other["Authorization"]},
        shared_organisation_id=signatures[1]["organisation_id"],
    )


# --- what to send --------------------------------------------------------------------------


def path_values(name: str, schema: dict[str, Any], world: World) -> list[Any]:
    lowered = name.lower()
    if "slug" in lowered or lowered == "letter":
        return [*world.slugs, *HOSTILE_STRINGS[:2]]
    if "signature" in lowered:
        return world.signature_ids
    if "organisation" in lowered or "org" in lowered:
        return world.organisation_ids
    if schema.get("type") == "integer" or lowered.endswith("id"):
        return sorted({*world.organisation_ids, *world.signature_ids, 0, -1})
    return [*world.slugs, *HOSTILE_STRINGS]


def query_values(name: str, schema: dict[str, Any]) -> list[Any]:
    """A few plausible values per query parameter (one of them per request)."""
    lowered = name.lower()
    options = schema.get("anyOf", [schema])
    kinds = {o.get("type") for o in options}
    enum = next((o["enum"] for o in options if "enum" in o), None)
    if enum:
        return list(enum)
    if lowered in ("lang", "locale", "language"):
        return ["en", "zh-Hant", "fr", "ar"]
    if lowered in ("name", "q", "query", "search"):
        # Fuzzy probes, the exact hidden names, and hostile text.
        return ["Alpha Watch", HIDDEN["name"], f"{MARKER} Person", MARKER, *HOSTILE_STRINGS[:2]]
    if "boolean" in kinds:
        return [True, False]
    if "integer" in kinds:
        maximum = next((o.get("maximum") for o in options if "maximum" in o), None)
        return [1, 50 if maximum is None else min(int(maximum), 1000)]
    if lowered == "cursor":
        return ["1", "bogus"]
    return ["x"]


def request_variants(parameters: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """No query at all, then each query parameter's values one at a time."""
    yield {}
    for parameter in parameters:
        if parameter.get("in") == "query":
            for value in query_values(parameter["name"], parameter.get("schema", {})):
                yield {parameter["name"]: value}


def write_bodies(world: World) -> list[Any]:
    """Bodies a coordinator of another letter could try against any write route."""
    hidden_id = world.hidden_organisation_ids[0]
    return [
        {},
        {"organisation_id": hidden_id},
        {"organisation_id": hidden_id, "anonymous": True},
        {"survivor_id": hidden_id, "merged_ids": [world.hidden_organisation_ids[1]]},
        {"organisation_ids": world.hidden_organisation_ids[:2], "verdict": "different"},
        {"name": "Probe Name"},
    ]


# --- the crawl -----------------------------------------------------------------------------


def routes(base: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Schema operations, plus the app's routes that the schema leaves out (HTML pages)."""
    from fastapi.routing import iter_route_contexts

    from app.main import app

    schema = httpx.get(base + "/openapi.json", timeout=30).json()
    found: dict[str, dict[str, dict[str, Any]]] = {
        path: {m: op for m, op in ops.items() if isinstance(op, dict)}
        for path, ops in schema["paths"].items()
    }
    for context in iter_route_contexts(app.routes):
        if not context.path:
            continue
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", context.path)
        params = [
            {"name": p, "in": "path", "schema": {"type": "string"}}
            for p in re.findall(r"\{(\w+)\}", path)
        ]
        for method in sorted(context.methods or {"GET"}):
            found.setdefault(path, {}).setdefault(method.lower(), {"parameters": params})
    return found


def check(world: World, response: httpx.Response, who: str) -> None:
    world.requests += 1
    where = f"{who} {response.request.method} {response.request.url}"
    if response.status_code >= 500:
        world.problems.append(f"{where} -> {response.status_code}")
    header_text = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    for text, part in ((response.text, "body"), (header_text, "headers")):
        found = leaks(text)
        if found:
            world.problems.append(f"{where} -> {response.status_code} leaks {found} in {part}")


def crawl(base: str, world: World, who: str, headers: dict[str, str]) -> None:
    with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
        for path, operations in sorted(routes(base).items()):
            for method, operation in sorted(operations.items()):
                if method in ("head", "options"):
                    continue
                parameters = operation.get("parameters", [])
                path_params = [p for p in parameters if p.get("in") == "path"]
                choices = [path_values(p["name"], p.get("schema", {}), world) for p in path_params]
                for combination in itertools.product(*choices):
                    url = path
                    for parameter, value in zip(path_params, combination, strict=True):
                        url = url.replace("{" + parameter["name"] + "}", str(value))
                    if method == "get":
                        for params in request_variants(parameters):
                            check(world, http.get(url, params=params), who)
                    else:
                        for body in write_bodies(world):
                            check(world, http.request(method.upper(), url, json=body), who)
                        raw = http.request(
                            method.upper(),
                            url,
                            content=b"{bad",
                            headers={"content-type": "text/csv"},
                        )
                        check(world, raw, who)


def probe_hidden_organisations(base: str, world: World) -> None:
    """The other letter's coordinator names the hidden organisations outright."""
    headers = {"Authorization": world.tokens["other"]}
    with httpx.Client(base_url=base + API, headers=headers, timeout=30) as http:

        def expect(condition: bool, what: str, response: httpx.Response) -> None:
            if not condition:
                world.problems.append(f"probe: {what}: {response.status_code} {response.text}")

        for organisation_id in world.hidden_organisation_ids:
            page = http.get(f"/organisations/{organisation_id}")
            expect(page.status_code == 404, "a hidden organisation's page is not a 404", page)
        # Named on the other letter, anonymous on this one: its page must not list this one.
        shared = http.get(f"/organisations/{world.shared_organisation_id}")
        expect(shared.status_code == 200, "the shared organisation is public", shared)
        expect("crawl-letter" not in shared.text, "an anonymous signature is listed", shared)
        # Signing the hidden organisation's exact name must not link to it (that would confirm
        # it exists); this runs after the crawl because it creates a public signature.
        signed = http.post(
            "/letters/other-letter/signatures", json={"organisation": {"name": HIDDEN["name"]}}
        )
        expect(signed.status_code == 201, "signing a new name", signed)
        body = signed.json()
        linked = {body.get("organisation_id")} | {
            c["organisation_id"] for c in body.get("resolution", {}).get("candidates", [])
        }
        expect(
            not linked & set(world.hidden_organisation_ids),
            "signing the hidden name linked to the hidden organisation",
            signed,
        )
        expect(body.get("resolution", {}).get("status") == "new", "resolution is not new", signed)


@pytest.mark.slow
def test_markers_appear_in_no_response_and_no_log_line(
    engine, database_url: str, make_token, server_factory
) -> None:
    server = server_factory(
        database_url=database_url, env={"UNDERSIGNED_RATE_LIMIT_ENABLED": "false"}
    )
    server.start(log_level="debug")
    world = build_world(server.url, make_token)
    crawl(server.url, world, "public", {})
    crawl(server.url, world, "other-coordinator", {"Authorization": world.tokens["other"]})
    probe_hidden_organisations(server.url, world)
    crawled = set(routes(server.url))
    server.kill(15)
    log = server.log()
    assert "GET /api/v1/letters/crawl-letter" in log  # the access log was captured
    assert world.requests > 200
    assert {"/docs", "/openapi.json", "/api/v1/letters/{slug}/count"} <= crawled
    log_leaks = [line for line in log.splitlines() if leaks(line)]
    secrets_in_log = [t for t in (*world.tokens.values(), ADMIN_TOKEN) if t.split()[-1] in log]
    assert not world.problems, "\n".join(world.problems[:50])
    assert not log_leaks, "\n".join(log_leaks[:20])
    assert not secrets_in_log


def test_leak_detector_sees_escaped_forms() -> None:
    """The crawl would be vacuous if the detector missed escaped or re-cased markers."""
    assert leaks(json.dumps({"n": HIDDEN["name"]}, ensure_ascii=True))
    assert leaks(html.escape(f"<b>{HIDDEN['name']}</b>"))
    assert leaks(HIDDEN["website"].upper())
    assert leaks("/x?name=" + "%20".join(HIDDEN["name"].split()))
    assert not leaks("Open Named Org, Shared Coalition")
