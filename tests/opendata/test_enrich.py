"""`undersigned enrich` against a local stub of the Wikidata API serving a recorded answer
(the wbgetentities shape); offline it says so and changes nothing. Never the network."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select
from typer.testing import CliRunner

from app.cli import app as cli
from app.db import open_session
from app.opendata.models import NameSource
from app.organisations.models import OrganisationName
from tests.factories import sign

RECORDED = Path(__file__).resolve().parent / "recorded"
runner = CliRunner()


class _Stub(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict[str, list[str]]]] = []

    def do_GET(self) -> None:
        params = parse_qs(urlsplit(self.path).query)
        _Stub.requests.append(params)
        ids = params["ids"][0].split("|")
        entities: dict[str, object] = {}
        for qid in ids:
            path = RECORDED / f"wbgetentities-{qid}.json"
            if path.exists():
                entities |= json.loads(path.read_text())["entities"]
            else:
                entities[qid] = {"id": qid, "missing": ""}
        body = json.dumps({"entities": entities, "success": 1}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Stub.requests = []
    yield f"http://127.0.0.1:{server.server_address[1]}/w/api.php"
    server.shutdown()
    server.server_close()


def _setup(client: TestClient, coordinator_headers, admin_headers, make_letter) -> int:
    make_letter(coordinator_headers)
    hrw = sign(
        client, coordinator_headers, "test-letter", {"organisation": {"name": "Human Rights Watch"}}
    )["organisation_id"]
    sign(
        client,
        coordinator_headers,
        "test-letter",
        {"organisation": {"name": "Amnesty International"}},
    )
    added = client.post(
        f"/api/v1/organisations/{hrw}/identifiers",
        json={"identifier": "wikidata:Q630022"},
        headers=admin_headers,
    )
    assert added.status_code == 201
    return hrw


def _names(organisation_id: int) -> list[tuple[str, str | None]]:
    with open_session() as session:
        return [
            (n.name, n.lang)
            for n in session.exec(
                select(OrganisationName)
                .where(OrganisationName.organisation_id == organisation_id)
                .order_by(OrganisationName.id)
            )
        ]


def test_enrich_adds_labels_with_their_source(
    client: TestClient, coordinator_headers, admin_headers, make_letter, stub: str, database_url
) -> None:
    hrw = _setup(client, coordinator_headers, admin_headers, make_letter)
    result = runner.invoke(cli, ["enrich", "--api-url", stub, "--database", database_url])
    assert result.exit_code == 0, result.output
    assert _Stub.requests[0]["action"] == ["wbgetentities"]
    assert _Stub.requests[0]["ids"] == ["Q630022"]
    names = _names(hrw)
    assert ("人權觀察", "zh-Hant") in names
    # Its simplified spelling normalises to the same key (OpenCC): one name, not two.
    assert "人权观察" not in [n for n, _ in names]
    assert ("ヒューマン・ライツ・ウォッチ", "ja") in names
    assert ("Хьюман Райтс Вотч", "ru") in names
    assert ("هيومن رايتس ووتش", "ar") in names
    assert ("HRW", "en") in names and ("Helsinki Watch", "en") in names
    flat = [n for n, _ in names]
    # Another organisation's name, a two-letter acronym and markup are never added.
    assert "Amnesty International" not in flat and "HR" not in flat
    assert not any("<" in n for n in flat)
    assert flat.count("Human Rights Watch") == 1
    assert "6 names added to 1 organisations" in result.output
    assert "another organisation bears it" in result.output
    with open_session() as session:
        sources = session.exec(select(NameSource)).all()
        assert len(sources) == 6 and {s.source for s in sources} == {"wikidata:Q630022"}
    # The resolver knows the new names at once.
    match = client.get(
        "/api/v1/organisations/match", params={"name": "人權觀察"}, headers=coordinator_headers
    ).json()
    assert match[0]["organisation_id"] == hrw and match[0]["decision"] == "same"
    # Run again: nothing new.
    again = runner.invoke(cli, ["enrich", "--api-url", stub, "--database", database_url])
    assert again.exit_code == 0 and "0 names added" in again.output


def test_enrich_offline_says_so_and_changes_nothing(
    client: TestClient, coordinator_headers, admin_headers, make_letter, database_url
) -> None:
    hrw = _setup(client, coordinator_headers, admin_headers, make_letter)
    before = _names(hrw)
    # A port nobody listens on: the connection is refused, as without network.
    result = runner.invoke(
        cli, ["enrich", "--api-url", "http://127.0.0.1:9/w/api.php", "--database", database_url]
    )
    assert result.exit_code == 1
    assert "offline" in result.output and "nothing changed" in result.output
    assert _names(hrw) == before
