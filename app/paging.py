"""Paging, the one way every list pages: `limit`, an opaque `cursor` and `next_cursor` (null on
the last page).

`keyset` is the rule: the cursor is the key of the last row of the previous page, so a page read
while rows are being added neither repeats nor skips a row, and page 100 costs what page 1 costs.
`ranked` is the one exception, for public lists that number their entries (decision 0085):
there the key (a real position) would tell where hidden entries sit, so the cursor is the
number of public entries already listed.
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


def ranked(
    session: Session, query: SelectOfScalar[Row], *, limit: int, cursor: str | None
) -> tuple[Page[Row], int]:
    """One page of an already ordered public `query`, and the public number of its first row
    minus one (what the page's numbering starts after)."""
    start = decode(cursor) or 0
    rows = list(session.exec(query.offset(start).limit(limit + 1)))
    more = len(rows) > limit
    return Page(items=rows[:limit], next_cursor=str(start + limit) if more else None), start
