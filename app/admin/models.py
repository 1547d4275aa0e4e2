"""Merges of organisations, undoable from their snapshot."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow


class MergeRecord(SQLModel, table=True):
    __tablename__ = "merge_record"

    id: int | None = Field(default=None, primary_key=True)
    survivor_id: int = Field(foreign_key="organisation.id", index=True)
    merged_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Everything needed to restore the state before the merge exactly.
    snapshot: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    actor: str = Field(max_length=40)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    undone_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    undone_by: str | None = Field(default=None, max_length=40)
