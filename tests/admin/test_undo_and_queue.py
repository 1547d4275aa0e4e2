"""Undo refusals when later changes forbid an exact undo; the duplicate queue; the audit log."""

from fastapi.testclient import TestClient

from tests.factories import API, merge, sign


def test_undo_refused_after_later_changes(client: TestClient, admin_headers, make_letter) -> None:
    make_letter(admin_headers, slug="first")
    a = sign(client, admin_headers, "first", {"organisation": {"name": "Alpha Watch"}})
    b = sign(
        client,
        admin_headers,
        "first",
        {"organisation": {"name": "Alpha Watch Kenya"}, "anonymous": True},
    )
    c = sign(client, admin_headers, "first", {"organisation": {"name": "Gamma Forum"}})
    first = merge(client, admin_headers, a["organisation_id"], [b["organisation_id"]])
    assert first.status_code == 201
    # Both signed: one live signature remains, anonymous because one of them was.
    count = client.get(f"{API}/letters/first/count").json()
    assert (count["named"], count["anonymous"]) == (1, 1)
    later = merge(client, admin_headers, a["organisation_id"], [c["organisation_id"]])
    assert later.status_code == 201
    refused = client.post(
        f"{API}/admin/merges/{first.json()['merge_id']}/undo", headers=admin_headers
    )
    assert refused.status_code == 409 and refused.json()["error"] == "undo_impossible"
    assert f"undo merge {later.json()['merge_id']} first" in refused.json()["detail"]
    # Undo in reverse order works.
    assert (
        client.post(
            f"{API}/admin/merges/{later.json()['merge_id']}/undo",
            json={"record_different": False},
            headers=admin_headers,
        ).status_code
        == 200
    )
    # A signature the merge moved is withdrawn afterwards: undo cannot restore exactly.
    letter_sigs = client.get(f"{API}/letters/first/signatures", headers=admin_headers).json()[
        "data"
    ]
    kept = next(s for s in letter_sigs if s["organisation_id"] == a["organisation_id"])
    assert (
        client.delete(
            f"{API}/letters/first/signatures/{kept['id']}", headers=admin_headers
        ).status_code
        == 200
    )
    refused = client.post(
        f"{API}/admin/merges/{first.json()['merge_id']}/undo", headers=admin_headers
    )
    assert refused.status_code == 409
    assert (
        f"signature {kept['id']} changed after the merge (withdrawn_at)" in refused.json()["detail"]
    )
    # The refusal wrote nothing: the merge is still in force.
    assert (
        client.get(
            f"{API}/organisations/{b['organisation_id']}",
            headers=admin_headers,
            follow_redirects=False,
        ).status_code
        == 308
    )


def test_queue_suggests_acronyms_and_forgets_judged_clusters(
    client: TestClient, admin_headers, make_letter
) -> None:
    make_letter(admin_headers, slug="queue")
    ids = {}
    for name in (
        "Human Rights in China",
        "HRIC",
        "International Service for Human Rights",
        # Initials read with a stopword (F for "for"): suggested, never linked (ISHR, from the
        # words that are not stopwords, would link to the long name: decision 0080).
        "ISFHR",
        "台灣人權促進會",
        "台湾人权促进会",
        "Amnesty International",
        "Amnesty International Taiwan",
    ):
        ids[name] = sign(client, admin_headers, "queue", {"organisation": {"name": name}})[
            "organisation_id"
        ]
    response = client.get(f"{API}/admin/duplicates?limit=50", headers=admin_headers)
    assert response.status_code == 200
    groups = {tuple(g["organisation_ids"]): g for g in response.json()["data"]}

    def group(x: str, y: str) -> dict | None:
        return groups.get(tuple(sorted((ids[x], ids[y]))))

    hric = group("HRIC", "Human Rights in China")
    assert hric is not None and any("acronym" in r for r in hric["reasons"])
    # Traditional and simplified forms are one name to the resolver: signing linked them.
    assert ids["台灣人權促進會"] == ids["台湾人权促进会"]
    scores = [g["score"] for g in response.json()["data"]]
    assert scores == sorted(scores, reverse=True)
    chapter = group("Amnesty International", "Amnesty International Taiwan")
    assert chapter is None or chapter["score"] < 90
    assert {o["id"] for o in hric["organisations"]} == {ids["HRIC"], ids["Human Rights in China"]}

    # A ≠ B, then B merged with C: A–C is never asked.
    judged = client.post(
        f"{API}/admin/judgements",
        json={
            "organisation_ids": [ids["ISFHR"], ids["International Service for Human Rights"]],
            "verdict": "different",
        },
        headers=admin_headers,
    )
    assert judged.status_code == 201
    assert (
        merge(
            client, admin_headers, ids["HRIC"], [ids["International Service for Human Rights"]]
        ).status_code
        == 201
    )
    again = client.get(f"{API}/admin/duplicates?limit=50", headers=admin_headers).json()["data"]
    pairs = {tuple(g["organisation_ids"]) for g in again}
    assert tuple(sorted((ids["ISFHR"], ids["HRIC"]))) not in pairs
    assert tuple(sorted((ids["ISFHR"], ids["International Service for Human Rights"]))) not in pairs
    assert all(ids["International Service for Human Rights"] not in p for p in pairs)


def test_audit_lists_every_write_without_anonymous_identity(
    client: TestClient, admin_headers, coordinator_headers, make_letter
) -> None:
    make_letter(coordinator_headers, slug="audited")
    client.patch(f"{API}/letters/audited", json={"declared_total": 3}, headers=coordinator_headers)
    named = sign(client, coordinator_headers, "audited", {"organisation": {"name": "Open Org"}})
    hidden = sign(
        client,
        coordinator_headers,
        "audited",
        {"organisation": {"name": "Hidden Org"}, "anonymous": True},
    )
    client.post(
        f"{API}/organisations/{named['organisation_id']}/names",
        json={"name": "OO"},
        headers=coordinator_headers,
    )
    client.delete(f"{API}/letters/audited/signatures/{named['id']}", headers=coordinator_headers)
    page = client.get(f"{API}/admin/audit?limit=3", headers=admin_headers)
    assert page.status_code == 200
    first = page.json()
    assert len(first["data"]) == 3 and first["next_cursor"]
    rest = client.get(
        f"{API}/admin/audit?limit=50&cursor={first['next_cursor']}", headers=admin_headers
    ).json()
    events = first["data"] + rest["data"]
    ids = [e["id"] for e in events]
    assert ids == sorted(ids, reverse=True)
    actions = [e["action"] for e in reversed(events)]
    assert actions == [
        "letter.create",
        "letter.update",
        "signature.create",
        "signature.create",
        "organisation.add_name",
        "signature.withdraw",
    ]
    assert all(e["actor"].startswith("token:") for e in events)
    text = page.text + str(rest)
    assert "Hidden Org" not in text
    anonymous_event = next(e for e in events if e["target_id"] == str(hidden["id"]))
    assert "organisation_id" not in anonymous_event["details"]
    assert str(hidden["organisation_id"]) not in str(anonymous_event["details"])
