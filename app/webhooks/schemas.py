"""Request and response shapes of webhooks."""

from datetime import datetime

from pydantic import BaseModel, Field

from app.webhooks.service import EVENTS


class WebhookCreate(BaseModel):
    url: str = Field(max_length=2000, description="HTTPS URL of the receiver")
    events: list[str] = Field(max_length=10, description=f"Any of {', '.join(EVENTS)}")
    include_anonymous: bool = Field(
        default=False,
        description="Anonymous signers' organisations too (the letter's coordinators only)",
    )


class WebhookPublic(BaseModel):
    id: int
    letter: str
    url: str
    events: list[str]
    include_anonymous: bool
    paused: bool
    created_at: datetime


class WebhookCreatedPublic(WebhookPublic):
    secret: str = Field(description="HMAC-SHA256 key of the signatures: shown this once")


class WebhookUpdate(BaseModel):
    paused: bool


class DeliveryPublic(BaseModel):
    id: str
    event: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


class DeliveriesPublic(BaseModel):
    data: list[DeliveryPublic]
