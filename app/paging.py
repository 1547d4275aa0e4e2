"""Keyset paging, the one way every list pages: `limit`, an opaque `cursor` (the key of the last
row of the previous page) and `next_cursor` (null on the last page).

A keyset cursor, not an offset: a page read while rows are being added neither repeats nor skips
a row, and reading page 100 costs what page 1 costs.
"""

from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from sqlmodel import Session
from sqlmodel.sql.expression import SelectOfScalar

from app.errors import BadRequest

Row = TypeVar("Row")

Cursor = Annotated[
    str | None, Query(max_length=12, description="next_cursor of the previous page; empty: first")
]


@dataclass(frozen=True)
class Page(Generic[Row]):
    items: list[Row]
    next_cursor: str | None


def decode(cursor: str | None) -> int | None:
    if cursor is None or cursor == "":
        return None
    if not cursor.isdigit() or len(cursor) > 10:
        raise BadRequest("cursor must be a value returned as next_cursor", field="cursor")
    return int(cursor)


def keyset(
    session: Session,
    query: SelectOfScalar[Row],
    *,
    key: Any,  # the model's unique integer column, e.g. `Signature.position`
    limit: int,
    cursor: str | None,
    descending: bool = False,
) -> Page[Row]:
    """One page of `query` ordered by the unique integer column `key`."""
    after = decode(cursor)
    if after is not None:
        query = query.where(key < after if descending else key > after)
    ordered = query.order_by(key.desc() if descending else key).limit(limit + 1)
    rows = list(session.exec(ordered))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(items=rows, next_cursor=str(getattr(rows[-1], key.key)) if more else None)
