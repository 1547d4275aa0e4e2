"""POST /letters/{slug}/imports end to end, on both databases."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, text
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from app.audit import AuditEvent
from app.config import get_settings
from app.db import open_session
from app.organisations.models import Organisation, OrganisationName, RegistryState
from app.resolution.models import DuplicateCandidate
from app.signatures.models import Signature

DATA = Path(__file__).parent / "data"
SEED_PASTE = (DATA / "seed004_signatories.txt").read_bytes()
HEADER = "position,name,other_names,kind,lang,country,website,anonymous\n"
CSV = {"Content-Type": "text/csv"}
TEXT = {"Content-Type": "text/plain; charset=utf-8"}


def post_import(
    client: TestClient,
    headers: dict[str, str],
    slug: str,
    body: bytes | str,
    content_type: dict[str, str] = CSV,
    **params: str,
):  # type: ignore[no-untyped-def]
    data = body.encode("utf-8") if isinstance(body, str) else body
    return client.post(
        f"/api/v1/letters/{slug}/imports",
        content=data,
        headers=headers | content_type,
        params=params,
    )


def snapshot(engine: Engine) -> dict[str, Any]:
    """Row counts of everything an import could write, plus the registry version."""
    with open_session() as s:
        counts: dict[str, Any] = {
            model.__name__: s.scalar(select(func.count()).select_from(model))
            for model in (Organisation, OrganisationName, Signature, AuditEvent, DuplicateCandidate)
        }
        counts["registry"] = s.exec(select(RegistryState.version)).one()
        counts["letters"] = s.execute(text("SELECT slug, revision FROM letter ORDER BY id")).all()
    return counts


def signatures_of(slug: str) -> list[tuple[int, int | None, bool, str | None]]:
    with open_session() as s:
        rows = s.execute(
            text(
                "SELECT s.position, s.organisation_id, s.anonymous, s.display_name "
                "FROM signature s JOIN letter l ON l.id = s.letter_id "
                "WHERE l.slug = :slug AND s.withdrawn_at IS NULL ORDER BY s.position"
            ),
            {"slug": slug},
        ).all()
    return [(r[0], r[1], bool(r[2]), r[3]) for r in rows]


def test_seed_loader_uses_the_import(client: TestClient, seeded: str) -> None:
    count = client.get(f"/api/v1/letters/{seeded}/count").json()
    assert (count["total"], count["named"], count["anonymous"]) == (320, 281, 39)
    rows = signatures_of(seeded)
    assert [r[0] for r in rows] == list(range(1, 321))
    assert all(r[1] is None and r[2] for r in rows[281:])
    with open_session() as s:
        sources = set(s.exec(select(Signature.source)))
    assert sources == {"seed"}


def test_seed_paste_dry_run_against_the_seed_letter(
    client: TestClient, admin_headers, seeded: str, engine: Engine
) -> None:
    before = snapshot(engine)
    response = post_import(client, admin_headers, seeded, SEED_PASTE, TEXT, dry_run="true")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["format"] == "text" and report["dry_run"] and not report["applied"]
    assert len(report["rows"]) == 281
    assert {r["status"] for r in report["rows"]} == {"already_signed"}
    by_position = {r[0]: r[1] for r in signatures_of(seeded)}
    for index, row in enumerate(report["rows"], start=1):
        assert row["position"] == index
        assert row["organisation_id"] == by_position[index], row
        assert row["signature_position"] == index
    assert report["summary"]["already_signed"] == 281
    assert report["summary"]["signatures_created"] == 0
    assert report["notes"] == [
        {"line": 304, "text": "*連署團體共計 321 個。然而，其中有 39 個組織選擇匿名。"}
    ]
    assert snapshot(engine) == before


def test_seed_paste_into_a_new_letter(
    client: TestClient, admin_headers, seeded: str, make_letter, engine: Engine
) -> None:
    make_letter(admin_headers, slug="second-letter")
    dry = post_import(client, admin_headers, "second-letter", SEED_PASTE, TEXT, dry_run="true")
    assert dry.status_code == 200, dry.text
    assert dry.json()["summary"]["existing"] == 281
    assert dry.json()["summary"]["organisations_to_create"] == 0
    organisations = snapshot(engine)["Organisation"]
    real = post_import(client, admin_headers, "second-letter", SEED_PASTE, TEXT)
    assert real.status_code == 200, real.text
    summary = real.json()["summary"]
    assert summary["signatures_created"] == 281 and summary["organisations_created"] == 0
    assert snapshot(engine)["Organisation"] == organisations
    seed_rows = signatures_of(seeded)[:281]
    new_rows = signatures_of("second-letter")
    assert [(r[0], r[1]) for r in new_rows] == [(r[0], r[1]) for r in seed_rows]
    count = client.get("/api/v1/letters/second-letter/count").json()
    assert (count["total"], count["anonymous"]) == (281, 0)


def test_export_import_round_trip(
    client: TestClient, admin_headers, seeded: str, make_letter
) -> None:
    exported = client.get(f"/api/v1/letters/{seeded}/export.csv", headers=admin_headers)
    assert exported.status_code == 200
    assert exported.headers["cache-control"] == "no-store"
    make_letter(admin_headers, slug="round-trip")
    response = post_import(client, admin_headers, "round-trip", exported.content)
    assert response.status_code == 200, response.text
    assert response.json()["summary"]["organisations_created"] == 0
    assert signatures_of("round-trip") == signatures_of(seeded)
    again = client.get("/api/v1/letters/round-trip/export.csv", headers=admin_headers)
    assert again.text == exported.text


def test_importing_the_same_file_twice_creates_nothing_the_second_time(
    client: TestClient, coordinator_headers, make_letter, engine: Engine
) -> None:
    make_letter(coordinator_headers)
    body = (
        HEADER
        + "1,Alpha Network,Alfa|AN,organisation,en,TW,alpha.example.org,false\n"
        + "2,Beta Fund,,organisation,,,,true\n"
        + "3,,,,,,,true\n"
        + "4,Gamma Collective,,individual,,,,false\n"
        + "5,,,,,,,true\n"
    )
    first = post_import(client, coordinator_headers, "test-letter", body)
    assert first.status_code == 200, first.text
    assert first.json()["summary"]["signatures_created"] == 5
    assert first.json()["positions"] == "kept"
    before = snapshot(engine)
    second = post_import(client, coordinator_headers, "test-letter", body)
    assert second.status_code == 200, second.text
    assert {r["status"] for r in second.json()["rows"]} == {"already_signed"}
    assert second.json()["summary"]["signatures_created"] == 0
    after = snapshot(engine)
    assert {k: v for k, v in after.items() if k not in ("AuditEvent", "letters")} == {
        k: v for k, v in before.items() if k not in ("AuditEvent", "letters")
    }
    count = client.get("/api/v1/letters/test-letter/count").json()
    assert (count["total"], count["named"], count["anonymous"]) == (5, 2, 3)


def test_anonymous_rows_of_another_list_are_not_taken_for_existing_ones(
    client: TestClient, coordinator_headers, make_letter
) -> None:
    make_letter(coordinator_headers)
    assert (
        post_import(
            client,
            coordinator_headers,
            "test-letter",
            HEADER + "1,Alpha,,,,,,false\n2,,,,,,,true\n",
        ).status_code
        == 200
    )
    # Another partner's list numbered from 1: its anonymous signer is someone else.
    other = post_import(
        client, coordinator_headers, "test-letter", HEADER + "1,Delta,,,,,,false\n2,,,,,,,true\n"
    )
    assert [r["status"] for r in other.json()["rows"]] == ["new", "anonymous"]
    assert other.json()["positions"] == "appended"
    assert [r[0] for r in signatures_of("test-letter")] == [1, 2, 3, 4]


def test_dry_run_writes_nothing_and_finds_in_file_duplicates(
    client: TestClient, coordinator_headers, make_letter, engine: Engine
) -> None:
    make_letter(coordinator_headers)
    body = (
        HEADER
        + "1,Fresh Org,,,,,,false\n"
        + "2,Other Org,,,,,,false\n"
        + "3,FRESH  org,,,,,,false\n"
        + "4,,,,,,,true\n"
    )
    before = snapshot(engine)
    dry = post_import(client, coordinator_headers, "test-letter", body, dry_run="true")
    assert dry.status_code == 200, dry.text
    rows = dry.json()["rows"]
    assert [r["status"] for r in rows] == ["new", "new", "duplicate_in_file", "anonymous"]
    assert rows[2]["duplicate_of_line"] == 2 and rows[2]["organisation_id"] is None
    assert [r["signature_position"] for r in rows] == [1, 2, None, 4]
    assert dry.json()["summary"]["organisations_to_create"] == 2
    assert snapshot(engine) == before
    # Nothing of the dry run lingers for later resolutions either.
    signed = client.post(
        "/api/v1/letters/test-letter/signatures",
        json={"organisation": {"name": "Fresh Org"}},
        headers=coordinator_headers,
    )
    assert signed.status_code == 201 and signed.json()["resolution"]["status"] == "new"

    real = post_import(client, coordinator_headers, "test-letter", body)
    rows = real.json()["rows"]
    assert [r["status"] for r in rows] == [
        "already_signed",
        "new",
        "duplicate_in_file",
        "anonymous",
    ]
    assert rows[0]["organisation_id"] == signed.json()["organisation_id"]
    assert real.json()["summary"]["organisations_created"] == 1


def test_refused_name_is_an_error_row_and_nothing_is_imported(
    client: TestClient, coordinator_headers, make_letter, engine: Engine
) -> None:
    make_letter(coordinator_headers)
    body = (
        HEADER
        + "1,Good Org,,,,,,false\n"
        + "2,Evil \u202eOrg,,,,,,false\n"
        + "3,Bad Country Org,,,,XX,,false\n"
        + "4,Another Good Org,,,,,,false\n"
    )
    before = snapshot(engine)
    refused = post_import(client, coordinator_headers, "test-letter", body)
    assert refused.status_code == 400
    payload = refused.json()
    assert payload["error"] == "import_has_errors" and payload["field"] == "body"
    errors = [r for r in payload["report"]["rows"] if r["status"] == "error"]
    assert [(r["line"], r["reason"].split(":")[0]) for r in errors] == [
        (3, "name"),
        (4, "country"),
    ]
    assert "\u202e" not in errors[0]["reason"]
    assert not payload["report"]["applied"]
    assert snapshot(engine) == before

    skipped = post_import(client, coordinator_headers, "test-letter", body, skip_errors="true")
    assert skipped.status_code == 200
    assert skipped.json()["summary"]["signatures_created"] == 2
    assert skipped.json()["positions"] == "kept"
    assert [r[3] for r in signatures_of("test-letter")] == ["Good Org", "Another Good Org"]


def test_a_crash_during_an_import_leaves_nothing(
    client: TestClient,
    coordinator_headers,
    make_letter,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.main import app
    from app.signatures import service as signature_service

    make_letter(coordinator_headers)
    body = HEADER + "".join(f"{i},Org number {i},,,,,,false\n" for i in range(1, 21))
    calls = {"n": 0}
    real = signature_service.resolve_or_create

    def crash_on_the_tenth(*args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 10:
            raise RuntimeError("simulated crash")
        return real(*args, **kwargs)

    monkeypatch.setattr(signature_service, "resolve_or_create", crash_on_the_tenth)
    before = snapshot(engine)
    with TestClient(app, raise_server_exceptions=False) as crashing:
        response = post_import(crashing, coordinator_headers, "test-letter", body)
    assert response.status_code == 500
    assert calls["n"] == 10
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    ("body", "content_type", "status", "error", "mentions"),
    [
        (HEADER.encode() + b"1,Caf\xe9 Org,,,,,,false\n", CSV, 400, "invalid_encoding", "line 2"),
        (b"position,kind\n1,organisation\n", CSV, 400, "missing_columns", "name"),
        (b"", CSV, 400, "empty_file", "empty"),
        (b"\xef\xbb\xbf\n\n", TEXT, 400, "empty_file", "empty"),
        (HEADER.encode(), CSV, 400, "empty_file", "no rows"),
        (b"1. Alpha\n", {"Content-Type": "application/json"}, 415, "unsupported_media_type", "csv"),
        (b"1. Alpha\n", {"Content-Type": "text/plain; charset=latin-1"}, 415, "", "UTF-8"),
    ],
)
def test_bad_input(
    client: TestClient,
    coordinator_headers,
    make_letter,
    engine: Engine,
    body: bytes,
    content_type: dict[str, str],
    status: int,
    error: str,
    mentions: str,
) -> None:
    make_letter(coordinator_headers)
    before = snapshot(engine)
    response = post_import(client, coordinator_headers, "test-letter", body, content_type)
    assert response.status_code == status, response.text
    assert set(response.json()) >= {"error", "detail", "field"}
    assert response.json()["error"] == (error or "unsupported_media_type")
    assert mentions in response.json()["detail"]
    assert snapshot(engine) == before


def test_body_over_the_limit_is_413_declared_or_streamed(
    client: TestClient, coordinator_headers, make_letter, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_letter(coordinator_headers)
    monkeypatch.setattr(get_settings(), "max_body_bytes", 1000)
    big = (HEADER + "".join(f"{i},Org {i},,,,,,false\n" for i in range(1, 200))).encode()
    declared = post_import(client, coordinator_headers, "test-letter", big)
    assert declared.status_code == 413 and declared.json()["error"] == "payload_too_large"

    def chunks():  # type: ignore[no-untyped-def]
        for start in range(0, len(big), 100):
            yield big[start : start + 100]

    streamed = client.post(
        "/api/v1/letters/test-letter/imports",
        content=chunks(),
        headers=coordinator_headers | CSV,
    )
    assert streamed.status_code == 413
    assert client.get("/api/v1/letters/test-letter/count").json()["total"] == 0


def test_default_limit_is_ten_megabytes() -> None:
    assert get_settings().max_body_bytes == 10 * 1024 * 1024


def test_who_may_import(
    client: TestClient, coordinator_headers, make_letter, make_token: Callable[..., str]
) -> None:
    make_letter(coordinator_headers)
    body = HEADER + "1,Alpha,,,,,,false\n"
    assert post_import(client, {}, "test-letter", body).status_code == 401
    stranger = {"Authorization": f"Bearer {make_token('coordinator')}"}
    assert post_import(client, stranger, "test-letter", body).status_code == 403
    granted = {"Authorization": f"Bearer {make_token('coordinator', ['test-letter'])}"}
    assert post_import(client, granted, "test-letter", body).status_code == 200


def test_closed_letter_refuses_a_real_import_but_plans_one(
    client: TestClient, coordinator_headers, make_letter
) -> None:
    make_letter(coordinator_headers)
    closed = client.patch(
        "/api/v1/letters/test-letter", json={"status": "closed"}, headers=coordinator_headers
    )
    assert closed.status_code == 200
    body = HEADER + "1,Alpha,,,,,,false\n"
    assert post_import(client, coordinator_headers, "test-letter", body).status_code == 409
    dry = post_import(client, coordinator_headers, "test-letter", body, dry_run="true")
    assert dry.status_code == 200 and dry.json()["rows"][0]["status"] == "new"


def test_existing_organisation_and_audit(
    client: TestClient, coordinator_headers, make_letter
) -> None:
    make_letter(coordinator_headers)
    make_letter(coordinator_headers, slug="other-letter")
    signed = client.post(
        "/api/v1/letters/other-letter/signatures",
        json={"organisation": {"name": "Access Now"}},
        headers=coordinator_headers,
    )
    report = post_import(
        client, coordinator_headers, "test-letter", "1. ACCESS now\n2. Hidden Group\n", TEXT
    ).json()
    first = report["rows"][0]
    assert first["status"] == "existing"
    assert first["organisation_id"] == signed.json()["organisation_id"]
    assert first["score"] == 100.0
    with open_session() as s:
        actions = list(s.exec(select(AuditEvent.action).order_by(col(AuditEvent.id))))
    assert actions[-3:] == ["signature.create", "signature.create", "letter.import"]


def _secret_and_outsider(
    client: TestClient, coordinator_headers: dict[str, str], make_token, make_letter
) -> tuple[int, dict[str, str]]:  # type: ignore[no-untyped-def]
    """An organisation known only through an anonymous signature on one coalition's letter,
    and the coordinator of another letter."""
    make_letter(coordinator_headers, slug="brave-letter")
    make_letter(coordinator_headers, slug="other-letter")
    secret = client.post(
        "/api/v1/letters/brave-letter/signatures",
        json={"organisation": {"name": "Qx9 Exile Network"}, "anonymous": True},
        headers=coordinator_headers,
    ).json()
    outsider = {"Authorization": f"Bearer {make_token('coordinator', letters=['other-letter'])}"}
    return int(secret["organisation_id"]), outsider


def _rows_naming(report: dict[str, Any], organisation_id: int) -> list[dict[str, Any]]:
    return [
        row
        for row in report["rows"]
        if row["organisation_id"] == organisation_id
        or any(c["organisation_id"] == organisation_id for c in row["candidates"])
    ]


def test_an_import_never_links_to_an_organisation_hidden_from_its_coordinator(
    client: TestClient, coordinator_headers: dict[str, str], make_token, make_letter
) -> None:  # type: ignore[no-untyped-def]
    secret, outsider = _secret_and_outsider(client, coordinator_headers, make_token, make_letter)
    # The letter's own coordinator may link to it.
    mine = post_import(
        client,
        coordinator_headers,
        "brave-letter",
        HEADER + "1,Qx9 Exile Network,,,,,,false\n",
        dry_run="true",
    ).json()
    assert (mine["rows"][0]["status"], mine["rows"][0]["organisation_id"]) == (
        "already_signed",
        secret,
    )
    body = HEADER + "1,Qx9 Exile Network,,,,,,false\n2,Qx9 Exile Netwrk,,,,,,false\n"
    for dry_run in ("true", "false"):
        response = post_import(client, outsider, "other-letter", body, dry_run=dry_run)
        assert response.status_code == 200, response.text
        report = response.json()
        assert _rows_naming(report, secret) == []
        assert f'"organisation_id":{secret},' not in response.text.replace(" ", "")
        assert report["rows"][0]["status"] == "new"


def test_rows_for_review_create_queued_organisations_that_later_rows_find(
    client: TestClient, coordinator_headers: dict[str, str], make_letter
) -> None:  # type: ignore[no-untyped-def]
    """New organisations of an import are written together at the end of its plan, except
    when one must be queued for review at once (the queue refers to it)."""
    make_letter(coordinator_headers, slug="first-letter")
    make_letter(coordinator_headers, slug="second-letter")
    known = client.post(
        "/api/v1/letters/first-letter/signatures",
        json={"organisation": {"name": "Lantern Rights Watch Kenya"}},
        headers=coordinator_headers,
    ).json()["organisation_id"]
    body = (
        HEADER + "1,Lantern Rights Watch,,,,,,false\n"
        "2,Orchard Harbour Collective,,,,,,false\n"
        "3,Lantern Rights Watch,,,,,,false\n"
        "4,orchard harbour collective,,,,,,false\n"
    )
    report = post_import(client, coordinator_headers, "second-letter", body).json()
    statuses = [(r["status"], r["duplicate_of_line"]) for r in report["rows"]]
    assert statuses == [
        ("needs_review", None),
        ("new", None),
        ("duplicate_in_file", 2),
        ("duplicate_in_file", 3),
    ]
    assert report["rows"][0]["candidates"][0]["organisation_id"] == known
    created = [report["rows"][0]["organisation_id"], report["rows"][1]["organisation_id"]]
    with open_session() as s:
        names = {
            n.organisation_id: n.name
            for n in s.exec(
                select(OrganisationName).where(col(OrganisationName.organisation_id).in_(created))
            )
        }
        pairs = [(c.organisation_a, c.organisation_b) for c in s.exec(select(DuplicateCandidate))]
    assert names == {
        created[0]: "Lantern Rights Watch",
        created[1]: "Orchard Harbour Collective",
    }
    assert pairs == [tuple(sorted((known, created[0])))]
    assert [s[1] for s in signatures_of("second-letter")] == created


def test_a_csv_with_only_name_and_country_imports(
    client: TestClient, coordinator_headers, make_letter
) -> None:
    make_letter(coordinator_headers)
    body = "name,country\nTaiwan Association for Human Rights,TW\nHong Kong Watch,GB\n"
    response = post_import(client, coordinator_headers, "test-letter", body.encode(), CSV)
    assert response.status_code == 200, response.text
    assert response.json()["summary"]["new"] == 2
    listed = client.get("/api/v1/letters/test-letter/signatories").json()["data"]
    assert [s["name"] for s in listed] == ["Taiwan Association for Human Rights", "Hong Kong Watch"]
