"""Import every table model so that SQLModel.metadata (Alembic, tests) sees the whole schema."""

from app.admin.models import MergeRecord
from app.audit import AuditEvent
from app.auth.models import ApiToken, LetterGrant
from app.letters.models import Letter, LetterTranslation, LetterVersion
from app.opendata.models import ExternalIdentifier, NameSource, OpendataSecret
from app.organisations.models import Organisation, OrganisationName, RegistryState
from app.resolution.models import (
    DuplicateCandidate,
    DuplicateQueueState,
    IdentityCheck,
    Judgement,
    NameNegative,
    NameProposal,
)
from app.selfsign.models import SelfSignature, SelfSignToken
from app.signatures.models import IdempotencyRecord, Signature
from app.webhooks.models import WebhookDelivery, WebhookSubscription

__all__ = [
    "ApiToken",
    "AuditEvent",
    "DuplicateCandidate",
    "DuplicateQueueState",
    "ExternalIdentifier",
    "IdempotencyRecord",
    "IdentityCheck",
    "Judgement",
    "Letter",
    "LetterGrant",
    "LetterTranslation",
    "LetterVersion",
    "MergeRecord",
    "NameNegative",
    "NameProposal",
    "NameSource",
    "OpendataSecret",
    "Organisation",
    "OrganisationName",
    "RegistryState",
    "SelfSignToken",
    "SelfSignature",
    "Signature",
    "WebhookDelivery",
    "WebhookSubscription",
]
