"""Response shapes of the partner endpoints."""

from pydantic import BaseModel


class CountPublic(BaseModel):
    letter: str
    total: int
    named: int
    anonymous: int
    updated_at: str
    locale: str
    text: str
