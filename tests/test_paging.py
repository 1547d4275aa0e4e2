"""The one paging helper: every row once across pages, in key order, and a bad cursor is a 400
that names the field (checked through the audit list, which uses it like every list)."""

from typing import Any

from fastapi.testclient import TestClient

from tests.factories import API, create_letter


def test_pages_cover_every_row_once_newest_first(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    for index in range(7):
        create_letter(client, admin_headers, slug=f"paged-{index}")
    seen: list[int] = []
    cursor: Any = None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"{API}/admin/audit", params=params, headers=admin_headers).json()
        seen += [event["id"] for event in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) >= 7
    assert seen == sorted(seen, reverse=True)


def test_a_cursor_not_given_by_the_api_names_the_field(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    for bad in ("abc", "-1", "1" * 11):
        response = client.get(f"{API}/admin/audit", params={"cursor": bad}, headers=admin_headers)
        assert response.status_code in (400, 422), response.text
        assert response.json()["field"] == "cursor"


def test_letters_page_by_rank_and_the_cursor_hides_drafts(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    """The public letter list pages through every public letter once; its cursors are the same
    whether drafts were created in between or not (they count public letters, not ids)."""
    for index in range(5):
        create_letter(client, admin_headers, slug=f"public-{index}")
        create_letter(client, admin_headers, slug=f"draft-{index}", status="draft")
    seen: list[str] = []
    cursors: list[str] = []
    cursor: Any = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"{API}/letters", params=params).json()
        seen += [letter["slug"] for letter in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        cursors.append(cursor)
    assert sorted(seen) == [f"public-{i}" for i in range(5)]
    assert cursors == ["2", "4"]
