"""Import every table model so that SQLModel.metadata (Alembic, tests) sees the whole schema."""

from app.admin.models import MergeRecord
from app.audit import AuditEvent
from app.auth.models import ApiToken, LetterGrant
from app.letters.models import Letter, LetterTranslation, LetterVersion
from app.organisations.models import Organisation, OrganisationName, RegistryState
from app.resolution.models import (
    DuplicateCandidate,
    IdentityCheck,
    Judgement,
    NameProposal,
)
from app.selfsign.models import SelfSignature, SelfSignToken
from app.signatures.models import IdempotencyRecord, Signature

__all__ = [
    "ApiToken",
    "AuditEvent",
    "DuplicateCandidate",
    "IdempotencyRecord",
    "IdentityCheck",
    "Judgement",
    "Letter",
    "LetterGrant",
    "LetterTranslation",
    "LetterVersion",
    "MergeRecord",
    "NameProposal",
    "Organisation",
    "OrganisationName",
    "RegistryState",
    "SelfSignToken",
    "SelfSignature",
    "Signature",
]
